"""Lesson: conv arithmetic. Output sizes with the formula worked out, solving for a setting, a network's table, and
what grouped, depthwise and separable convolutions cost beside a plain one (and which channels each one reads).

The size calculator and the solver are plain arithmetic; PyTorch is imported only when the network table is
shown (it checks the table against a real torch model). The maths is cnnviz's, the display app/views/arithmetic.py's.
"""
from __future__ import annotations

import streamlit as st

from app import state, urlstate
from app.views import arithmetic as view
from app.views import arithmetic_keys as keys
from cnnviz.lessons import arithmetic as ar
from cnnviz.lessons import groups as gr
from cnnviz.nets import limits, netspec, tables

urlstate.init(keys.DEFAULTS | keys.preset_fields(st.query_params.get("preset")), allowed=keys.ALLOWED)


def size_calculator() -> None:
    st.markdown("#### How big is the output of a layer? Height and width are worked out separately.")
    height, width = input_size()
    steps = ar.run_chain(height, width, ar.parse_chain(st.session_state["chain"]))
    if steps:
        view.chain_table(steps, keys.remove_layer, disabled=urlstate.locked("chain"))
        if steps[-1].size_out is None:
            return  # the table says which layer is impossible and why
        height, width = steps[-1].size_out
        st.markdown(f"**Layer {len(steps) + 1}** works on the output of layer {len(steps)}: **{height} × {width}**")
    next_layer(height, width, len(steps))


def input_size() -> tuple[int, int]:
    """The input's height and width; while it is square, typing one side moves the other."""
    if st.session_state["square"]:
        st.session_state["w"] = st.session_state["h"]
    return view.size_boxes(match, keys.bounds)


def match(key: str, to: str) -> None:
    """Give `key` the value of `to` while the input is square (the other side was just typed)."""
    if st.session_state["square"]:
        st.session_state[key] = st.session_state[to]


def next_layer(height: int, width: int, done: int) -> None:
    """One layer worked out on `height` × `width` (after `done` layers of the chain), and a button that adds it."""
    op = urlstate.control("segmented_control", "Operation", "op", options=ar.OPS, format_func=ar.OP_TITLES.get,
                          required=True, help=view.HELP["op"])
    along_h, along_w = keys.layer_settings(op)
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
        st.button("➕ Add this layer to the chain", key="add_layer", on_click=keys.add_layer,
                  args=(ar.ChainLayer(op, along_h, along_w),), help=view.HELP["add"],
                  disabled=urlstate.locked("chain") or done >= ar.CHAIN_LENGTH)
    st.code(ar.pytorch_code(op, along_h, along_w, (height, width), out), language="python", wrap_lines=True)


def solver() -> None:
    st.markdown("#### Know the sizes you want? Find every setting that gives them.")
    view.examples({"op": "sop", "unknown": "unk", "size_in": "sin", "size_out": "sout", **keys.SOLVE_KEYS})
    op = urlstate.control("segmented_control", "Operation", "sop", options=ar.OPS, format_func=ar.OP_TITLES.get,
                          required=True, help=view.HELP["op"])
    urlstate.confine("unk", ar.SETTINGS[op], "padding")  # e.g. output_padding, left by the transposed convolution
    unknown = urlstate.control("radio", "Solve for", "unk", options=list(ar.SETTINGS[op]), horizontal=True,
                               format_func=lambda n: n.replace("_", " "), help=view.HELP["unknown"])
    size_in, size_out, known = view.solver_inputs(op, unknown, keys.SOLVE_KEYS, keys.bounds)
    try:
        found = ar.solve(op, unknown, size_in, size_out, **known)
    except ValueError as exc:
        st.error(f"**Cannot solve this:** {exc}", icon="🚫")
        return
    view.solutions(found)


def grouped_costs() -> None:
    st.markdown("#### What does each kind of convolution cost?")
    numbers = view.group_inputs(keys.GROUP_KEYS, keys.bounds)
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
    source = urlstate.control("segmented_control", "Network", "src", options=list(keys.SOURCES),
                              format_func=keys.SOURCES.get, required=True, label_visibility="collapsed")
    (zoo_table if source == "zoo" else described_table)()


def described_table() -> None:
    view.description(lambda: st.session_state.update(keys.preset_fields(st.session_state["preset"])))
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
part = urlstate.control("segmented_control", "Part", "part", options=list(keys.PARTS), format_func=keys.PARTS.get,
                        required=True, label_visibility="collapsed")
if part in ("size", "table"):
    urlstate.control("toggle", "🤔 Predict first: lock in your answer before the page works it out", "quiz",
                     help="Output size: type the size you worked out by hand. Network table: the shapes and counts "
                          "stay hidden until you have typed the total number of parameters.")
{"size": size_calculator, "solve": solver, "table": network_table, "groups": grouped_costs}[part]()
for key, value in keys.preset_fields(st.session_state["preset"]).items():
    urlstate.set_default(key, value)  # the chosen preset's own layers need no words in the link
urlstate.publish()
