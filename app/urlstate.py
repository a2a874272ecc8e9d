"""Page state in the URL, so a copied address shows the same view; and teacher mode (hidden/locked controls).

Usage in a page:
    urlstate.init({"pad": 1, "stride": 1, "preset": "Sobel x"})   # before the widgets
    st.slider("Padding", 0, 5, key="pad", disabled=urlstate.locked("pad"))
    urlstate.publish()                                           # after the widgets
"""
from __future__ import annotations

from typing import Any

import streamlit as st

_KEYS = "_urlstate_keys"
RESERVED = ("teacher", "lock", "hide")  # teacher=1 hides the sidebar; lock=a,b disables; hide=a,b hides


def _parse(raw: str, default: Any) -> Any:
    """Turn a query-string value into the type of `default`; fall back to `default` if it does not parse."""
    try:
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, (list, tuple)):
            return [type(default[0])(v) if default else v for v in raw.split(",") if v != ""]
        return raw
    except ValueError:
        return default


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def init(defaults: dict[str, Any]) -> None:
    """Seed session_state from the URL (first visit) or `defaults`, and remember the keys to publish."""
    st.session_state[_KEYS] = list(defaults)
    for key, default in defaults.items():
        if key not in st.session_state:
            raw = st.query_params.get(key)
            st.session_state[key] = default if raw is None else _parse(raw, default)


def publish() -> None:
    """Write the current values of this page's keys into the address bar (only those that changed)."""
    for key in st.session_state.get(_KEYS, []):
        if key in st.session_state:
            text = _format(st.session_state[key])
            if st.query_params.get(key) != text:
                st.query_params[key] = text


def _listed(param: str) -> set[str]:
    return {v for v in st.query_params.get(param, "").split(",") if v}


def teacher_mode() -> bool:
    """True when the link asks for the projector view (`?teacher=1`)."""
    return st.query_params.get("teacher", "0") in ("1", "true")


def locked(key: str) -> bool:
    """True when the link locks this control (`?lock=pad,stride`); use as the widget's `disabled=`."""
    return key in _listed("lock")


def hidden(key: str) -> bool:
    """True when the link hides this control (`?hide=pad`); the page then skips drawing it."""
    return key in _listed("hide")


def apply_teacher_mode() -> None:
    """Hide the sidebar and its toggle in teacher mode, leaving the lesson alone on the screen."""
    if teacher_mode():
        st.html("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'],"
                "[data-testid='stExpandSidebarButton'] {display: none;}</style>")
