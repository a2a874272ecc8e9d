"""The app's pages: one list that the sidebar, the links between lessons and the tests all read."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from app import urlstate

LESSONS = Path(__file__).resolve().parent / "lessons"

# (section, file under app/lessons, title, icon); the file's stem is the page's address (/convolution).
PAGES = [
    ("Start", "home.py", "Welcome", "👋"),
    ("Convolution", "convolution.py", "Step through a convolution", "🔢"),
    ("Convolution", "pooling.py", "Pooling", "🔽"),
    ("Convolution", "transposed.py", "Transposed convolution", "🔼"),
    ("Convolution", "backward.py", "The backward pass", "⬅️"),
    ("Convolution", "segment.py", "Segmentation (U-Net)", "🧩"),
    ("Convolution", "filters_on_image.py", "Kernels on a picture", "🖼️"),
    ("Convolution", "arithmetic.py", "Conv arithmetic", "📐"),
    ("Train", "train.py", "Train a model", "🏋️"),
    ("Train", "teach.py", "Teach it your classes", "🧑‍🏫"),
    ("Train", "compare.py", "Compare runs", "📈"),
    ("Inside a model", "inside.py", "Inside a model", "🔬"),
    ("Inside a model", "why.py", "Why it answers", "💡"),
    ("Inside a model", "fool.py", "Fool the network", "🎭"),
    ("What it learned", "channels.py", "What a channel learned", "🧠"),
    ("What it learned", "projector.py", "Embedding projector", "🌌"),
    ("Evaluate", "dataset.py", "Dataset explorer", "🗂️"),
    ("Evaluate", "evaluate.py", "Evaluate a model", "🎯"),
]


def page(stem: str) -> Any:
    """The navigation's page object of lesson `stem` ("inside"): what links and jumps between lessons name."""
    _, file, title, icon = next(p for p in PAGES if Path(p[1]).stem == stem)
    return st.Page(str(LESSONS / file), title=title, icon=icon, url_path=stem)


def sections() -> dict[str, list[Any]]:
    """The sidebar's sections, each with its pages in order."""
    found: dict[str, list[Any]] = {}
    for section, file, _, _ in PAGES:
        found.setdefault(section, []).append(page(Path(file).stem))
    return found


def sidebar() -> None:
    """The page links in the sidebar, section by section. Drawn by hand: Streamlit's own page list puts `div`s
    between its `ul` and `li`s, which screen readers cannot follow (axe-core: serious `list` and `listitem`)."""
    with st.sidebar.container(gap=None):
        for section, pages in sections().items():
            st.markdown(f"<div class='cv-nav-section'>{section}</div>", unsafe_allow_html=True)
            for lesson in pages:
                st.page_link(lesson, width="stretch")


LEFT = "_nav_left"  # (the address `go` leaves behind on its way out, the address it replaced)


def carried(query: dict[str, str]) -> dict[str, str]:
    """`query` with this link's teacher mode (`teacher`, `lock`, `hide`): a projector view stays one from lesson to
    lesson. The lesson's own parameters win."""
    return {**{key: st.query_params[key] for key in urlstate.RESERVED if key in st.query_params}, **query}


def link(stem: str, label: str, where: Any = st, **query: str) -> None:
    """A link to another lesson with `query` as its address's parameters, shown with that lesson's icon
    (`where`: a column or container to put it in)."""
    where.page_link(page(stem), label=label, query_params=carried(query))


def go(stem: str, **query: str) -> None:
    """Open another lesson now, with `query` as its address's parameters; Back returns to this page as the student
    left it, when the page calls `came_back` first."""
    query = carried(query)
    # st.switch_page first rewrites this page's address to `query`, one more step in the browser's history: Back
    # lands there, on this page without its settings, unless came_back() puts them back
    st.session_state[LEFT] = (query, st.query_params.to_dict())
    st.switch_page(page(stem), query_params=query)


def came_back() -> None:
    """Back from a lesson that `go` opened: the address the switch left behind becomes the one the student left
    (call it before `urlstate.init` reads the address); during Back, Streamlit replaces that step, adding none."""
    left = st.session_state.get(LEFT)
    if left is not None and urlstate.history_step() and st.query_params.to_dict() == left[0]:
        st.query_params.from_dict(left[1])
