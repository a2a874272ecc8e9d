"""The app's pages: one list that the sidebar, the links between lessons and the tests all read."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

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


def link(stem: str, label: str, where: Any = st) -> None:
    """A link to another lesson, shown with that lesson's icon (`where`: a column or container to put it in)."""
    where.page_link(page(stem), label=label)


def go(stem: str, **query: str) -> None:
    """Open another lesson now, with `query` as its address's parameters."""
    st.switch_page(page(stem), query_params=query)
