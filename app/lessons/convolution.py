"""Lesson: step through a convolution cell by cell, with the window, the kernel and the worked sum on screen."""
from __future__ import annotations

import streamlit as st

from app import stepper, urlstate
from cnnviz.lessons import figures, kernels
from cnnviz.lessons.stepping import Conv

MODES = {"cross": "Cross-correlation (what PyTorch computes)", "conv": "True convolution (textbook)"}
# each control's choices, for its widget and for the link alike
CHANNELS = [1, 2, 3]
SIDES, KSIZES, BIASES = list(range(3, 13)), list(range(1, 8)), range(-99, 100)

urlstate.init({"image": "Square", "rows": 6, "cols": 6, "chans": 1, "x": "", "kernel": "Sobel x", "k": 3,
               "w": "", "bias": 0, "pad": "0", "stride": 1, "dil": 1, "mode": "cross", "step": 0, "quiz": False},
              allowed={"image": kernels.IMAGES, "kernel": kernels.KERNELS, "chans": CHANNELS, "pad": stepper.PADDINGS,
                       "stride": stepper.STRIDES, "dil": stepper.DILATIONS, "mode": list(MODES), "rows": SIDES,
                       "cols": SIDES, "k": KSIZES, "bias": BIASES, "step": stepper.STEPS})
st.html(stepper.BIG_TEXT)

st.title("🔢 Step through a convolution")
if not urlstate.teacher_mode():  # on a projector the teacher says it, and the grids get the room
    st.markdown("##### Slide the kernel over the input: multiply the numbers that overlap, add the products up, "
                "write the sum into the output.")

# ---------------------------------------------------------------------------------------------- settings
# On a projector in teacher mode the settings fold into one button: the grids and the working get the screen.
top = st.container(horizontal=True, vertical_alignment="center", gap="medium")
place = top.popover("⚙️ Settings", width="content") if urlstate.teacher_mode() else st.container()
bar = place.container(horizontal=True, gap="medium")  # fixed-width controls that wrap on narrow screens
urlstate.control("selectbox", "Input", "image", where=bar, options=kernels.IMAGES, width=180,
                 on_change=stepper.reset_text("x"))
urlstate.control("selectbox", "Kernel", "kernel", where=bar, options=kernels.KERNELS, width=180,
                 on_change=stepper.reset_text("w"),
                 help="; ".join(f"{k}: {v}" for k, v in kernels.ABOUT_KERNELS.items()))
urlstate.control("selectbox", "Channels", "chans", where=bar, options=CHANNELS, width=130,
                 help="Input channels (a colour image has 3). Each has its own kernel slice; the sums are added, "
                      "then the bias.")
stepper.geometry_controls(bar)
mode_col, size_col = place.columns([1, 1], vertical_alignment="center")
urlstate.control("radio", "Mode", "mode", where=mode_col, options=list(MODES), format_func=MODES.get, horizontal=True,
                 label_visibility="collapsed")
quiz = stepper.quiz_toggle(mode_col)
size_slot = (top if urlstate.teacher_mode() else size_col).empty()  # the output size, once the settings are known
flip = st.session_state["mode"] == "conv"
if flip:
    st.info("**True convolution rotates the kernel by 180° before sliding it** (shown below). Textbooks use it "
            "because it makes convolution commutative, as in signal processing; PyTorch's `Conv2d` skips the "
            "rotation (cross-correlation), which costs a network nothing: it simply learns the rotated kernel.",
            icon="🔄")

chans, rows, cols, ksize = (int(st.session_state[k]) for k in ("chans", "rows", "cols", "k"))
with place.expander("✏️ Sizes, bias and the numbers themselves (click a cell to type)"):
    s = st.columns(4)
    urlstate.control("select_slider", "Input rows", "rows", where=s[0], options=SIDES)
    urlstate.control("select_slider", "Input columns", "cols", where=s[1], options=SIDES)
    urlstate.control("select_slider", "Kernel size", "k", where=s[2], options=KSIZES)
    urlstate.control("number_input", "Bias", "bias", where=s[3], step=1, min_value=BIASES.start,
                     max_value=BIASES.stop - 1)
    try:
        x, w = stepper.input_and_kernel((chans, rows, cols), ksize, [3, 2])
        problem = None
    except ValueError as err:  # e.g. an even-sized Sobel kernel
        problem = str(err)
if problem:
    stepper.error(problem)

pad = st.session_state["pad"]
try:
    conv = Conv.make(x, w, int(st.session_state["bias"]), pad if pad == "same" else int(pad),
                     int(st.session_state["stride"]), int(st.session_state["dil"]), flip=flip)
except ValueError as err:
    stepper.error(str(err))
size_slot.markdown(figures.conv_size(conv))

# ---------------------------------------------------------------------------------------------- stepping
stepper.walk(conv, lambda k, hide: figures.conv_scene(conv, k, hide, same=pad == "same"),
             lambda k: figures.conv_ask(conv, k), lambda k: "cell ({}, {})".format(*conv.cell(k)), quiz)

st.divider()
st.subheader("✍️ Check my answer")
stepper.check_answer("conv", conv.output(), lambda i, j: conv.step(i, j).lines)
urlstate.publish()
