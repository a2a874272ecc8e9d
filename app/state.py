"""The page edge: every st.cache_* and shared session_state helper lives here, nowhere else."""
from __future__ import annotations

import sys
import threading
from typing import Any

import streamlit as st


@st.cache_resource(show_spinner=False)
def _torch_warmup() -> threading.Thread:
    """Import PyTorch once per process in the background, so NumPy-only lessons show at once."""
    thread = threading.Thread(target=lambda: __import__("cnnviz.device"), daemon=True, name="torch-warmup")
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def device_info() -> dict[str, str]:
    """Compute device and library versions (needs PyTorch imported)."""
    from cnnviz.device import describe

    return describe()


def sidebar_footer() -> None:
    """Device and versions at the bottom of the sidebar; never blocks on importing PyTorch."""
    warm = _torch_warmup()
    with st.sidebar:
        st.divider()
        if "torch" in sys.modules and not warm.is_alive():
            info = device_info()
            st.caption(f"**Compute:** {info['device']}  \n"
                       f"Python {info['python']} · PyTorch {info['torch']} · torchvision {info['torchvision']}")
        else:
            st.caption("**Compute:** PyTorch is loading in the background…")


@st.cache_resource(show_spinner="Loading the trained model…")
def zoo_model(name: str) -> Any:
    """A shipped zoo model, loaded once per process and shared read-only (eval mode, no gradients)."""
    import models

    model = models.load(name)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@st.cache_resource(show_spinner="Loading the data set (first time: decoding images)…")
def dataset(name: str, split: str) -> Any:
    """A whole data split as uint8 tensors, shared read-only by every session."""
    from cnnviz import data

    return data.load(name, split)
