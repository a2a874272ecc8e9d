"""Predict, then reveal: a form in which the student locks in an answer before the page works it out.

Each answer sits in a slot (e.g. "size", or one step of a lesson) together with the question it answers (the
settings it was given for): a slot whose question changed is asked again.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import streamlit as st

ANSWERS = "_quiz_answers"  # slot -> (question, the answers locked in)


def locked_in(slot: Hashable, question: Hashable = None) -> list[Any] | None:
    """The answers locked in for this slot and question, or None while there are none."""
    done = st.session_state.setdefault(ANSWERS, {}).get(slot)
    return done[1] if done and done[0] == question else None


def ask(slot: Hashable, inputs: Callable[[], list[Any]], button: str, empty: str, question: Hashable = None,
        intro: str | None = None) -> None:
    """The form: `inputs` draws its boxes and returns their values; locking them in reruns the page.

    A box left empty (None) gets the warning `empty` instead.
    """
    with st.form(f"quiz_{abs(hash(slot))}", border=True):
        if intro:
            st.markdown(f"#### 🤔 {intro}")
        answers = inputs()
        if st.form_submit_button(button, type="primary"):
            if None in answers:
                st.warning(empty, icon="👆")
            else:
                st.session_state[ANSWERS][slot] = (question, answers)
                st.rerun()
