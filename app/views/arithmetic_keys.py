"""Conv arithmetic's link schema: each part's keys, their defaults and the values a link may set, and the boxes of
each operation's own settings (so switching back to an operation finds its boxes as left)."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import urlstate
from app.views import arithmetic as view
from cnnviz.lessons import arithmetic as ar
from cnnviz.lessons import groups as gr
from cnnviz.nets import netspec

PARTS = {"size": "📏 Output size", "solve": "🔍 Solve backwards", "table": "📋 Network table",
         "groups": "🧩 Grouped & separable"}
SOURCES = {"describe": "✏️ Describe a network", "zoo": "🦁 A zoo model"}
SIZE_KEYS = {"kernel": "k", "padding": "p", "stride": "s", "dilation": "d", "output_padding": "opad"}
PREFIXES = {"conv": "", "maxpool": "m", "avgpool": "a", "transposed": "t"}  # each operation's own boxes: k, mk, ak, tk
OP_DEFAULTS = {  # where each operation starts: a size-keeping convolution, halving pools, a doubling transposed one
    "conv": {"kernel": 5, "padding": 2, "stride": 1, "dilation": 1},
    "maxpool": {"kernel": 2, "padding": 0, "stride": 2, "dilation": 1},
    "avgpool": {"kernel": 2, "padding": 0, "stride": 2},
    "transposed": {"kernel": 4, "padding": 1, "stride": 2, "dilation": 1, "output_padding": 0},
}
SOLVE_KEYS = {"kernel": "sk", "padding": "sp", "stride": "ss", "dilation": "sd", "output_padding": "sopad"}
DEFAULT_PRESET = "cifar_cnn"
GROUP_KEYS = {"c_in": "cin", "c_out": "cout", "kernel": "gk", "height": "gh", "width": "gw", "groups": "g"}


def size_key(op: str, name: str, along_width: bool = False) -> str:
    """The box (and link key) of one operation's setting: switching back to an operation finds its boxes as left."""
    return PREFIXES[op] + SIZE_KEYS[name] + ("w" if along_width else "")


def preset_fields(name: str | None) -> dict[str, str]:
    """The layers and input shape a preset fills in: what a link that names only the preset means."""
    preset = netspec.PRESETS.get(name or DEFAULT_PRESET) or netspec.PRESETS[DEFAULT_PRESET]
    return {"net": preset.text, "shape": preset.shape_text}


def chain_link(text: str) -> bool:
    """Whether a link's chain of layers reads (parse_chain's ValueError says no: urlstate then falls back)."""
    ar.parse_chain(text)
    return True


DEFAULTS: dict[str, Any] = {
    "part": "size",
    # output size calculator: the chain's input, each operation's settings (the width's used when the axes differ)
    "op": "conv", "h": 32, "w": 32, "square": True, "split": False, "mceil": False, "aceil": False, "chain": "",
    **{size_key(op, n, w): v for op, given in OP_DEFAULTS.items() for w in (False, True) for n, v in given.items()},
    # solve backwards
    "sop": "conv", "unk": "padding", "sin": 32, "sout": 32, "sk": 5, "sp": 0, "ss": 1, "sd": 1, "sopad": 0,
    "sceil": False, "sskern": False,
    # network table
    "src": "describe", "preset": DEFAULT_PRESET, **preset_fields(DEFAULT_PRESET), "zoo": "cifar_cnn", "quiz": False,
    # grouped and separable: MobileNet's first separable layer (112 × 112, 32 → 64 channels), the wiring of one kind
    "cin": 32, "cout": 64, "gk": 3, "gh": 112, "gw": 112, "g": 4, "gbias": True, "gkind": "grouped", "gout": 1,
}


def zoo_model(name: str) -> bool:
    """Whether a link's `zoo=` names a zoo model (PyTorch comes with the zoo: imported only for such a link)."""
    import models

    return name in models.names()


ALLOWED: dict[str, Any] = {
    "part": PARTS, "op": ar.OPS, "sop": ar.OPS, "src": SOURCES, "preset": netspec.PRESETS, "zoo": zoo_model,
    "unk": lambda name: name in ar.SETTINGS[st.session_state["sop"]],  # the settings of the operation it solves
    "chain": chain_link,
    **{key: ar.RANGES["size"] for key in ("h", "w", "sin", "sout")},
    **{size_key(op, n, w): ar.RANGES[n] for op, given in OP_DEFAULTS.items() for w in (False, True) for n in given},
    **{key: ar.RANGES[n] for n, key in SOLVE_KEYS.items()},
    "cin": gr.RANGES["channels"], "cout": gr.RANGES["channels"], "gk": ar.RANGES["kernel"], "gh": ar.RANGES["size"],
    "gw": ar.RANGES["size"], "g": gr.RANGES["groups"], "gkind": gr.KINDS, "gout": gr.RANGES["channels"],
}
def bounds(key: str) -> dict[str, int]:
    """A number box's range (for urlstate.control): the one its link is checked against."""
    return {"min_value": ALLOWED[key].start, "max_value": ALLOWED[key].stop - 1, "step": 1}


def layer_settings(op: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The operation's own settings along the height and along the width (the same unless the width differs)."""
    with st.container(horizontal=True, gap="large"):
        urlstate.control("toggle", "Width differs", "split", help=view.HELP["split"])
        if pool := op in ("maxpool", "avgpool"):
            urlstate.control("toggle", "ceil_mode", PREFIXES[op] + "ceil", help=view.HELP["ceil"])
    split = st.session_state["split"]
    along_h = view.settings_row({n: size_key(op, n) for n in ar.SETTINGS[op]},
                                "Height" if split else "Height and width", bounds)
    along_w = (view.settings_row({n: size_key(op, n, True) for n in ar.SETTINGS[op]}, "Width", bounds) if split
               else dict(along_h))
    if pool:
        along_h["ceil_mode"] = along_w["ceil_mode"] = bool(st.session_state[PREFIXES[op] + "ceil"])
    return along_h, along_w


def add_layer(layer: ar.ChainLayer) -> None:
    """Put the layer just worked out at the end of the chain: the next one starts from its output."""
    st.session_state["chain"] = ar.chain_text([*ar.parse_chain(st.session_state["chain"]), layer])


def remove_layer(index: int) -> None:
    """Take layer `index` (from 0) out of the chain: the layers after it start from the size before it."""
    layers = ar.parse_chain(st.session_state["chain"])
    del layers[index]
    st.session_state["chain"] = ar.chain_text(layers)
