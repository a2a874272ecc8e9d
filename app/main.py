"""cnnviz entry point: frames every page (navigation, sidebar) and runs the chosen lesson."""
from __future__ import annotations

import streamlit as st

# the project is installed in .venv (pyproject.toml), so no sys.path edits
from app import nav, sessions, state, urlstate

st.set_page_config(page_title="cnnviz: see inside a CNN", page_icon="🧠", layout="wide",
                   initial_sidebar_state="collapsed" if urlstate.teacher_mode() else "auto")  # no flash of it

page = st.navigation(nav.sections(), position="hidden")
nav.sidebar()
# Pictures in one st.image list keep apart. The layer grids of Inside a model are painted only once they come near
# the screen: they start far below it, and 10 browsers decoding them at one upload cost the machine ~11% more CPU.
# While a page runs, a still hourglass stands in for Streamlit's running figure, which a timer redraws 5 times a
# second in every browser (measured in one browser: 10 ms of CPU per second of waiting; a class waits together).
st.html("<style>[data-testid='stImage'] {gap: 0.5rem 1rem;} .st-key-layer_maps [data-testid='stImageContainer'] "
        "{content-visibility: auto; contain-intrinsic-size: auto 620px auto 340px;} "
        "[data-testid='stStatusWidgetRunningIcon'] {display: none;} "
        "[data-testid='stStatusWidget'] {display: flex; flex-direction: row; align-items: center;} "
        "[data-testid='stStatusWidget']::before {content: '⏳'; margin-right: 0.4rem;} "
        ".cv-nav-section {font-size: 0.85rem; font-weight: 600; color: #31333f; padding: 0.8rem 0 1.1rem;}</style>")
# A formula or code line wider than a phone scrolls sideways; a keyboard can only scroll what it can focus
# (axe-core: serious scrollable-region-focusable), so each one is made focusable, however often Streamlit redraws it.
# Vega draws a brush's rectangles as unnamed pictures (axe-core: serious svg-img-alt): they are decoration.
FOCUSABLE = ("const cvFocus = () => { document.querySelectorAll('.katex-display:not([tabindex]), pre:not([tabindex])')"
             ".forEach(e => e.setAttribute('tabindex', '0')); document.querySelectorAll('g.role-mark[class*=\"brush_\"]"
             ":not([aria-hidden])').forEach(e => e.setAttribute('aria-hidden', 'true')); }; cvFocus();"
             " if (!window.cvFocusable) {"
             " window.cvFocusable = new MutationObserver(cvFocus);"
             " window.cvFocusable.observe(document.body, {childList: true, subtree: true}); }")
st.html(f"<script>{FOCUSABLE}</script>", unsafe_allow_javascript=True)
urlstate.apply_teacher_mode()
state.tidy_sessions()
state.remember_browser()
sessions.tell_if_lost()
page.run()
state.sidebar_footer()  # after the page, so warming PyTorch up never delays the first lesson
