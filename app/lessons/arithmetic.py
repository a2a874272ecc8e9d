"""Lesson: conv arithmetic. Output sizes with the formula worked out, solving for a setting, a network's table, and
what grouped, depthwise and separable convolutions cost beside a plain one (and which channels each one reads).

The size calculator and the solver are plain arithmetic; PyTorch is imported only when the network table is
shown (it checks the table against a real torch model). The maths is cnnviz's, the display app/views/arithmetic.py's.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import state, urlstate
from app.views import arithmetic as view
from cnnviz.lessons import arithmetic as ar
from cnnviz.lessons import groups as gr
from cnnviz.nets import limits, netspec, tables

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
urlstate.init(DEFAULTS | preset_fields(st.query_params.get("preset")), allowed=ALLOWED)


def bounds(key: str) -> dict[str, int]:
    """A number box's range (for urlstate.control): the one its link is checked against."""
    return {"min_value": ALLOWED[key].start, "max_value": ALLOWED[key].stop - 1, "step": 1}


def size_calculator() -> None:
    st.markdown("#### How big is the output of a layer? Height and width are worked out separately.")
    height, width = input_size()
    steps = ar.run_chain(height, width, ar.parse_chain(st.session_state["chain"]))
    if steps:
        view.chain_table(steps, remove_layer, disabled=urlstate.locked("chain"))
        if steps[-1].size_out is None:
            return  # the table says which layer is impossible and why
        height, width = steps[-1].size_out
        st.markdown(f"**Layer {len(steps) + 1}** works on the output of layer {len(steps)}: **{height} × {width}**")
    next_layer(height, width, len(steps))


def input_size() -> tuple[int, int]:
    """The input's height and width; while it is square, typing one side moves the other."""
    if st.session_state["square"]:
        st.session_state["w"] = st.session_state["h"]
    return view.size_boxes(match, bounds)


def match(key: str, to: str) -> None:
    """Give `key` the value of `to` while the input is square (the other side was just typed)."""
    if st.session_state["square"]:
        st.session_state[key] = st.session_state[to]


def next_layer(height: int, width: int, done: int) -> None:
    """One layer worked out on `height` × `width` (after `done` layers of the chain), and a button that adds it."""
    op = urlstate.control("segmented_control", "Operation", "op", options=ar.OPS, format_func=ar.OP_TITLES.get,
                          required=True, help=view.HELP["op"])
    along_h, along_w = layer_settings(op)
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
        st.button("➕ Add this layer to the chain", key="add_layer", on_click=add_layer,
                  args=(ar.ChainLayer(op, along_h, along_w),), help=view.HELP["add"],
                  disabled=urlstate.locked("chain") or done >= ar.CHAIN_LENGTH)
    st.code(ar.pytorch_code(op, along_h, along_w, (height, width), out), language="python", wrap_lines=True)


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


def solver() -> None:
    st.markdown("#### Know the sizes you want? Find every setting that gives them.")
    view.examples({"op": "sop", "unknown": "unk", "size_in": "sin", "size_out": "sout", **SOLVE_KEYS})
    op = urlstate.control("segmented_control", "Operation", "sop", options=ar.OPS, format_func=ar.OP_TITLES.get,
                          required=True, help=view.HELP["op"])
    urlstate.confine("unk", ar.SETTINGS[op], "padding")  # e.g. output_padding, left by the transposed convolution
    unknown = urlstate.control("radio", "Solve for", "unk", options=list(ar.SETTINGS[op]), horizontal=True,
                               format_func=lambda n: n.replace("_", " "), help=view.HELP["unknown"])
    size_in, size_out, known = view.solver_inputs(op, unknown, SOLVE_KEYS, bounds)
    try:
        found = ar.solve(op, unknown, size_in, size_out, **known)
    except ValueError as exc:
        st.error(f"**Cannot solve this:** {exc}", icon="🚫")
        return
    view.solutions(found)


def grouped_costs() -> None:
    st.markdown("#### What does each kind of convolution cost?")
    numbers = view.group_inputs(GROUP_KEYS, bounds)
    try:
        found = gr.costs(**numbers, bias=st.session_state["gbias"])
    except ValueError as exc:
        view.impossible_groups(exc, numbers["c_in"], numbers["c_out"], lambda g: st.session_state.update(g=g))
        return
    view.cost_table(found)
    view.cost_chart(found)
    st.info(gr.mobilenet_sentence(numbers["c_out"], numbers["kernel"]), icon="📱")
    view.kinds_explained()
    st.markdown("#### Which input channels does one output channel read?")
    kind = urlstate.control("segmented_control", "Kind of layer", "gkind", options=gr.KINDS, format_func=gr.SHORT.get,
                            required=True, help="The layer whose wiring is drawn below.")
    cost = found[gr.KINDS.index(kind)]
    urlstate.confine("gout", range(1, cost.c_out + 1), min(st.session_state["gout"], cost.c_out))
    out = urlstate.control("number_input", "Output channel", "gout", min_value=1, max_value=cost.c_out, step=1,
                           width=view.BOX + 22, help="One of the layer's output channels: the band that leads to it "
                                                     "is drawn dark.")
    view.wiring(cost, numbers, out - 1)


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
        view.refused(exc, st.session_state["net"], st.session_state["shape"])
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
if part in ("size", "table"):
    urlstate.control("toggle", "🤔 Predict first: lock in your answer before the page works it out", "quiz",
                     help="Output size: type the size you worked out by hand. Network table: the shapes and counts "
                          "stay hidden until you have typed the total number of parameters.")
{"size": size_calculator, "solve": solver, "table": network_table, "groups": grouped_costs}[part]()
for key, value in preset_fields(st.session_state["preset"]).items():
    urlstate.set_default(key, value)  # the chosen preset's own layers need no words in the link
urlstate.publish()
