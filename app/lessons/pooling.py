"""Lesson: max and average pooling, stepped window by window like the convolution."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app import stepper, urlstate
from cnnviz.lessons import gridhtml as gh
from cnnviz.lessons import kernels
from cnnviz.lessons.stepping import Pool, size_text

MODES = {"max": "Max pooling", "avg": "Average pooling"}
# each control's choices, for its widget and for the link alike
SIDES, WINDOWS, STRIDES, PADDINGS = list(range(2, 13)), [1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [0, 1, 2]

urlstate.init({"image": "Random digits", "rows": 6, "cols": 6, "x": "", "pool": "max", "k": 2, "stride": 2,
               "pad": 0, "incl": True, "step": 0, "quiz": False},
              allowed={"image": kernels.IMAGES, "rows": SIDES, "cols": SIDES, "pool": list(MODES),
                       "k": WINDOWS, "stride": STRIDES, "pad": PADDINGS, "step": stepper.STEPS})
st.html(stepper.BIG_TEXT)

st.title("🔽 Pooling")
st.markdown("#### Pooling shrinks a feature map: slide a window over it and keep one number per position, "
            "the largest (max pooling) or the mean (average pooling). There are no weights to learn.")

bar = st.container(horizontal=True, gap="medium", vertical_alignment="bottom")  # wraps on narrow screens
stepper.control(bar, "selectbox", "Input", "image", options=kernels.IMAGES, on_change=stepper.reset_text("x"),
                width=180)
stepper.control(bar, "selectbox", "Pooling", "pool", options=list(MODES), format_func=MODES.get, width=190)
stepper.control(bar, "selectbox", "Window", "k", options=WINDOWS, width=130,
                help="The window is k × k cells.")
stepper.control(bar, "selectbox", "Stride", "stride", options=STRIDES, width=130,
                help="How far the window jumps; PyTorch's default is the window size (no overlap).")
stepper.control(bar, "selectbox", "Padding", "pad", options=PADDINGS, width=130,
                help="At most half the window. Max pooling pads with -∞ (never the maximum); average pooling "
                     "with 0.")
mode = st.session_state["pool"]
if mode == "avg":
    stepper.control(bar, "checkbox", "Padding counts in the average", "incl",
                    help="PyTorch's count_include_pad (True by default): divide by the whole window, "
                         "padding included, or only by the real cells.")
quiz = stepper.quiz_toggle(bar)
rows, cols = int(st.session_state["rows"]), int(st.session_state["cols"])


image_preset = stepper.image_preset(rows, cols)

with st.expander("✏️ Size and the numbers themselves (click a cell to type)"):
    s = st.columns(2)
    stepper.control(s[0], "select_slider", "Input rows", "rows", options=SIDES)
    stepper.control(s[1], "select_slider", "Input columns", "cols", options=SIDES)
    x = stepper.grids("x", image_preset, (1, rows, cols))
    x = stepper.editors("x", x, image_preset, [""], disabled=urlstate.locked("x"))

k, stride, pad = (int(st.session_state[key]) for key in ("k", "stride", "pad"))
try:
    pool = Pool.make(x[0], mode, k, stride, pad, bool(st.session_state["incl"]))
except ValueError as err:
    stepper.error(str(err))

out = pool.output()
sizes = size_text(rows, k, pad, pad, stride, 1, "rows"), size_text(cols, k, pad, pad, stride, 1, "columns")
st.markdown(f"**Output size:** {sizes[0]}" + (" (the same for the columns)" if rows == cols else f";  {sizes[1]}"))


question = ("pool", x.tobytes(), x.shape, mode, k, stride, pad, bool(st.session_state["incl"]))


def draw(step_index: int) -> None:
    """The padded input with the window (and its maximum), the output so far, and the working."""
    i, j = pool.cell(step_index)
    step = pool.step(i, j)
    hide = quiz and stepper.guess(question, step_index) is None  # the cell, its maximum and working wait
    hp, wp = pool.pad_mask.shape
    win = gh.window_mask((hp, wp), step.rows, step.cols)
    best = np.zeros((hp, wp), dtype=bool)
    if step.winner is not None and not hide:
        best[step.rows[step.winner[0]], step.cols[step.winner[1]]] = True
    title = "Input" + (f", padded by {pad} ({'-∞' if mode == 'max' else '0'})" if pad else "")
    inp = gh.grid(pool.padded, classes=gh.classes_for((hp, wp), pad=pool.pad_mask, win=win, best=best),
                  cell=gh.cell_size(hp, wp, 620, 64, 28, height=440), row_offset=-pad, col_offset=-pad, name="input",
                  title=title)
    result = stepper.output_grid(out, step_index, 420, (i, j) if hide else None)
    items = [("pad", "padding"), ("win", "in the window")]
    items += [("best", "the maximum")] if mode == "max" else []
    items += [("cur", "the output cell being written"), ("todo", "still to come")]
    stepper.show(gh.legend(items), gh.row(inp, gh.op("→"), result,
                                          gh.working(["?"] if hide else step.lines, head=f"Output cell ({i}, {j}) = ",
                                                     result=not hide)))
    if quiz:
        biggest = "the largest number in the window"
        stepper.prediction(question, step_index, (i, j), step.value, biggest if mode == "max" else
                           "the mean of the window", f"Max pooling keeps {biggest} (marked in the input)."
                           if mode == "max" else "Average pooling adds the window up and divides by the count.")


stepper.stepped("step", pool.n_steps, draw, lambda n: "cell ({}, {})".format(*pool.cell(n)), play=not quiz)

st.divider()
st.subheader("✍️ Check my answer")
if mode == "avg":
    st.caption("Averages may be typed rounded to two decimals.")
stepper.check_answer("pool", out, lambda i, j: pool.step(i, j).lines)
urlstate.publish()
