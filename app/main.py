"""cnnviz entry point: frames every page (navigation, sidebar) and runs the chosen lesson."""
from __future__ import annotations

import streamlit as st

from app import nav, state, urlstate  # the project is installed in .venv (pyproject.toml), so no sys.path edits

st.set_page_config(page_title="cnnviz: see inside a CNN", page_icon="🧠", layout="wide",
                   initial_sidebar_state="collapsed" if urlstate.teacher_mode() else "auto")  # no flash of it

page = st.navigation(nav.sections())
# Pictures in one st.image list keep apart. The layer grids of Inside a model are painted only once they come near
# the screen: they start far below it, and 10 browsers decoding them at one upload cost the machine ~11% more CPU.
# While a page runs, a still hourglass stands in for Streamlit's running figure, which a timer redraws 5 times a
# second in every browser (measured in one browser: 10 ms of CPU per second of waiting; a class waits together).
st.html("<style>[data-testid='stImage'] {gap: 0.5rem 1rem;} .st-key-layer_maps [data-testid='stImageContainer'] "
        "{content-visibility: auto; contain-intrinsic-size: auto 620px auto 340px;} "
        "[data-testid='stStatusWidgetRunningIcon'] {display: none;} "
        "[data-testid='stStatusWidget'] {display: flex; flex-direction: row; align-items: center;} "
        "[data-testid='stStatusWidget']::before {content: '⏳'; margin-right: 0.4rem;}</style>")
urlstate.apply_teacher_mode()
state.tidy_sessions()
page.run()
state.sidebar_footer()  # after the page, so warming PyTorch up never delays the first lesson
