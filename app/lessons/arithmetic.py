"""Lesson: conv arithmetic. Output sizes with the formula worked out, solving for a setting, and a network's table.

The size calculator and the solver are plain arithmetic; PyTorch is imported only when the network table is
shown (it checks the table against a real torch model). The maths is cnnviz's, the display app/views/arithmetic.py's.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import state, urlstate
from app.views import arithmetic as view
from cnnviz.lessons import arithmetic as ar
from cnnviz.nets import limits, netspec, tables

PARTS = {"size": "📏 Output size", "solve": "🔍 Solve backwards", "table": "📋 Network table"}
SOURCES = {"describe": "✏️ Describe a network", "zoo": "🦁 A zoo model"}
SIZE_KEYS = {"kernel": "k", "padding": "p", "stride": "s", "dilation": "d", "output_padding": "opad"}  # + "w": width
SOLVE_KEYS = {"kernel": "sk", "padding": "sp", "stride": "ss", "dilation": "sd", "output_padding": "sopad"}
DEFAULT_PRESET = "cifar_cnn"


def preset_fields(name: str | None) -> dict[str, str]:
    """The layers and input shape a preset fills in: what a link that names only the preset means."""
    preset = netspec.PRESETS.get(name or DEFAULT_PRESET) or netspec.PRESETS[DEFAULT_PRESET]
    return {"net": preset.text, "shape": preset.shape_text}


DEFAULTS: dict[str, Any] = {
    "part": "size",
    # output size calculator (the width keys are used when the axes differ)
    "op": "conv", "h": 32, "w": 32, "k": 5, "p": 2, "s": 1, "d": 1, "opad": 0, "ceil": False, "split": False,
    "kw": 5, "pw": 2, "sw": 1, "dw": 1, "opadw": 0,
    # solve backwards
    "sop": "conv", "unk": "padding", "sin": 32, "sout": 32, "sk": 5, "sp": 0, "ss": 1, "sd": 1, "sopad": 0,
    "sceil": False, "sskern": False,
    # network table
    "src": "describe", "preset": DEFAULT_PRESET, **preset_fields(DEFAULT_PRESET), "zoo": "cifar_cnn", "quiz": False,
}


def zoo_model(name: str) -> bool:
    """Whether a link's `zoo=` names a zoo model (PyTorch comes with the zoo: imported only for such a link)."""
    import models

    return name in models.names()


ALLOWED: dict[str, Any] = {
    "part": PARTS, "op": ar.OPS, "sop": ar.OPS, "src": SOURCES, "preset": netspec.PRESETS, "zoo": zoo_model,
    "unk": lambda name: name in ar.SETTINGS[st.session_state["sop"]],  # the settings of the operation it solves
    **{key: range(1, 4097) for key in ("h", "w", "sin", "sout")},
    **{key: range(1, 65) for key in ("k", "kw", "s", "sw", "sk", "ss")},
    **{key: range(0, 65) for key in ("p", "pw", "sp", "opad", "opadw", "sopad")},
    **{key: range(1, 17) for key in ("d", "dw", "sd")},
}
urlstate.init(DEFAULTS | preset_fields(st.query_params.get("preset")), allowed=ALLOWED)


def bounds(key: str) -> dict[str, int]:
    """A number box's range (for urlstate.control): the one its link is checked against."""
    return {"min_value": ALLOWED[key].start, "max_value": ALLOWED[key].stop - 1, "step": 1}


def size_calculator() -> None:
    st.markdown("#### How big is the output of a layer? Height and width are worked out separately.")
    op = urlstate.control("segmented_control", "Operation", "op", options=ar.OPS, format_func=ar.OP_TITLES.get,
                          required=True)
    top = st.columns([1, 1, 1.6, 1.6, 1])
    height = urlstate.control("number_input", "Input height", "h", top[0], **bounds("h"))
    width = urlstate.control("number_input", "Input width", "w", top[1], **bounds("w"))
    view.toggle_beside(top[2], "Width differs", "split", "Different kernel, padding, stride... for the width")
    if pool := op in ("maxpool", "avgpool"):
        view.toggle_beside(top[3], "ceil_mode", "ceil", "Round the division up instead of down.")
    split, keys = st.session_state["split"], {n: SIZE_KEYS[n] for n in ar.SETTINGS[op]}
    along_h = view.settings_row(keys, "Height" if split else "Height and width", bounds)
    along_w = view.settings_row({n: k + "w" for n, k in keys.items()}, "Width", bounds) if split else dict(along_h)
    if pool:
        along_h["ceil_mode"] = along_w["ceil_mode"] = bool(st.session_state["ceil"])
    st.markdown("**The formula**")
    st.latex(ar.formula_latex(op, bool(along_h.get("ceil_mode"))))
    worked = ar.work_out(op, height, width, along_h, along_w)
    said = None
    if st.session_state["quiz"] and all(w.working is not None for w in worked):
        question = (op, height, width, tuple(along_h.items()), tuple(along_w.items()))
        said = view.answers("size", question, [f"Output {w.axis}" for w in worked],
                            "Work it out by hand: how big is the output?")
        if said is None:
            return
    view.worked_axes(worked, said)
    out = ar.output_hw(worked)
    if None not in out:
        st.success(f"### Output: {out[0]} × {out[1]}  (from {height} × {width})")
    st.code(ar.pytorch_code(op, along_h, along_w, (height, width), out), language="python")


def solver() -> None:
    st.markdown("#### Know the sizes you want? Find every setting that gives them.")
    view.examples({"op": "sop", "unknown": "unk", "size_in": "sin", "size_out": "sout", **SOLVE_KEYS})
    op = urlstate.control("segmented_control", "Operation", "sop", options=ar.OPS, format_func=ar.OP_TITLES.get,
                          required=True)
    urlstate.confine("unk", ar.SETTINGS[op], "padding")  # e.g. output_padding, left by the transposed convolution
    unknown = urlstate.control("radio", "Solve for", "unk", options=list(ar.SETTINGS[op]), horizontal=True,
                               format_func=lambda n: n.replace("_", " "))
    size_in, size_out, known = view.solver_inputs(op, unknown, SOLVE_KEYS, bounds)
    try:
        found = ar.solve(op, unknown, size_in, size_out, **known)
    except ValueError as exc:
        st.error(f"**Cannot solve this:** {exc}", icon="🚫")
        return
    view.solutions(found)


def network_table() -> None:
    st.markdown("#### Every layer's output shape, parameters, multiply-adds and receptive field.")
    source = urlstate.control("segmented_control", "Network", "src", options=list(SOURCES), format_func=SOURCES.get,
                              required=True, label_visibility="collapsed")
    (zoo_table if source == "zoo" else described_table)()


def described_table() -> None:
    view.description(lambda: st.session_state.update(preset_fields(st.session_state["preset"])))
    try:
        layers, shape, table = limits.described_table(st.session_state["net"], st.session_state["shape"])
    except ValueError as exc:  # or limits.TooLarge, a ValueError too
        view.refused(exc)
        return
    text = netspec.to_text(layers)
    hidden = view.parameters_hidden((text, shape), table.total_params)
    view.layer_table(table, hidden, "layers.csv")
    view.described_check(table, *state.described_layer_table(text, shape), hidden)


def zoo_table() -> None:
    import models  # PyTorch comes with the zoo: only this part of the lesson needs it

    name = urlstate.control("selectbox", "Zoo model", "zoo", options=models.names(),
                            format_func=lambda n: models.ZOO[n].title)
    entry = models.ZOO[name]
    st.caption(f"{entry.about} Input {tables.shape_text(entry.input_shape)}. Untrained weights: sizes and counts do "
               "not depend on them.")
    table, numel = state.zoo_layer_table(name)
    hidden = view.parameters_hidden(("zoo", name), table.total_params)
    view.layer_table(table, hidden, f"layers-{name}.csv")
    view.zoo_check(table, numel, hidden)


st.html(view.LARGE_TEXT_CSS)
st.title("📐 Conv arithmetic")
part = urlstate.control("segmented_control", "Part", "part", options=list(PARTS), format_func=PARTS.get,
                        required=True, label_visibility="collapsed")
if part != "solve":
    urlstate.control("toggle", "🤔 Predict first: lock in your answer before the page works it out", "quiz",
                     help="Output size: type the size you worked out by hand. Network table: the shapes and counts "
                          "stay hidden until you have typed the total number of parameters.")
{"size": size_calculator, "solve": solver, "table": network_table}[part]()
for key, value in preset_fields(st.session_state["preset"]).items():
    urlstate.set_default(key, value)  # the chosen preset's own layers need no words in the link
urlstate.publish()
