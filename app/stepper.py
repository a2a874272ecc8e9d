"""Page-side pieces shared by the stepped lessons (convolution, pooling, transposed convolution, kernels on a picture).

Grid editors whose edits travel in the URL, the step controls (previous, next, play, slider), the quiz at each
step and "check my answer"; what they compute lives in cnnviz.lessons (kernels, playback, figures). NumPy only:
these pages must not import PyTorch.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app import quiz, urlstate
from cnnviz.lessons import gridhtml as gh
from cnnviz.lessons import groups, kernels, playback
from cnnviz.lessons.figures import Ask
from cnnviz.lessons.stepping import fmt, mark_answer

BIG_TEXT = """<style>
/* projector: larger widget labels and buttons on the stepped lessons */
[data-testid="stWidgetLabel"] p {font-size: 1.05rem;}
[data-testid="stBaseButton-secondary"] p, [data-testid="stBaseButton-primary"] p {font-size: 1.15rem;}
/* two lines beside teacher mode's settings button (which inputs a channel reads, the output size) in its height */
.st-key-size_line p {line-height: 1.25; margin: 0;}
</style>"""


EDITOR_COLUMNS = 10  # grid columns (index included) that fit across a 1366 px page (~75 px each); more: channels stack
ANSWER_ROOM = 300  # px a phone (390 px wide) leaves the answer grid's columns beside its row numbers and margins
ANSWER_INDEX = 36  # px: the answer grid's row numbers
STEPS = range(0, 10**4)  # a step a link may name; `stepped` then keeps it within the lesson's own steps
PADDINGS = [str(p) for p in range(7)] + ["same"]  # a convolution's choices, for its widgets and the link alike
STRIDES, DILATIONS = [1, 2, 3, 4], [1, 2, 3]


def image_preset(rows: int, cols: int) -> Callable[[int], np.ndarray]:
    """Filler for an input grid editor: channel -> the chosen preset image at this size."""
    return lambda ch: kernels.image(st.session_state["image"], rows, cols, ch)


def kernel_preset(size: int, outputs: Sequence[int] = ()) -> Callable[[int], np.ndarray]:
    """Filler for a kernel grid editor: slice -> the chosen preset kernel at this size. With `outputs` (each slice's
    output channel, from 0) the other output channels start from the presets after it that this size allows (Sobel
    x, then Sobel y, Laplacian...), so that each looks for something else."""
    names = groups.channel_presets(st.session_state["kernel"], _presets(size), max(outputs, default=0) + 1)
    return lambda s: kernels.kernel(names[outputs[s] if outputs else 0], size)


def _presets(size: int) -> list[str]:
    """The preset kernels, blank 'Custom' aside, that can be made at this size (Sobel and Laplacian: odd sizes)."""
    made = []
    for name in kernels.KERNELS:
        try:
            kernels.kernel(name, size)
        except ValueError:
            continue
        if name != "Custom":
            made.append(name)
    return made


def geometry_controls(bar: Any) -> None:
    """Padding, stride and dilation of a stepped convolution, in `bar` (forward and backward lessons alike)."""
    urlstate.control("selectbox", "Padding", "pad", where=bar, options=PADDINGS, width=130,
                     help="Rings of zeros around the input. 'same' pads just enough to keep the size (stride 1 only).")
    urlstate.control("selectbox", "Stride", "stride", where=bar, options=STRIDES, width=130,
                     help="How far the kernel jumps.")
    urlstate.control("selectbox", "Dilation", "dil", where=bar, options=DILATIONS, width=130,
                     help="Gaps between the kernel's taps: dilation 2 skips every other cell.")


def show(*parts: str) -> None:
    """Draw grids, operators and working (cnnviz.lessons.gridhtml parts) as one HTML block."""
    st.html(gh.page(*parts))


def error(message: str) -> None:
    """An impossible setting, said plainly, and the page stops there."""
    st.error(f"**That setting does not work:** {message}", icon="🚫")
    urlstate.publish()
    st.stop()


# ---------------------------------------------------------------------------------------------- editing
def grids(text_key: str, preset: Callable[[int], np.ndarray], shape: tuple[int, int, int]) -> np.ndarray:
    """The (C, H, W) grids now in use: the edited ones kept in the URL under `text_key`, else the preset."""
    text = urlstate.confine(text_key, lambda t: not t or kernels.from_text(t, shape) is not None, "")
    return kernels.edited(text, np.stack([preset(c) for c in range(shape[0])]))


def editors(text_key: str, current: np.ndarray, preset: Callable[[int], np.ndarray], titles: list[str]) -> np.ndarray:
    """One `st.data_editor` per channel; edits are stored as URL text under `text_key` and returned.

    Each editor keeps showing the grid it started from (its edits pile up in its own state), so several
    edits in a row all count; a new preset (see `reset_text`) or a new size starts fresh editors. A link that
    locks `text_key` (`lock=x`) greys them out.
    """
    base_key, version_key = f"{text_key}_base", f"{text_key}_version"
    base = st.session_state.get(base_key)
    if base is None or base.shape != current.shape:
        st.session_state[base_key] = base = current.copy()
        st.session_state[version_key] = st.session_state.get(version_key, 0) + 1
    version = st.session_state[version_key]
    side_by_side = len(base) > 1 and len(base) * (base.shape[2] + 1) <= EDITOR_COLUMNS
    cols = st.columns(len(base)) if side_by_side else [st.container() for _ in base]
    out, disabled = base.copy(), urlstate.locked(text_key)
    lo, hi = kernels.CELLS.start, kernels.CELLS.stop - 1
    config = {str(j): st.column_config.NumberColumn(str(j), step=1, width="small", min_value=lo, max_value=hi)
              for j in range(base.shape[2])}
    for c, (col, title) in enumerate(zip(cols, titles)):
        frame = pd.DataFrame(base[c], columns=[str(j) for j in range(base.shape[2])])
        with col:
            edited = st.data_editor(frame, key=f"{text_key}_editor_{c}_v{version}", num_rows="fixed",
                                    column_config=config, disabled=disabled, row_height=38, width="content")
            if title:
                st.caption(title)
        out[c] = kernels.typed(edited.to_numpy(dtype=np.float64))
    st.session_state[text_key] = kernels.edit_text(out, np.stack([preset(c) for c in range(base.shape[0])]))
    return out


def input_and_kernel(shape: tuple[int, int, int], ksize: int, widths: list[int],
                     slices: Sequence[tuple[int, int]] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The (C, H, W) input and (slices, k, k) kernel grids now in use (presets or the student's edits), with their
    editors.

    `slices`: (output channel, input channel) of each kernel slice (cnnviz.lessons.groups.kernel_slices) when
    there are several output channels; by default one slice per input channel, for one output channel.
    Raises:
        ValueError: a preset that cannot be made at this size (an even-sized Sobel kernel): no editors then.
    """
    chans, rows, cols = shape
    titles = [f"channel {ch + 1}" for ch in range(chans)] if chans > 1 else [""]
    outputs = [o for o, _ in slices]
    several = any(outputs)  # several output channels: each slice named by the two channels it joins
    slices = slices if several else [(0, c) for c in range(chans)]
    titles_w = [f"output {o + 1} ← input {i + 1}" for o, i in slices] if several else titles
    image, kernel = image_preset(rows, cols), kernel_preset(ksize, outputs)
    x, w = grids("x", image, shape), grids("w", kernel, (len(slices), ksize, ksize))
    # one channel: input and kernel side by side; several: one above the other, so each channel's grid fits
    left, right = st.columns(widths) if chans == 1 else (st.container(), st.container())
    with left:
        st.markdown("**Input**")
        x = editors("x", x, image, titles)
    with right:
        st.markdown("**Kernels**: each output channel its own, from the chosen preset and those after it"
                    if several else "**Kernel**")
        w = editors("w", w, kernel, titles_w)
    return x, w


def output_channel(outs: int, where: Any = None) -> int:
    """The output channel to step (from 0; put `"och": 1` in the page's urlstate.init), picked in `where` (else
    a new row) when the layer has several."""
    urlstate.confine("och", range(1, outs + 1), outs)  # fewer output channels now: the last one
    if outs > 1:
        urlstate.control("radio", "Output channel to step", "och", where=where or st.container(),
                         options=list(range(1, outs + 1)), horizontal=True,
                         label_visibility="collapsed" if urlstate.teacher_mode() else "visible",
                         help="Each output channel is one filter's own convolution; step one at a time. A layer "
                              "writes the same cell of every output channel at once, so all of them fill in as you "
                              "step.")
    return int(st.session_state["och"]) - 1


def reset_text(*keys: str) -> Callable[[], None]:
    """A widget callback that drops edited grids and their editors (when another preset is picked)."""
    def _reset() -> None:
        for key in keys:
            st.session_state[key] = ""
            st.session_state.pop(f"{key}_base", None)
    return _reset


# ---------------------------------------------------------------------------------------------- stepping
# ← and → step, Home goes to the start, Space plays: each presses the step control's button, so the keys do exactly
# what the buttons do (and nothing while they are greyed out). Keys typed into a field, a slider or a grid editor
# stay theirs, and Space on a focused button or link presses that one.
KEYS = ("const cvKeys = {ArrowLeft: 'prev', ArrowRight: 'next', Home: 'first', ' ': 'play'};"
        " if (!window.cvStepKeys) { window.cvStepKeys = true; document.addEventListener('keydown', e => {"
        " const name = cvKeys[e.key]; const at = document.activeElement;"
        " if (!name || !window.cvStepKey || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;"
        " if (at && at.closest('input, textarea, select, [role=slider], [role=grid], [contenteditable]')) return;"
        " if (e.key === ' ' && at && at.closest('button, a, [role=radio], [role=checkbox]')) return;"
        " const button = document.querySelector(`.st-key-${window.cvStepKey}_${name} button`);"
        " if (!button) return; e.preventDefault(); if (!button.disabled) button.click(); }); }")


def keyboard(key: str) -> None:
    """Let ←, →, Home and Space press the step controls of `key` on this page."""
    st.html(f"<script>window.cvStepKey = {key!r}; {KEYS}</script>", unsafe_allow_javascript=True)


def _clamp(key: str, n: int) -> None:
    """The step within 0..n-1: a link's step past the end shows the last one, with the link's note."""
    urlstate.confine(key, range(n), playback.clamp(st.session_state.get(key, 0), n))


def _move(key: str, n: int, delta: int | None) -> Callable[[], None]:
    def _go() -> None:
        st.session_state[f"{key}_playing"] = False
        st.session_state[key] = playback.moved(int(st.session_state.get(key, 0)), n, delta)
    return _go


def _toggle_play(key: str, n: int) -> None:
    playing = not st.session_state.get(f"{key}_playing", False)
    st.session_state[f"{key}_playing"] = playing
    if playing:
        st.session_state[key] = playback.play_from(int(st.session_state.get(key, 0)), n)
    st.session_state[f"{key}_tick"] = time.monotonic()


def stepped(key: str, n: int, draw: Callable[[int], None], describe: Callable[[int], str],
            noun: str = "output cell", interval: float = 1.2, play: bool = True) -> None:
    """Previous / next / play / slider over steps 0..n-1, with `draw(step)` below; only this part reruns in play.

    The step lives in `st.session_state[key]` (put `key` in the page's urlstate.init). `play=False` takes the
    Play button away (a lesson that asks a question at every step).
    """
    _clamp(key, n)
    playing_key, tick_key = f"{key}_playing", f"{key}_tick"
    if not play:
        st.session_state[playing_key] = False
    playing = bool(st.session_state.get(playing_key, False)) and n > 1
    locked = urlstate.locked(key)

    @st.fragment(run_every=interval if playing else None)
    def _stepper() -> None:
        now_playing = bool(st.session_state.get(playing_key, False)) and n > 1
        if now_playing != playing:  # play/pause changes how often this part reruns: redraw the page
            st.rerun(scope="app")
        if now_playing and time.monotonic() - st.session_state.get(tick_key, 0) >= 0.8 * interval:
            st.session_state[tick_key] = time.monotonic()
            step, going_on = playback.tick(st.session_state[key], n)
            if not going_on:  # the last step: Play stops
                st.session_state[playing_key] = False
                st.rerun(scope="app")
            st.session_state[key] = step
        if not urlstate.hidden(key):
            bar = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
            bar.button("", icon=":material/first_page:", key=f"{key}_first", on_click=_move(key, n, None),
                       help=f"Back to the first {noun} (Home key)", disabled=locked)
            bar.button("Previous", icon=":material/chevron_left:", key=f"{key}_prev", on_click=_move(key, n, -1),
                       help="← key", disabled=locked or st.session_state[key] == 0)
            bar.button("Next", icon=":material/chevron_right:", icon_position="right", key=f"{key}_next", help="→ key",
                       on_click=_move(key, n, +1), type="primary", disabled=locked or st.session_state[key] >= n - 1)
            bar.button("Pause" if now_playing else "Play", icon=":material/pause:" if now_playing
                       else ":material/play_arrow:", key=f"{key}_play", on_click=_toggle_play, args=(key, n),
                       help="Space bar", disabled=locked or n < 2 or not play)
            if n > 1:
                bar.select_slider(f"Step ({n} in all)", options=list(range(n)), key=key, disabled=locked,
                                  label_visibility="collapsed" if urlstate.teacher_mode() else "visible",
                                  format_func=lambda k: f"{k + 1}: {describe(k)}", width="stretch")
        draw(int(st.session_state[key]))
        urlstate.publish()

    if not locked and not urlstate.hidden(key):
        keyboard(key)
    _stepper()


# ---------------------------------------------------------------------------------------------- the quiz
def walk(lesson: Any, scene: Callable[[int, bool], list[str]], ask: Callable[[int], Ask],
         describe: Callable[[int], str], predicting: bool, noun: str = "output cell") -> None:
    """A lesson's steps under the step controls: `scene(k, hide)` draws step k (cnnviz.lessons.figures); with
    `predicting` (the quiz toggle) the student first locks in `ask(k)`, the step's answer and working held back."""
    question = playback.question(lesson)

    def draw(k: int) -> None:
        show(*scene(k, predicting and guess(question, k) is None))
        if predicting:
            answer_box(question, k, ask(k))

    stepped("step", lesson.n_steps, draw, describe, noun=noun, play=not predicting)


def quiz_toggle(where, cell: str = "the output cell") -> bool:
    """The 'Predict each cell first' switch; put `"quiz": False` in the page's urlstate.init."""
    return bool(urlstate.control("toggle", "🤔 Predict each cell first", "quiz", where=where,
                                 help=f"At every step, work out {cell} by hand and lock it in; then the page "
                                      "shows the cell and its working."))


def guess(question: tuple, k: int) -> float | None:
    """The value the student locked in for step k of `question` (the lesson and all its settings), if any."""
    said = quiz.locked_in((question, k))
    return None if said is None else said[0]


def answer_box(question: tuple, k: int, ask: Ask) -> None:
    """Below a step's figures: a box to lock a value in while there is none, then whether it was right."""
    said = guess(question, k)
    if said is None:
        quiz.ask((question, k), lambda: [st.number_input(f"🤔 {ask.grid} cell {ask.cell} =", value=None, step=1.0,
                                                         format="%g", placeholder=ask.hint)],
                 "🔒 Lock in and show the working", "Type a number first.")
    elif mark_answer(np.array([ask.truth]), np.array([said]))[0] == "right":
        st.success(f"✅ You said {fmt(said)}: right.")
    else:
        st.error(f"❌ You said {fmt(said)}; cell {ask.cell} is **{fmt(ask.truth)}**. {ask.why}")


# ---------------------------------------------------------------------------------------------- checking
def check_answer(key: str, truth: np.ndarray, explain: Callable[[int, int], list[str]],
                 noun: str = "output") -> None:
    """A blank grid the student fills in; wrong cells are marked and each gets its correct working."""
    rows, cols = truth.shape
    frame = pd.DataFrame(np.full(truth.shape, np.nan), columns=[str(j) for j in range(cols)])
    # Columns narrow enough that a phone shows all of up to 7 (a 3 x 5 output: 60 px each), at most the input
    # editors' 75 px: the editor is a canvas that would otherwise hide its last columns behind a sideways scroll.
    side = gh.cell_size(rows, cols, ANSWER_ROOM, largest=75, smallest=40, height=10**4)
    config = {str(j): st.column_config.NumberColumn(str(j), width=side) for j in range(cols)}
    config["_index"] = st.column_config.NumberColumn(width=ANSWER_INDEX)
    left, right = st.columns(2)  # half a 1366 px page holds the editor; a phone stacks the halves
    with left:
        st.markdown(f"Type the {noun} you worked out by hand ({rows} × {cols}); empty cells are not marked.")
        typed = st.data_editor(frame, key=f"answer_{key}_{playback.digest(truth)}", num_rows="fixed",
                               column_config=config, row_height=38, width="content", placeholder="")
    answer = typed.to_numpy(dtype=np.float64)
    marks = mark_answer(truth, answer)
    n_right, n_wrong = int((marks == "right").sum()), int((marks == "wrong").sum())
    with right:
        if n_right + n_wrong == 0:
            st.info("Fill in some cells to have them checked.")
            return
        shown = np.where(np.isnan(answer), None, answer).astype(object)
        classes = np.where(marks == "blank", "todo", marks).astype(object)
        show(gh.grid(shown, classes=classes, title="Your answer", cell=gh.cell_size(rows, cols, 420, 52),
                     name="answer"))
        summary = f"**{n_right} right, {n_wrong} wrong**, {rows * cols - n_right - n_wrong} blank."
        if n_wrong == 0:
            st.success(summary + (" All correct! 🎉" if n_right == rows * cols else " So far so good."))
        else:
            st.error(summary)
    for i, j in zip(*np.nonzero(marks == "wrong")):
        st.html(gh.page(gh.working(explain(int(i), int(j)),
                                   head=f"Cell ({i}, {j}): you wrote {fmt(answer[i, j])}, the answer is "
                                        f"{fmt(truth[i, j])}")))
