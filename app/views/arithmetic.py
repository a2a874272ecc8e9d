"""The Conv arithmetic page's display pieces: each axis worked out, the solver's answers, the layer table with its
totals and its check against torch, and the predict-first forms.

The numbers and words come from `cnnviz.lessons.arithmetic` and `cnnviz.nets.tables`; this module draws them.
It imports no PyTorch: the calculator and the solver show before PyTorch has loaded.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from app import quiz, urlstate
from cnnviz.lessons import arithmetic as ar
from cnnviz.lessons import groups as gr
from cnnviz.nets import limits, netspec, tables

LARGE_TEXT_CSS = """<style>
/* projector: formulas, results and labels a class can read from the back */
.katex {font-size: 1.5em;}
[data-testid="stColumn"] .katex {font-size: 1.3em;}
.katex-display {overflow-x: auto; overflow-y: hidden; padding: 0.2em 0;}  /* scroll, never cut, a long line */
[data-testid="stWidgetLabel"] p {font-size: 1.05rem;}
[data-testid="stMetricValue"] {font-size: 2.3rem;}
[data-testid="stTextArea"] textarea {font-family: monospace; font-size: 1.1rem;}
[data-testid="stMarkdownContainer"] td code {white-space: nowrap;}  /* a line of the syntax on one line */
@media (max-width: 640px) {  /* phone: a worked line fits the screen's width */
  .katex, [data-testid="stColumn"] .katex {font-size: 1.05em;}
}
</style>"""


HELP = {  # the page's terms, each in one sentence: what it means and why it matters
    "op": "Convolution slides a kernel of weights over the input; max or average pooling keeps the largest or the "
          "mean value of each window (no weights); a transposed convolution spreads each input cell over a window, "
          "making the map larger, as a decoder or a segmentation network must.",
    "square": "On: typing the height also sets the width, as most image networks take square inputs; off: type them "
              "separately.",
    "split": "On: the width gets its own kernel, padding, stride... (e.g. a 1×7 kernel); off: both axes use the same.",
    "ceil": "PyTorch's ceil_mode rounds the division up instead of down, so a last window that hangs over the edge "
            "still gives an output cell instead of being dropped.",
    "add": "Keeps this layer in the chain's table and works out the next one from its output, as the next layer of "
           "a network would see it.",
    "unknown": "The setting the page finds; you give the sizes and the other settings.",
    "size": "Length along one axis (height or width) in cells; the same formula works for both.",
    "input": "Pixels (or cells of a feature map) going into the first layer: every size after it follows from "
             "this one.",
}
PYTORCH_TOO = ("**PyTorch code works too:** paste lines such as `nn.Conv2d(3, 32, 5, padding=2)` or a whole "
               "`nn.Sequential(...)`; words such as `conv 32 5x5 pad 2` are read as well.")
METRIC_HELP = {
    "params": "Every number the network learns (weights and biases): more of them need more memory, and more "
              "data to train without learning the training images by heart.",
    "mult_adds": "Multiply-adds: one multiplication plus one addition, the step a convolution or a linear layer "
                 "repeats; their number (M = million) sets how long one image takes to run.",
    "output": "What the last layer gives for one image (channels × height × width, or a number of features): a "
              "classifier must end with one number per class.",
    "rf": "How many input pixels (height × width) one unit of the last convolution or pooling layer can see: it "
          "cannot react to anything outside, so it should cover the things the network must recognise.",
}
SPELLED_OUT = ("weights", "biases")  # in the CSV and behind the table's eye icon; the Formula column adds them up
WHY = {  # why each column matters, after the library's words for what it is
    "name": "Other pages use these names to pick a layer to look inside.",
    "layer": "These settings decide the output shape in the next column.",
    "output_shape": "Each layer's output is the next layer's input, so a shape that does not fit stops the network.",
    "weights": "They are what training changes: each is one number the network learns.",
    "biases": "A bias is one learned number per output channel, added after the weighted sum.",
    "formula": "Working it out by hand shows why a convolution has few parameters and a linear layer many.",
    "params": "More parameters need more memory and more data to train well.",
    "total_params": "The last row is the whole network's count, the Parameters figure above the table.",
    "mult_adds": "They set how long one image takes: a convolution reuses its few weights at every position, so it "
                 "can have few parameters and many mult-adds.",
    "receptive_field": "A unit can only react to patterns inside its receptive field: deeper layers see more, so "
                       "they can recognise larger things.",
}
CHAIN_COLUMNS = {
    "layer": st.column_config.NumberColumn("Layer", width="small"),
    "operation": st.column_config.TextColumn("Operation", help=HELP["op"]),
    "sizes": st.column_config.TextColumn("Size in → out", width="medium",
                                         help="Height × width going in, and coming out: the next layer's input."),
    "settings": st.column_config.TextColumn("Settings", width="large",
                                            help="Kernel, padding, stride...: they decide the output size."),
}


BOX = 128  # pixels: a number box, so that a row of them wraps two to a line on a phone instead of one


def size_boxes(on_change: Callable[[str, str], None], bounds: Callable[[str], dict[str, int]]) -> tuple[int, int]:
    """The input's height and width boxes (`on_change(key, to)` keeps a square input square) and the square toggle."""
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        height = urlstate.control("number_input", "Input height", "h", on_change=on_change, args=("w", "h"),
                                  help=HELP["input"], width=BOX + 22, **bounds("h"))
        width = urlstate.control("number_input", "Input width", "w", on_change=on_change, args=("h", "w"),
                                 help=HELP["input"], width=BOX + 22, **bounds("w"))
        urlstate.control("toggle", "Square input", "square", help=HELP["square"])
    return height, width


def settings_row(keys: dict[str, str], title: str, bounds: Callable[[str], dict[str, int]]) -> dict[str, int]:
    """Number boxes for one axis's settings (`keys`: setting -> widget key, `bounds`: its range) after its title;
    returns the settings."""
    with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
        st.markdown(f"**{title}**", width=110)
        return {n: urlstate.control("number_input", ar.SETTING_TITLES[n], key, help=ar.SETTING_HELP[n], width=BOX,
                                    **bounds(key)) for n, key in keys.items()}


def examples(keys: dict[str, str]) -> None:
    """Buttons that load the solver's examples into its widgets (`keys`: the solver's argument -> widget key)."""
    with st.container(horizontal=True):
        st.markdown("**Try:**")
        for label, (op, unknown, size_in, size_out, known) in ar.SOLVER_EXAMPLES.items():
            example = {"op": op, "unknown": unknown, "size_in": size_in, "size_out": size_out, **known}
            st.button(label, on_click=st.session_state.update, args=({keys[n]: v for n, v in example.items()},),
                      disabled=urlstate.locked(keys["unknown"]))


def description(on_preset: Callable[[], None]) -> None:
    """The box for a network's description with a preset and the input shape above it, and the syntax in plain view
    beside it (below it on a phone): a student writes a first network with the rules in front of them."""
    box, rules = st.columns([2, 3], gap="large")
    with box:
        urlstate.control("selectbox", "Start from", "preset", options=list(netspec.PRESETS), on_change=on_preset,
                         help="Loads a ready-made description into the box (your edits are replaced).")
        preset = netspec.PRESETS[st.session_state["preset"]]
        if st.session_state["net"] == preset.text:  # not once edited: its numbers would no longer be the box's
            st.caption(preset.about)
        urlstate.control("text_input", "Input shape (channels × height × width)", "shape",
                         help="Channels × height × width of one input image, e.g. 1x28x28 for MNIST or 3x32x32 for "
                              "CIFAR-10 (or a number of features such as 784): every size below follows from it.")
        lines = st.session_state["net"].count("\n") + 1
        urlstate.control("text_area", "One layer per line", "net", height=max(200, min(640, 33 * lines + 40)))
    with rules:
        st.markdown("**How to write a network**\n" + netspec.CHEAT_SHEET)
        st.markdown(PYTORCH_TOO)


# ---- predict first ---------------------------------------------------------------------------------------------
def number_box(label: str) -> int | None:
    """An empty box for a number the student worked out (None while empty)."""
    value = st.number_input(label, min_value=0, value=None, step=1, placeholder="your answer")
    return None if value is None else int(value)


def answers(part: str, question: tuple, boxes: list[str], intro: str) -> list[int] | None:
    """Predict-then-reveal: the numbers locked in for this very question, or None (after asking, one box a label)."""
    said = quiz.locked_in(part, question)
    if said is None:
        quiz.ask(part, lambda: [number_box(label) for label in boxes], "🔒 Lock in my answer and show the working",
                 "Fill in every box first.", question, intro)
    return said


def parameters_hidden(question: tuple, total: int) -> bool:
    """Predict first: True (after asking) until the student locked in a parameter count, then how it compares."""
    if not st.session_state["quiz"]:
        return False
    said = answers("table", question, ["Parameters in all (weights and biases)"],
                   "Count by hand: how many parameters has this network? The layers are listed below.")
    if said is None:
        return True
    (st.success if said[0] == total else st.error)(
        ar.verdict("Parameters", said[0], total) + " The **Formula** column shows how each layer's count adds up.")
    return False


# ---- the calculator and the solver -----------------------------------------------------------------------------
def worked_axes(worked: list[ar.AxisWork], said: list[int] | None) -> None:
    """Each axis side by side: its output size, the verdict on the student's answer, the working and its notes."""
    for i, (col, axis) in enumerate(zip(st.columns(len(worked)), worked)):
        with col:
            if axis.working is None:
                st.error(f"**{axis.axis.capitalize()}: impossible.** {axis.problem}", icon="🚫")
                continue
            out = axis.working.output
            st.markdown(f"### {axis.axis.capitalize()}: {axis.size} → **{out}**")
            if said is not None:
                (st.success if said[i] == out else st.error)(ar.verdict(f"Output {axis.axis}", said[i], out))
            st.latex(axis.working.substituted_latex)
            for note in axis.working.notes:
                st.markdown(f"- {note}")


def chain_table(steps: list[ar.ChainStep], remove: Callable[[int], None], disabled: bool) -> None:
    """The chain so far in one table (operation, settings, size in → out), a button to remove each row, and why a
    layer that no longer fits is impossible."""
    rows = [{"layer": i, "operation": ar.OP_TITLES[step.layer.op], "sizes": _sizes(step),
             "settings": step.layer.settings_text} for i, step in enumerate(steps, start=1)]
    st.dataframe(rows, hide_index=True, column_config=CHAIN_COLUMNS, row_height=36, height=38 + 36 * len(rows))
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown("Remove a layer:", width="content")
        for i, step in enumerate(steps):
            st.button(f"✕ {i + 1}", key=f"remove_layer_{i}", on_click=remove, args=(i,), disabled=disabled,
                      help=f"Takes layer {i + 1} ({ar.OP_TITLES[step.layer.op]}) out of the chain.")
    for i, step in enumerate(steps, start=1):
        if step.problem:
            h, w = step.size_in
            st.error(f"**Layer {i} ({ar.OP_TITLES[step.layer.op]}) cannot work on {h} × {w}:** {step.problem}. "
                     "Change the input size, or remove the layer.", icon="🚫")


def _sizes(step: ar.ChainStep) -> str:
    """'254 × 254 → 252 × 252'; '→ impossible' for a layer that does not fit; '—' after one."""
    if step.size_in is None:
        return "—"
    out = "impossible" if step.size_out is None else "{} × {}".format(*step.size_out)
    return "{} × {} → ".format(*step.size_in) + out


def solver_inputs(op: str, unknown: str, keys: dict[str, str], bounds: Callable[[str], dict[str, int]]
                  ) -> tuple[int, int, dict[str, Any]]:
    """The solver's boxes in one row: (input size, output size, the settings given); pooling's flags below."""
    cols = st.columns(6)
    size_in = urlstate.control("number_input", "Input size", "sin", cols[0], help=HELP["size"], **bounds("sin"))
    size_out = urlstate.control("number_input", "Output size", "sout", cols[1], help=HELP["size"], **bounds("sout"))
    pool = op in ("maxpool", "avgpool")
    given = [n for n in ar.SETTINGS[op] if n != unknown and not (n == "stride" and pool and st.session_state["sskern"])]
    known: dict[str, Any] = {n: urlstate.control("number_input", ar.SETTING_TITLES[n], keys[n], col,
                                                 help=ar.SETTING_HELP[n], **bounds(keys[n]))
                             for col, n in zip(cols[2:], given)}
    if pool:
        flags = st.container(horizontal=True, gap="large")  # labels whole, side by side while they fit
        known["ceil_mode"] = bool(urlstate.control("toggle", "ceil_mode", "sceil", flags, help=HELP["ceil"]))
        if unknown != "stride":
            urlstate.control("toggle", "Stride = kernel (PyTorch's default)", "sskern", flags,
                             help="PyTorch's pooling moves by its own kernel size unless told otherwise, so the "
                                  "windows do not overlap.")
    return size_in, size_out, known


def solutions(found: ar.Solutions) -> None:
    """The solver's answer in words, each value checked in the formula, and its notes."""
    if not found.values:
        st.warning(f"### {found.sentence()}", icon="🤷")
    else:
        st.success(f"### {found.sentence()}", icon="✅")
        st.markdown("**Check** (the formula with each answer put in):")
        for value in found.shown():
            st.latex(found.check_latex(value))
        if len(found.shown()) < len(found.values) and not found.and_larger:
            st.caption(f"…and {len(found.values) - len(found.shown())} more.")
    for note in found.notes:
        st.info(note, icon="💡")


# ---- the network table -----------------------------------------------------------------------------------------
def _column(name: str, texts: list[str]) -> Any:
    """The dataframe column of one of the table's columns: counts as localized numbers, the rest as text as wide as
    its longest entry (`texts`), so that no shape or formula is cut off."""
    title, meaning = tables.DISPLAY_COLUMNS[name]
    help = f"{meaning} {WHY[name]}"
    if name in tables.COUNT_COLUMNS:
        return st.column_config.NumberColumn(title, help=help, format="localized")
    return st.column_config.TextColumn(title, help=help, width=max(map(_pixels, [title, *texts])))


def _pixels(text: str) -> int:
    """How wide a table cell must be for `text`: a digit or × is 7.8 pixels in its font, a space 3.2, and a cell
    has 9 of padding on each side (a little to spare for wider letters)."""
    return round(8.3 * len(text.replace(" ", "")) + 3.5 * text.count(" ") + 22)


def layer_table(table: tables.LayerTable, hidden: bool, file_name: str) -> None:
    """The layer table as a dataframe, with its totals on top and a CSV of it (made on a click) below."""
    import pandas as pd

    from cnnviz.results import export

    rf = table.receptive_field
    with st.container(horizontal=True, gap="large"):
        st.metric("Parameters", "?" if hidden else f"{table.total_params:,}", help=METRIC_HELP["params"],
                  width="content")
        st.metric("Mult-adds per image", "?" if hidden else f"{table.total_mult_adds / 1e6:,.2f} M",
                  help=METRIC_HELP["mult_adds"], width="content")
        st.metric("Output", "?" if hidden else tables.shape_text(table.output_shape), help=METRIC_HELP["output"],
                  width="content")
        st.metric("Receptive field", "—" if rf is None else f"{rf[0]} × {rf[1]}", help=METRIC_HELP["rf"],
                  width="content")
    order = [c for c in tables.DISPLAY_COLUMNS if not (hidden and c in tables.ANSWER_COLUMNS)]
    rows = [{**row, "output_shape": tables.shape_text(shape)}  # '1 × 252 × 252', as the Output figure writes it
            for row, shape in zip(tables.display_rows(table), (r["output_shape"] for r in table))]
    frame = pd.DataFrame(rows)[order]  # in quiz mode the answers are not even sent to the browser
    config = {c: _column(c, [str(v) for v in frame[c]]) for c in order}
    shown = [c for c in order if c not in SPELLED_OUT]  # the table fits a projector beside the sidebar
    st.dataframe(frame, hide_index=True, column_order=shown, column_config=config,
                 height=min(38 + 36 * len(frame), 760), row_height=36, placeholder="")
    titles = {c: title for c, (title, _) in tables.DISPLAY_COLUMNS.items()}
    st.download_button("⬇ Layer table (CSV)", file_name=file_name, mime="text/csv", on_click="ignore",
                       data=lambda: export.csv(frame.rename(columns=titles)))
    for note in table.notes:
        st.caption(note)


def refused(exc: ValueError, text: str, shape_text: str) -> None:
    """Why a description gives no table, in a student's words: a line or an input shape that does not read (the
    library's message names it and gives an example), a network over cnnviz's limits, or one that cannot work."""
    if isinstance(exc, limits.TooLarge):
        lead = "This network is too large for cnnviz."
    elif not _reads(netspec.parse, text):
        lead = "cnnviz cannot read this description: check the line against how to write a network."
    elif not _reads(netspec.parse_shape, shape_text):
        lead = "cnnviz cannot read the input shape."
    else:
        lead = "This network cannot work."
    said = str(exc)
    st.error(f"**{lead}** {said[:1].upper()}{said[1:]}", icon="🚫")


def _reads(parse: Callable[[str], Any], text: str) -> bool:
    """Whether `parse` takes `text` without a ValueError."""
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _total(numel: int, hidden: bool) -> str:
    """The parameter count a check names: not while predict-first still hides it."""
    return "the table's total" if hidden else f"{numel:,}, the table's total"


def described_check(table: tables.LayerTable, real: tables.LayerTable, numel: int, hidden: bool) -> None:
    """Whether a description's table agrees with the torch model built from it (`real`, `numel` parameters)."""
    if problems := tables.disagreements(table, real, numel):
        st.error("**The table and the real torch model disagree** (please report this): " + "; ".join(problems))
    else:
        st.success("✅ **Checked against a real torch model** built from this description and run once: every "
                   f"layer's output shape agrees, and sum(p.numel()) equals {_total(numel, hidden)}.")


def zoo_check(table: tables.LayerTable, numel: int, hidden: bool) -> None:
    """Whether a zoo model's table adds up to its `numel` parameters."""
    if table.total_params == numel:
        st.success("✅ **Checked against the real torch model:** the shapes come from an actual forward pass, "
                   f"and sum(p.numel()) equals {_total(numel, hidden)}.")
    else:
        st.error(f"The table's total ({table.total_params:,}) differs from sum(p.numel()) = {numel:,}.")


# ---- grouped and separable convolution -------------------------------------------------------------------------
GROUP_HELP = {
    "c_in": "How many channels (feature maps) come in: 3 for a colour image, then as many as the layer before made.",
    "c_out": "How many channels the layer makes: one filter, and one bias, for each.",
    "kernel": "The window's side: k × k neighbouring pixels of every channel it reads go into one output cell.",
    "height": "Height of the output map (and of the input: every layer here keeps the size, with stride 1 and "
              "padding 'same', so the five differ only in their channels).",
    "width": "Width of the output map; mult-adds grow with height × width, parameters do not.",
    "groups": "g splits the input and the output channels into g groups; each output channel reads only its own "
              "group. g must divide both channel counts.",
    "bias": "On: each convolution adds one learned bias per output channel (PyTorch's default); they add "
            "parameters but no mult-adds.",
}
COST_COLUMNS = {
    "layer": st.column_config.TextColumn("Layer", help="The kind of convolution; each is explained below."),
    "formula": st.column_config.TextColumn(
        "Weights", help="Output channels · input channels each one reads · k · k, for each convolution in the layer."),
    "params": st.column_config.NumberColumn("Parameters", format="localized", help=METRIC_HELP["params"]),
    "mult_adds": st.column_config.NumberColumn("Mult-adds", format="localized", help=METRIC_HELP["mult_adds"]),
    "saving": st.column_config.TextColumn("Mult-adds vs plain", help="How many times fewer mult-adds than the "
                                          "plain k × k convolution needs for the same channels."),
    "c_out": st.column_config.NumberColumn("Out", width="small",
                                           help="Channels that come out: a depthwise layer alone keeps C_in."),
}


def group_inputs(keys: dict[str, str], bounds: Callable[[str], dict[str, int]]) -> dict[str, int]:
    """The layer's channels, kernel, output size and groups in one row of boxes (two to a line on a phone), and
    the bias switch; returns the numbers by name."""
    titles = {"c_in": "Channels in", "c_out": "Channels out", "kernel": "Kernel k", "height": "Height out",
              "width": "Width out", "groups": "Groups g"}
    widths = {"c_in": BOX, "c_out": BOX, "kernel": BOX - 24, "groups": BOX - 24}  # one row on a projector
    with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
        numbers = {n: urlstate.control("number_input", titles[n], key, help=GROUP_HELP[n],
                                       width=widths.get(n, BOX - 8), **bounds(key)) for n, key in keys.items()}
        urlstate.control("toggle", "Biases", "gbias", help=GROUP_HELP["bias"])
    return numbers


def impossible_groups(exc: ValueError, c_in: int, c_out: int, pick: Callable[[int], None]) -> None:
    """Why these groups do not work, and a button for each number of groups that does."""
    said = str(exc)
    st.error(f"**PyTorch refuses these groups:** {said[:1].lower()}{said[1:]}.", icon="🚫")
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"Groups that work for {c_in} → {c_out}:", width="content")
        for g in gr.valid_groups(c_in, c_out)[:12]:
            st.button(f"g = {g}", key=f"use_groups_{g}", on_click=pick, args=(g,), disabled=urlstate.locked("g"))


def _short(n: int) -> str:
    """A count as a bar's label: 231.2 M, 18.5 k, 320."""
    return f"{n / 1e6:,.1f} M" if n >= 1e6 else f"{n / 1e3:,.1f} k" if n >= 1e4 else f"{n:,}"


def cost_table(found: list[gr.Cost]) -> None:
    """The five layers side by side: weights' formula, parameters, mult-adds, the saving and the channels out."""
    plain = found[0]
    rows = [{"layer": _kind_title(c), "formula": c.formula, "params": c.params, "mult_adds": c.mult_adds,
             "saving": gr.saving(c, plain), "c_out": c.c_out} for c in found]
    st.dataframe(rows, hide_index=True, column_config=COST_COLUMNS, row_height=36, height=38 + 36 * len(rows))


def _kind_title(cost: gr.Cost) -> str:
    """'Plain 3 × 3', 'Grouped (g = 4)': a kind's title with its own numbers in."""
    k, g = cost.layers[0].kernel, cost.layers[0].groups
    return {"plain": f"Plain {k} × {k}", "grouped": f"Grouped (g = {g})", "depthwise": f"Depthwise {k} × {k}",
            "separable": f"Depthwise-separable {k} × {k}"}.get(cost.kind, gr.TITLES[cost.kind])


def cost_chart(found: list[gr.Cost]) -> None:
    """Bars of parameters and of mult-adds for the five layers (two charts side by side, stacked on a phone), each
    bar labelled with its count: the depthwise bars are too short to read against the plain one."""
    import altair as alt

    from app import charts

    order = [_kind_title(c) for c in found]
    for col, (name, title) in zip(st.columns(2), (("params", "Parameters"), ("mult_adds", "Mult-adds"))):
        data = [{"layer": _kind_title(c), "value": getattr(c, name), "label": _short(getattr(c, name)),
                 "plain": c.kind == "plain"} for c in found]
        top = max(d["value"] for d in data) * 1.3  # room for the longest bar's label
        base = alt.Chart(alt.Data(values=data)).encode(
            y=alt.Y("layer:N", sort=order, title=None),
            x=alt.X("value:Q", title=title, scale=alt.Scale(domain=[0, top], nice=False),
                    axis=alt.Axis(format="~s", tickCount=3)),
            tooltip=[alt.Tooltip("layer:N", title="Layer"), alt.Tooltip("value:Q", title=title, format=",")])
        bars = base.mark_bar().encode(color=alt.condition(alt.datum.plain, alt.value("#868e96"), alt.value("#4c78a8")))
        labels = base.mark_text(align="left", dx=4, fontSize=15, color=charts.INK).encode(text="label:N")
        charts.show(alt.layer(bars, labels).properties(height=alt.Step(34)), col, width="stretch")


def kinds_explained() -> None:
    """Each kind of layer in one sentence."""
    st.markdown("\n".join(f"- **{gr.TITLES[kind]}:** {gr.HELP[kind]}" for kind in gr.KINDS))


def wiring(cost: gr.Cost, numbers: dict[str, int], out_channel: int) -> None:
    """Which input channels output channel `out_channel` (from 0) of one kind of layer reads: the sentence, the
    picture of the groups and the layer as PyTorch code."""
    kind = cost.kind
    c_in, c_out, kernel, groups = (numbers[n] for n in ("c_in", "c_out", "kernel", "groups"))
    st.markdown(gr.reading_sentence(kind, c_in, c_out, kernel, groups, out_channel))
    stages, splits = gr.wiring_of(kind, c_in, c_out, groups)
    names = ["Input", "Depthwise" if kind == "separable" else "Output", "Output"]
    st.html(gr.wiring_html(stages, splits, out_channel, titles=[f"{t}: {n}" for t, n in zip(names, stages)]))
    st.caption("Each box is a channel; each coloured band joins the input channels of one group to the output "
               "channels it makes. The chosen output channel and every channel it reads are filled in, and the "
               "bands that lead to it are dark (hover over a band to name its channels).")
    st.code("\n".join(layer.code for layer in cost.layers), language="python", wrap_lines=True)
