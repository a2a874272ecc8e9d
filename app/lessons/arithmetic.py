"""Lesson: conv arithmetic. Output sizes with the formula worked out, solving for a setting, and a network's table.

The size calculator and the solver are plain arithmetic; PyTorch is imported only when the network table is
shown (it checks the table against a real torch model).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from app import predict, state, urlstate
from cnnviz.lessons import arithmetic as ar
from cnnviz.nets import limits, netspec, tables

PARTS = {"size": "📏 Output size", "solve": "🔍 Solve backwards", "table": "📋 Network table"}
SOURCES = {"describe": "✏️ Describe a network", "zoo": "🦁 A zoo model"}
NUMBER = range(1, 4097)
SMALL = range(0, 65)
DEFAULT_PRESET = "cifar_cnn"


def preset_defaults(name: str | None) -> dict[str, str]:
    """The layers and input shape a preset fills in: what a link that names only the preset means."""
    preset = netspec.PRESETS.get(name or DEFAULT_PRESET) or netspec.PRESETS[DEFAULT_PRESET]
    return {"net": preset.text, "shape": "x".join(map(str, preset.input_shape))}


DEFAULTS: dict[str, Any] = {
    "part": "size",
    # output size calculator (the width keys are used when the axes differ)
    "op": "conv", "h": 32, "w": 32, "k": 5, "p": 2, "s": 1, "d": 1, "opad": 0, "ceil": False, "split": False,
    "kw": 5, "pw": 2, "sw": 1, "dw": 1, "opadw": 0,
    # solve backwards
    "sop": "conv", "unk": "padding", "sin": 32, "sout": 32, "sk": 5, "sp": 0, "ss": 1, "sd": 1, "sopad": 0,
    "sceil": False, "sskern": False,
    # network table
    "src": "describe", "preset": DEFAULT_PRESET, **preset_defaults(DEFAULT_PRESET), "zoo": "cifar_cnn", "quiz": False,
}


def zoo_model(name: str) -> bool:
    """Whether a link's `zoo=` names a zoo model (PyTorch comes with the zoo: imported only for such a link)."""
    import models

    return name in models.names()


ALLOWED: dict[str, Any] = {
    "part": PARTS, "op": ar.OPS, "sop": ar.OPS, "src": SOURCES, "preset": netspec.PRESETS, "zoo": zoo_model,
    "unk": lambda name: name in ar.SETTINGS[st.session_state["sop"]],  # the settings of the operation it solves
    **{key: NUMBER for key in ("h", "w", "sin", "sout")},
    **{key: range(1, 65) for key in ("k", "kw", "s", "sw", "sk", "ss")},
    **{key: SMALL for key in ("p", "pw", "sp", "opad", "opadw", "sopad")},
    **{key: range(1, 17) for key in ("d", "dw", "sd")},
}
BIG = """<style>
/* projector: formulas, results and labels a class can read from the back */
.katex {font-size: 1.5em;}
[data-testid="stColumn"] .katex {font-size: 1.3em;}
.katex-display {overflow-x: auto; overflow-y: hidden; padding: 0.2em 0;}  /* scroll, never cut, a long line */
[data-testid="stWidgetLabel"] p {font-size: 1.05rem;}
[data-testid="stMetricValue"] {font-size: 2.3rem;}
[data-testid="stTextArea"] textarea {font-family: monospace; font-size: 1.1rem;}
</style>"""

urlstate.init(DEFAULTS | preset_defaults(st.query_params.get("preset")), allowed=ALLOWED)


def control(where: Any, kind: str, label: str, key: str, **kwargs: Any) -> Any:
    """A keyed widget that obeys teacher mode: skipped when the link hides it, disabled when it locks it."""
    if urlstate.hidden(key):
        return st.session_state[key]
    return getattr(where, kind)(label, key=key, disabled=urlstate.locked(key), **kwargs)


def number(where: Any, label: str, key: str, help: str | None = None) -> int:
    rule = ALLOWED[key]
    return int(control(where, "number_input", label, key, min_value=rule.start, max_value=rule.stop - 1, step=1,
                       help=help))


def number_box(label: str) -> int | None:
    """An empty box for a number the student worked out (None while empty)."""
    value = st.number_input(label, min_value=0, value=None, step=1, placeholder="your answer")
    return None if value is None else int(value)


def shape_text(shape: tuple[int, ...]) -> str:
    return " × ".join(str(n) for n in shape)


def committed(part: str, question: tuple, ask: Callable[[], list[Any]], intro: str) -> list[Any] | None:
    """Predict-then-reveal: the answers locked in for this very question, or None (after asking for them)."""
    said = predict.locked_in(part, question)
    if said is None:
        predict.ask(part, ask, "🔒 Lock in my answer and show the working", "Fill in every box first.", question,
                    intro)
    return said


def verdict(what: str, said: int, truth: int) -> str:
    """One line comparing the student's number with the right one."""
    if said == truth:
        return f"✅ **{what}: {truth:,}.** You said {said:,}: right."
    off = f"{abs(said - truth):,} too {'high' if said > truth else 'low'}"
    return f"❌ **{what}: {truth:,}.** You said {said:,}, {off}."


# ------------------------------------------------------------------------------------------ output size

HELP = {
    "kernel": "Kernel (window) size along this axis.",
    "padding": "Rings of zeros added on both sides. Pooling allows at most half the kernel.",
    "stride": "How far the window jumps between outputs.",
    "dilation": "Gaps between the kernel's taps: dilation 2 spreads a 3-tap kernel over 5 cells.",
    "output_padding": "Transposed convolution only: extra cells at the far end (must be smaller than the stride or the "
            "dilation). It picks which input size a stride-s convolution came from.",
}


FORMULAS = {  # the same for both axes; explain() writes each axis's numbers into it
    op: ar.explain(op, 8, kernel=3).formula_latex for op in ar.OPS
} | {"ceil": ar.explain("maxpool", 8, kernel=3, ceil_mode=True).formula_latex}


def settings_row(op: str, keys: dict[str, str], title: str) -> dict[str, Any]:
    """Number inputs for one axis's settings (`keys`: setting -> widget key); returns the settings dict."""
    names = ar.SETTINGS[op]
    cols = st.columns(6)
    cols[0].markdown(f"**{title}**")
    labels = {"kernel": "Kernel", "padding": "Padding", "stride": "Stride", "dilation": "Dilation",
              "output_padding": "Output padding"}
    values = {}
    for col, name in zip(cols[1:], ("kernel", "padding", "stride", "dilation", "output_padding")):
        if name in names:
            values[name] = number(col, labels[name], keys[name], HELP[name])
    return values


def size_calculator() -> None:
    st.markdown("#### How big is the output of a layer? Height and width are worked out separately.")
    op = control(st, "segmented_control", "Operation", "op", options=ar.OPS, format_func=ar.OP_TITLES.get,
                 required=True)
    top = st.columns([1, 1, 1.6, 1.6, 1])
    height = number(top[0], "Input height", "h")
    width = number(top[1], "Input width", "w")
    top[2].write("")
    top[2].write("")
    control(top[2], "toggle", "Width differs", "split", help="Different kernel, padding, stride... for the width")
    if op in ("maxpool", "avgpool"):
        top[3].write("")
        top[3].write("")
        control(top[3], "toggle", "ceil_mode", "ceil", help="Round the division up instead of down.")
    split = bool(st.session_state["split"])
    rows = {"kernel": "k", "padding": "p", "stride": "s", "dilation": "d", "output_padding": "opad"}
    along_h = settings_row(op, rows, "Height" if split else "Height and width")
    along_w = settings_row(op, {n: (k + "w") for n, k in rows.items()}, "Width") if split else dict(along_h)
    if op in ("maxpool", "avgpool"):
        along_h["ceil_mode"] = along_w["ceil_mode"] = bool(st.session_state["ceil"])

    results = {}
    st.markdown("**The formula**")
    st.latex(FORMULAS[op] if not along_h.get("ceil_mode") else FORMULAS["ceil"])
    same = height == width and along_h == along_w
    axes = [("height and width", height, along_h)] if same else [("height", height, along_h), ("width", width, along_w)]
    worked = {}
    for axis, size, settings in axes:
        try:
            worked[axis] = ar.explain(op, size, axis="" if same else axis, **settings)
        except ValueError as exc:
            worked[axis] = exc
    said = None
    if st.session_state["quiz"] and not any(isinstance(e, ValueError) for e in worked.values()):
        question = (op, height, width, tuple(along_h.items()), tuple(along_w.items()))
        said = committed("size", question, lambda: [number_box(f"Output {axis}") for axis, _, _ in axes],
                         "Work it out by hand: how big is the output?")
        if said is None:
            return
    for i, (col, (axis, size, _settings)) in enumerate(zip(st.columns(len(axes)), axes)):
        with col:
            e = worked[axis]
            if isinstance(e, ValueError):
                st.error(f"**{axis.capitalize()}: impossible.** {e}", icon="🚫")
                continue
            for name in axis.split(" and "):
                results[name] = e.output
            st.markdown(f"### {axis.capitalize()}: {size} → **{e.output}**")
            if said is not None:
                (st.success if said[i] == e.output else st.error)(verdict(f"Output {axis}", said[i], e.output))
            st.latex(e.substituted_latex)
            for note in e.notes:
                st.markdown(f"- {note}")
    if len(results) == 2:
        st.success(f"### Output: {results['height']} × {results['width']}  (from {height} × {width})")
    st.code(pytorch_line(op, along_h, along_w) + f"\n# (N, C, {height}, {width}) -> (N, C', "
            f"{results.get('height', '?')}, {results.get('width', '?')})", language="python")


def pytorch_line(op: str, along_h: dict[str, Any], along_w: dict[str, Any]) -> str:
    """The PyTorch module these settings stand for, as a student would write it."""
    cls = {"conv": "nn.Conv2d(in_channels, out_channels, ", "maxpool": "nn.MaxPool2d(",
           "avgpool": "nn.AvgPool2d(", "transposed": "nn.ConvTranspose2d(in_channels, out_channels, "}[op]
    args = []
    for name in ar.SETTINGS[op]:
        a, b = along_h[name], along_w[name]
        args.append(f"{'kernel_size' if name == 'kernel' else name}={a if a == b else (a, b)}")
    if "ceil_mode" in along_h and along_h["ceil_mode"]:
        args.append("ceil_mode=True")
    return cls + ", ".join(args) + ")"


# ------------------------------------------------------------------------------------------ solve backwards

EXAMPLES = {
    "Keep 32 with a 5×5 kernel": {"sop": "conv", "unk": "padding", "sin": 32, "sout": 32, "sk": 5,
                                                "ss": 1, "sd": 1},
    "512 → 508: which kernel?": {"sop": "conv", "unk": "kernel", "sin": 512, "sout": 508, "sp": 0, "ss": 1,
                                       "sd": 1},
    "Halve 32: which stride?": {"sop": "conv", "unk": "stride", "sin": 32, "sout": 16, "sk": 3,
                                               "sp": 1, "sd": 1},
    "Double 16 (transposed)": {"sop": "transposed", "unk": "stride", "sin": 16,
                                                         "sout": 32, "sk": 4, "sp": 1, "sd": 1, "sopad": 0},
}


def load_example(values: dict[str, Any]) -> None:
    st.session_state.update(values)


def solver() -> None:
    st.markdown("#### Know the sizes you want? Find every setting that gives them.")
    with st.container(horizontal=True):
        st.markdown("**Try:**")
        for label, values in EXAMPLES.items():
            st.button(label, on_click=load_example, args=(values,), disabled=urlstate.locked("unk"))
    op = control(st, "segmented_control", "Operation", "sop", options=ar.OPS, format_func=ar.OP_TITLES.get,
                 required=True)
    if st.session_state["unk"] not in ar.SETTINGS[op]:
        st.session_state["unk"] = "padding"
    unknown = control(st, "radio", "Solve for", "unk", options=list(ar.SETTINGS[op]), horizontal=True,
                      format_func=lambda n: n.replace("_", " "))
    cols = st.columns(6)
    size_in = number(cols[0], "Input size", "sin")
    size_out = number(cols[1], "Output size", "sout")
    keys = {"kernel": "sk", "padding": "sp", "stride": "ss", "dilation": "sd", "output_padding": "sopad"}
    labels = {"kernel": "Kernel", "padding": "Padding", "stride": "Stride", "dilation": "Dilation",
              "output_padding": "Output padding"}
    known: dict[str, Any] = {}
    pool = op in ("maxpool", "avgpool")
    free = iter(cols[2:])
    for name in ar.SETTINGS[op]:
        if name == unknown or (name == "stride" and pool and st.session_state["sskern"]):
            continue
        known[name] = number(next(free), labels[name], keys[name])
    if pool:
        flags = st.columns(4)
        known["ceil_mode"] = bool(control(flags[0], "toggle", "ceil_mode", "sceil"))
        if unknown != "stride":
            control(flags[1], "toggle", "Stride = kernel (PyTorch's default)", "sskern")

    try:
        found = ar.solve(op, unknown, size_in, size_out, **known)
    except ValueError as exc:
        st.error(f"**Cannot solve this:** {exc}", icon="🚫")
        return
    if not found.values:
        st.warning(f"### {found.sentence()}", icon="🤷")
    else:
        st.success(f"### {found.sentence()}", icon="✅")
        shown = [v for v in found.values if found.tail_from is None or v <= found.tail_from][:6]
        st.markdown("**Check** (the formula with each answer put in):")
        symbol = r"\text{" + unknown.replace("_", " ") + "}"
        for value in shown:
            e = ar.explain(op, size_in, **known, **{unknown: value})
            st.latex(rf"{symbol} = {value}:\quad " + e.substituted_latex)
        if len(shown) < len(found.values) and not found.and_larger:
            st.caption(f"…and {len(found.values) - len(shown)} more.")
    for note in found.notes:
        st.info(note, icon="💡")


# ------------------------------------------------------------------------------------------ network table

COLUMNS = {  # column -> (title, help)
    "name": ("Layer", "The module's name in the model (named_modules)."),
    "layer": ("Type", "The PyTorch module and its settings: k kernel, s stride, p padding, d dilation."),
    "output_shape": ("Output shape", "Channels × height × width (or features) for one image."),
    "weights": ("Weights", "Weight parameters of this layer."),
    "biases": ("Biases", "Bias parameters (batch norm: β; its γ counts as weights)."),
    "formula": ("Formula", "How the parameters add up: out × in × kernel height × kernel width + biases."),
    "params": ("Params", "Weights + biases of this layer."),
    "total_params": ("Total", "Running total of the parameters up to this layer."),
    "mult_adds": ("Mult-adds", "Multiply-accumulate steps of this layer for one image."),
    "receptive_field": ("RF (jump)", "Receptive field: how many input pixels one unit of this layer can see; in "
                        "brackets the jump, the distance in input pixels between neighbouring units."),
}
QUIZ_HIDDEN = ("output_shape", "weights", "biases", "formula", "params", "total_params", "mult_adds")


def _pair(value: tuple[int, int] | None) -> str:
    """'5' for (5, 5), '5 × 7' for (5, 7), '—' for none."""
    if value is None:
        return "—"
    a, b = value
    return f"{a:g}" if a == b else f"{a:g} × {b:g}"


def show_table(table: Any, quiz: bool, file_name: str) -> None:
    """The layer table as a dataframe, with its totals on top and a CSV of it (made on a click) below."""
    import pandas as pd

    from cnnviz.results import export

    last_rf = next((r["receptive_field"] for r in reversed(table) if r["jump"] is not None), None)
    m = st.columns(4)
    m[0].metric("Parameters", "?" if quiz else f"{table.total_params:,}")
    m[1].metric("Mult-adds per image", "?" if quiz else f"{table.total_mult_adds / 1e6:,.2f} M")
    m[2].metric("Output", "?" if quiz else shape_text(table.output_shape))
    m[3].metric("Receptive field", "—" if last_rf is None else f"{last_rf[0]} × {last_rf[1]}",
                help="Input pixels (height × width) one unit of the last convolution or pooling layer sees.")
    rows = []
    for row in table:
        counts = {c: row[c] or None for c in ("weights", "biases", "params", "mult_adds")}  # blank, not 0
        rows.append({**row, **counts, "layer": f"{row['type']} {row['settings']}".strip(),
                     "output_shape": "×".join(map(str, row["output_shape"])),
                     "receptive_field": _pair(row["receptive_field"])
                     + ("" if row["jump"] is None else f" ({_pair(row['jump'])})")})
    order = [c for c in COLUMNS if not (quiz and c in QUIZ_HIDDEN)]
    small = ("biases", "params")
    config = {c: st.column_config.TextColumn(title, help=help, width="small" if c in small else None)
              for c, (title, help) in COLUMNS.items()}
    for c in ("weights", "biases", "params", "total_params", "mult_adds"):
        config[c] = st.column_config.NumberColumn(COLUMNS[c][0], help=COLUMNS[c][1], format="localized",
                                                  width="small" if c in small else None)
    frame = pd.DataFrame(rows)[order]  # in quiz mode the answers are not even sent to the browser
    st.dataframe(frame, hide_index=True, column_order=order, column_config=config,
                 height=min(38 + 36 * len(rows), 760), row_height=36, placeholder="")
    st.download_button("⬇ Layer table (CSV)", file_name=file_name, mime="text/csv", on_click="ignore",
                       data=lambda: export.csv(frame.rename(columns={c: t for c, (t, _) in COLUMNS.items()})))
    for note in table.notes:
        st.caption(note)


def network_table() -> None:
    st.markdown("#### Every layer's output shape, parameters, multiply-adds and receptive field.")
    source = control(st, "segmented_control", "Network", "src", options=list(SOURCES), format_func=SOURCES.get,
                     required=True, label_visibility="collapsed")
    if source == "zoo":
        zoo_table()
    else:
        described_table()


def answers_hidden(question: tuple, total: int) -> bool:
    """Predict first: True (after asking) until the student locked in a parameter count, then how it compares."""
    if not st.session_state["quiz"]:
        return False
    said = committed("table", question, lambda: [number_box("Parameters in all (weights and biases)")],
                     "Count by hand: how many parameters has this network? The layers are listed below.")
    if said is None:
        return True
    (st.success if said[0] == total else st.error)(
        verdict("Parameters", said[0], total) + " The **Formula** column shows how each layer's count adds up.")
    return False


def load_preset() -> None:
    st.session_state.update(preset_defaults(st.session_state["preset"]))


def described_table() -> None:
    left, right = st.columns([2, 1])
    with right:
        control(st, "selectbox", "Start from", "preset", options=list(netspec.PRESETS), on_change=load_preset,
                help="Loads a ready-made description into the box (your edits are replaced).")
        st.caption(netspec.PRESETS[st.session_state["preset"]].about)
        control(st, "text_input", "Input shape (channels × height × width)", "shape",
                help="e.g. 1x28x28 for MNIST, 3x32x32 for CIFAR-10, or a number of features such as 784.")
        with st.expander("How to write a network"):
            st.markdown(SYNTAX)
    with left:
        lines = st.session_state["net"].count("\n") + 1
        control(st, "text_area", "One layer per line", "net", height=max(200, min(640, 33 * lines + 40)))
    try:
        layers = netspec.parse(st.session_state["net"])
        shape = netspec.parse_shape(st.session_state["shape"])
        table = tables.spec_table(layers, shape)
        limits.check(layers, shape)  # before the torch model below is built and run
    except limits.TooLarge as exc:
        st.error(f"**This network is too large for cnnviz.** {exc}", icon="🚫")
        return
    except ValueError as exc:
        st.error(f"**This network cannot work.** {exc}", icon="🚫")
        return
    quiz = answers_hidden((netspec.to_text(layers), shape), table.total_params)
    show_table(table, quiz, "layers.csv")
    real, numel = state.described_layer_table(netspec.to_text(layers), shape)
    problems = [f"{a['name']}: table says {shape_text(a['output_shape'])}, torch gives {shape_text(b['output_shape'])}"
                for a, b in zip(table, real) if a["output_shape"] != b["output_shape"]]
    if table.total_params != numel:
        problems.append(f"parameters: table says {table.total_params:,}, torch counts {numel:,}")
    if problems or len(real) != len(table):
        st.error("**The table and the real torch model disagree** (please report this): " + "; ".join(problems))
    else:
        total = "the table's total" if quiz else f"{numel:,}, the table's total"
        st.success(f"✅ **Checked against a real torch model** built from this description and run once: every "
                   f"layer's output shape agrees, and sum(p.numel()) equals {total}.")


def zoo_table() -> None:
    import models  # PyTorch comes with the zoo: only this part of the lesson needs it

    control(st, "selectbox", "Zoo model", "zoo", options=models.names(),
            format_func=lambda n: models.ZOO[n].title)
    name = st.session_state["zoo"]
    entry = models.ZOO[name]
    st.caption(f"{entry.about} Input {shape_text(entry.input_shape)}. Untrained weights: sizes and counts do not "
               "depend on them.")
    table, numel = state.zoo_layer_table(name)
    quiz = answers_hidden(("zoo", name), table.total_params)
    show_table(table, quiz, f"layers-{name}.csv")
    if table.total_params == numel:
        total = "the table's total" if quiz else f"{numel:,}, the table's total"
        st.success(f"✅ **Checked against the real torch model:** the shapes come from an actual forward pass, "
                   f"and sum(p.numel()) equals {total}.")
    else:
        st.error(f"The table's total ({table.total_params:,}) differs from sum(p.numel()) = {numel:,}.")


SYNTAX = """
| Line | Layer |
| --- | --- |
| `conv 32 k5 p2` | 32 filters, 5×5 kernel, padding 2 (also `s2` stride, `d2` dilation, `p=same`, `nobias`) |
| `pool max 2` | 2×2 max-pooling, stride 2 (`pool avg k3 s2 p1 ceil` for more) |
| `globalpool avg` | average over the whole map, to 1×1 |
| `bn` | batch norm |
| `relu` | also `leakyrelu 0.1`, `elu`, `gelu`, `silu`, `sigmoid`, `tanh` |
| `dropout 0.5` | `dropout2d 0.5` drops whole channels |
| `flatten` | (C, H, W) → C·H·W features |
| `linear 10` | fully connected, 10 outputs |

Input channels and features follow from the input shape. `#` starts a comment; `;` separates layers on a line.
"""


# ------------------------------------------------------------------------------------------ the page

st.html(BIG)
st.title("📐 Conv arithmetic")
part = control(st, "segmented_control", "Part", "part", options=list(PARTS), format_func=PARTS.get, required=True,
               label_visibility="collapsed")
if part != "solve":
    control(st, "toggle", "🤔 Predict first: lock in your answer before the page works it out", "quiz",
            help="Output size: type the size you worked out by hand. Network table: the shapes and counts stay "
                 "hidden until you have typed the total number of parameters.")
{"size": size_calculator, "solve": solver, "table": network_table}[part]()
for key, value in preset_defaults(st.session_state["preset"]).items():
    urlstate.set_default(key, value)  # the chosen preset's own layers need no words in the link
urlstate.publish()
