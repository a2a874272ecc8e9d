"""Lesson: max and average pooling, stepped window by window like the convolution."""
from __future__ import annotations

import streamlit as st

from app import stepper, urlstate
from cnnviz.lessons import figures, kernels
from cnnviz.lessons.stepping import Pool

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
urlstate.control("selectbox", "Input", "image", where=bar, options=kernels.IMAGES, width=180,
                 on_change=stepper.reset_text("x"))
urlstate.control("selectbox", "Pooling", "pool", where=bar, options=list(MODES), format_func=MODES.get, width=190)
urlstate.control("selectbox", "Window", "k", where=bar, options=WINDOWS, width=130, help="The window is k × k cells.")
urlstate.control("selectbox", "Stride", "stride", where=bar, options=STRIDES, width=130,
                 help="How far the window jumps; PyTorch's default is the window size (no overlap).")
urlstate.control("selectbox", "Padding", "pad", where=bar, options=PADDINGS, width=130,
                 help="At most half the window. Max pooling pads with -∞ (never the maximum); average pooling "
                      "with 0.")
mode = st.session_state["pool"]
if mode == "avg":
    urlstate.control("checkbox", "Padding counts in the average", "incl", where=bar,
                     help="PyTorch's count_include_pad (True by default): divide by the whole window, "
                          "padding included, or only by the real cells.")
quiz = stepper.quiz_toggle(bar)
rows, cols = int(st.session_state["rows"]), int(st.session_state["cols"])

with st.expander("✏️ Size and the numbers themselves (click a cell to type)"):
    s = st.columns(2)
    urlstate.control("select_slider", "Input rows", "rows", where=s[0], options=SIDES)
    urlstate.control("select_slider", "Input columns", "cols", where=s[1], options=SIDES)
    image_preset = stepper.image_preset(rows, cols)
    x = stepper.editors("x", stepper.grids("x", image_preset, (1, rows, cols)), image_preset, [""])

try:
    pool = Pool.make(x[0], mode, *(int(st.session_state[key]) for key in ("k", "stride", "pad")),
                     bool(st.session_state["incl"]))
except ValueError as err:
    stepper.error(str(err))
st.markdown(figures.pool_size(pool))

stepper.walk(pool, lambda k, hide: figures.pool_scene(pool, k, hide), lambda k: figures.pool_ask(pool, k),
             lambda k: "cell ({}, {})".format(*pool.cell(k)), quiz)

st.divider()
st.subheader("✍️ Check my answer")
if mode == "avg":
    st.caption("Averages may be typed rounded to two decimals.")
stepper.check_answer("pool", pool.output(), lambda i, j: pool.step(i, j).lines)
urlstate.publish()
