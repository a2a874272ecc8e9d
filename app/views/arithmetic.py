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
from cnnviz.nets import limits, netspec, tables

LARGE_TEXT_CSS = """<style>
/* projector: formulas, results and labels a class can read from the back */
.katex {font-size: 1.5em;}
[data-testid="stColumn"] .katex {font-size: 1.3em;}
.katex-display {overflow-x: auto; overflow-y: hidden; padding: 0.2em 0;}  /* scroll, never cut, a long line */
[data-testid="stWidgetLabel"] p {font-size: 1.05rem;}
[data-testid="stMetricValue"] {font-size: 2.3rem;}
[data-testid="stTextArea"] textarea {font-family: monospace; font-size: 1.1rem;}
</style>"""


def toggle_beside(where: Any, label: str, key: str, help: str) -> None:
    """A toggle level with the number boxes beside it (two blank lines stand in for their labels)."""
    where.write("")
    where.write("")
    urlstate.control("toggle", label, key, where, help=help)


def settings_row(keys: dict[str, str], title: str, bounds: Callable[[str], dict[str, int]]) -> dict[str, int]:
    """Number boxes for one axis's settings (`keys`: setting -> widget key, `bounds`: its range) after its title;
    returns the settings."""
    cols = st.columns(6)
    cols[0].markdown(f"**{title}**")
    return {n: urlstate.control("number_input", ar.SETTING_TITLES[n], key, col, help=ar.SETTING_HELP[n], **bounds(key))
            for col, (n, key) in zip(cols[1:], keys.items())}


def examples(keys: dict[str, str]) -> None:
    """Buttons that load the solver's examples into its widgets (`keys`: the solver's argument -> widget key)."""
    with st.container(horizontal=True):
        st.markdown("**Try:**")
        for label, (op, unknown, size_in, size_out, known) in ar.SOLVER_EXAMPLES.items():
            example = {"op": op, "unknown": unknown, "size_in": size_in, "size_out": size_out, **known}
            st.button(label, on_click=st.session_state.update, args=({keys[n]: v for n, v in example.items()},),
                      disabled=urlstate.locked(keys["unknown"]))


def description(on_preset: Callable[[], None]) -> None:
    """The box for a network's description and, beside it, a preset to start from, the input shape and the syntax."""
    left, right = st.columns([2, 1])
    urlstate.control("selectbox", "Start from", "preset", right, options=list(netspec.PRESETS), on_change=on_preset,
                     help="Loads a ready-made description into the box (your edits are replaced).")
    right.caption(netspec.PRESETS[st.session_state["preset"]].about)
    urlstate.control("text_input", "Input shape (channels × height × width)", "shape", right,
                     help="e.g. 1x28x28 for MNIST, 3x32x32 for CIFAR-10, or a number of features such as 784.")
    right.expander("How to write a network").markdown(netspec.CHEAT_SHEET)
    lines = st.session_state["net"].count("\n") + 1
    urlstate.control("text_area", "One layer per line", "net", left, height=max(200, min(640, 33 * lines + 40)))


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


def solver_inputs(op: str, unknown: str, keys: dict[str, str], bounds: Callable[[str], dict[str, int]]
                  ) -> tuple[int, int, dict[str, Any]]:
    """The solver's boxes in one row: (input size, output size, the settings given); pooling's flags below."""
    cols = st.columns(6)
    size_in = urlstate.control("number_input", "Input size", "sin", cols[0], **bounds("sin"))
    size_out = urlstate.control("number_input", "Output size", "sout", cols[1], **bounds("sout"))
    pool = op in ("maxpool", "avgpool")
    given = [n for n in ar.SETTINGS[op] if n != unknown and not (n == "stride" and pool and st.session_state["sskern"])]
    known: dict[str, Any] = {n: urlstate.control("number_input", ar.SETTING_TITLES[n], keys[n], col, **bounds(keys[n]))
                             for col, n in zip(cols[2:], given)}
    if pool:
        flags = st.columns(4)
        known["ceil_mode"] = bool(urlstate.control("toggle", "ceil_mode", "sceil", flags[0]))
        if unknown != "stride":
            urlstate.control("toggle", "Stride = kernel (PyTorch's default)", "sskern", flags[1])
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
def _column(name: str) -> Any:
    """The dataframe column of one of the table's columns: counts as localized numbers, the rest as text."""
    title, help = tables.DISPLAY_COLUMNS[name]
    width = "small" if name in ("biases", "params") else None
    if name in tables.COUNT_COLUMNS:
        return st.column_config.NumberColumn(title, help=help, format="localized", width=width)
    return st.column_config.TextColumn(title, help=help, width=width)


def layer_table(table: tables.LayerTable, hidden: bool, file_name: str) -> None:
    """The layer table as a dataframe, with its totals on top and a CSV of it (made on a click) below."""
    import pandas as pd

    from cnnviz.results import export

    rf = table.receptive_field
    m = st.columns(4)
    m[0].metric("Parameters", "?" if hidden else f"{table.total_params:,}")
    m[1].metric("Mult-adds per image", "?" if hidden else f"{table.total_mult_adds / 1e6:,.2f} M")
    m[2].metric("Output", "?" if hidden else tables.shape_text(table.output_shape))
    m[3].metric("Receptive field", "—" if rf is None else f"{rf[0]} × {rf[1]}",
                help="Input pixels (height × width) one unit of the last convolution or pooling layer sees.")
    order = [c for c in tables.DISPLAY_COLUMNS if not (hidden and c in tables.ANSWER_COLUMNS)]
    frame = pd.DataFrame(tables.display_rows(table))[order]  # in quiz mode the answers are not even sent to the browser
    config = {c: _column(c) for c in tables.DISPLAY_COLUMNS}
    st.dataframe(frame, hide_index=True, column_order=order, column_config=config,
                 height=min(38 + 36 * len(frame), 760), row_height=36, placeholder="")
    titles = {c: title for c, (title, _) in tables.DISPLAY_COLUMNS.items()}
    st.download_button("⬇ Layer table (CSV)", file_name=file_name, mime="text/csv", on_click="ignore",
                       data=lambda: export.csv(frame.rename(columns=titles)))
    for note in table.notes:
        st.caption(note)


def refused(exc: ValueError) -> None:
    """Why a description gives no table: over one of cnnviz's size limits, or impossible (naming the layer)."""
    if isinstance(exc, limits.TooLarge):
        st.error(f"**This network is too large for cnnviz.** {exc}", icon="🚫")
    else:
        st.error(f"**This network cannot work.** {exc}", icon="🚫")


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
