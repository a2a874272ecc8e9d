"""cnnviz entry point: frames every page (navigation, sidebar) and runs the chosen lesson."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts app/ first on the path, not the project root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import state, urlstate  # noqa: E402

st.set_page_config(page_title="cnnviz: see inside a CNN", page_icon="🧠", layout="wide",
                   initial_sidebar_state="collapsed" if urlstate.teacher_mode() else "auto")  # no flash of it

# (section, file under app/lessons, title, icon); a page appears once its file exists.
PAGES = [
    ("Start", "home.py", "Welcome", "👋"),
    ("Convolution", "convolution.py", "Step through a convolution", "🔢"),
    ("Convolution", "pooling.py", "Pooling", "🔽"),
    ("Convolution", "transposed.py", "Transposed convolution", "🔼"),
    ("Convolution", "filters_on_image.py", "Kernels on a picture", "🖼️"),
    ("Convolution", "arithmetic.py", "Conv arithmetic", "📐"),
    ("Train", "train.py", "Train a model", "🏋️"),
    ("Train", "compare.py", "Compare runs", "📈"),
    ("Inside a model", "inside.py", "Inside a model", "🔬"),
    ("Evaluate", "dataset.py", "Dataset explorer", "🗂️"),
    ("Evaluate", "evaluate.py", "Evaluate a model", "🎯"),
]


def navigation() -> dict[str, list[st.Page]]:
    """The sections of the sidebar, each with the pages that exist."""
    sections: dict[str, list[st.Page]] = {}
    for section, file, title, icon in PAGES:
        path = ROOT / "app" / "lessons" / file
        if path.is_file():
            sections.setdefault(section, []).append(
                st.Page(str(path), title=title, icon=icon, url_path=path.stem))
    return sections


page = st.navigation(navigation())
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
