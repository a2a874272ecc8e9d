"""Lesson: step through a convolution cell by cell, with the window, the kernel and the worked sum on screen."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app import stepper, urlstate
from cnnviz.lessons import gridhtml as gh
from cnnviz.lessons import kernels
from cnnviz.lessons.stepping import Conv, factor, fmt, size_text

PADDINGS = [str(p) for p in range(7)] + ["same"]
MODES = {"cross": "Cross-correlation (what PyTorch computes)", "conv": "True convolution (textbook)"}
# each control's choices, for its widget and for the link alike
CHANNELS, STRIDES, DILATIONS = [1, 2, 3], [1, 2, 3, 4], [1, 2, 3]
SIDES, KSIZES, BIASES = list(range(3, 13)), list(range(1, 8)), range(-99, 100)

urlstate.init({"image": "Square", "rows": 6, "cols": 6, "chans": 1, "x": "", "kernel": "Sobel x", "k": 3,
               "w": "", "bias": 0, "pad": "0", "stride": 1, "dil": 1, "mode": "cross", "step": 0, "quiz": False},
              allowed={"image": kernels.IMAGES, "kernel": kernels.KERNELS, "chans": CHANNELS, "pad": PADDINGS,
                       "stride": STRIDES, "dil": DILATIONS, "mode": list(MODES), "rows": SIDES,
                       "cols": SIDES, "k": KSIZES, "bias": BIASES, "step": stepper.STEPS})
st.html(stepper.BIG_TEXT)

st.title("🔢 Step through a convolution")
st.markdown("##### Slide the kernel over the input. At each position: multiply the numbers that overlap, "
            "add the products up, and write the sum into the output.")

# ---------------------------------------------------------------------------------------------- settings
bar = st.container(horizontal=True, gap="medium")  # fixed-width controls that wrap on narrow screens
stepper.control(bar, "selectbox", "Input", "image", options=kernels.IMAGES, on_change=stepper.reset_text("x"),
                width=180)
stepper.control(bar, "selectbox", "Kernel", "kernel", options=kernels.KERNELS, on_change=stepper.reset_text("w"),
                width=180, help="; ".join(f"{k}: {v}" for k, v in kernels.ABOUT_KERNELS.items()))
stepper.control(bar, "selectbox", "Channels", "chans", options=CHANNELS, width=130,
                help="Input channels (a colour image has 3). Each has its own kernel slice; the sums are added, "
                     "then the bias.")
stepper.control(bar, "selectbox", "Padding", "pad", options=PADDINGS, width=130,
                help="Rings of zeros around the input. 'same' pads just enough to keep the size (stride 1 only).")
stepper.control(bar, "selectbox", "Stride", "stride", options=STRIDES, width=130,
                help="How far the kernel jumps.")
stepper.control(bar, "selectbox", "Dilation", "dil", options=DILATIONS, width=130,
                help="Gaps between the kernel's taps: dilation 2 skips every other cell.")
mode_col, size_col = st.columns([1, 1], vertical_alignment="center")
stepper.control(mode_col, "radio", "Mode", "mode", options=list(MODES), format_func=MODES.get, horizontal=True,
                label_visibility="collapsed")
quiz = stepper.quiz_toggle(mode_col)
size_slot = size_col.empty()  # the output size, once the settings are known
flip = st.session_state["mode"] == "conv"
if flip:
    st.info("**True convolution rotates the kernel by 180° before sliding it** (shown below). Textbooks use it "
            "because it makes convolution commutative, as in signal processing; PyTorch's `Conv2d` skips the "
            "rotation (cross-correlation), which costs a network nothing: it simply learns the rotated kernel.",
            icon="🔄")

chans, rows, cols, ksize = (int(st.session_state[k]) for k in ("chans", "rows", "cols", "k"))


with st.expander("✏️ Sizes, bias and the numbers themselves (click a cell to type)"):
    s = st.columns(4)
    stepper.control(s[0], "select_slider", "Input rows", "rows", options=SIDES)
    stepper.control(s[1], "select_slider", "Input columns", "cols", options=SIDES)
    stepper.control(s[2], "select_slider", "Kernel size", "k", options=KSIZES)
    stepper.control(s[3], "number_input", "Bias", "bias", step=1, min_value=BIASES.start,
                    max_value=BIASES.stop - 1)
    try:
        x, w = stepper.input_and_kernel((chans, rows, cols), ksize, [3, 2])
        problem = None
    except ValueError as err:  # e.g. an even-sized Sobel kernel
        problem = str(err)
if problem:
    stepper.error(problem)

bias = int(st.session_state["bias"])
pad = st.session_state["pad"]
try:
    conv = Conv.make(x, w, bias, pad if pad == "same" else int(pad), int(st.session_state["stride"]),
                     int(st.session_state["dil"]), flip=flip)
except ValueError as err:
    stepper.error(str(err))

top, bottom, lft, rgt = conv.pads
out = conv.output()
sizes = [size_text(rows, ksize, top, bottom, conv.stride[0], conv.dilation[0], "rows"),
         size_text(cols, ksize, lft, rgt, conv.stride[1], conv.dilation[1], "columns")]
same = (rows, top, bottom) == (cols, lft, rgt)  # square kernel, stride and dilation: the sides agree
size_slot.markdown(f"**Output size:** {sizes[0]}" + (" (the same for the columns)" if same else f";  {sizes[1]}"))


# ---------------------------------------------------------------------------------------------- stepping
question = ("conv", x.tobytes(), w.tobytes(), x.shape, w.shape, bias, conv.pads, conv.stride, conv.dilation, flip)


def draw(k: int) -> None:
    """The padded input with the window, the kernel, the output so far, and the working for step k."""
    i, j = conv.cell(k)
    step = conv.step(i, j)
    hide = quiz and stepper.guess(question, k) is None  # the cell and its working wait for the student's answer
    hp, wp = conv.pad_mask.shape
    win = gh.window_mask((hp, wp), step.rows, step.cols)
    classes = gh.classes_for((hp, wp), pad=conv.pad_mask, win=win)
    room = 620 if chans == 1 else 1040 // chans - 50  # pixels for one padded input
    big = gh.cell_size(hp, wp, room, 64, 22, height=440)
    kcell = gh.cell_size(ksize, ksize, 320 if chans == 1 else room, 60 if chans == 1 else 48, 24)
    padded = ""
    if conv.pads != (0, 0, 0, 0):
        padded = (f", padded by {top}" if len(set(conv.pads)) == 1 else
                  f", padded {top} above, {bottom} below, {lft} left, {rgt} right")
        padded += " ('same')" if pad == "same" else ""
    figures = []
    for ch in step.channels:
        notes = None
        if big >= 40:  # room for the kernel weight in the corner of each window cell
            notes = np.full((hp, wp), "", dtype=object)
            notes[np.ix_(step.rows, step.cols)] = np.vectorize(lambda v: "×" + factor(v))(ch.weights)
        label = f"Channel {ch.channel + 1}" if chans > 1 else "Input"
        inp = gh.grid(conv.padded[ch.channel], classes=classes, notes=notes, cell=big, row_offset=-top,
                      col_offset=-lft, name=f"input{ch.channel}", title=label + padded)
        kern = [gh.grid(ch.weights, classes=np.full((ksize, ksize), "kern", dtype=object), cell=kcell,
                        name=f"kernel{ch.channel}", title="Rotated 180°" if flip else "Kernel")]
        if flip and chans == 1:  # with several channels only the rotated kernels fit (the editor has the rest)
            kern = [gh.grid(conv.kernel[ch.channel], cell=kcell, title="Kernel", name=f"given{ch.channel}"),
                    gh.op("⟳"), *kern]
        if chans == 1:
            figures = [inp, gh.op("×"), *kern]
        else:
            figures.append(gh.column(inp, gh.op("×"), gh.row(*kern), gh.text(f"sum: {fmt(ch.total)}", 30)))
    result = stepper.output_grid(out, k, 440, (i, j) if hide else None)
    answer = gh.working(["?"] if hide else step.lines, head=f"Output cell ({i}, {j}) = ", result=not hide)
    if chans == 1:
        layout = gh.row(*figures, *([gh.text(f"+ bias {fmt(bias)}", 30)] if bias else []), gh.op("→"), result,
                        answer)
    else:
        sums = " + ".join(f"({fmt(c.total)})" if c.total < 0 else fmt(c.total) for c in step.channels)
        total = f"{sums}{f' + bias {fmt(bias)}' if bias else ''} = {fmt(step.value)}"
        layout = gh.row(*figures) + gh.row(gh.text(total, 30), gh.op("→"), result, answer)
    stepper.show(gh.legend([("pad", "padding (zeros)"), ("win", "under the kernel (small blue: kernel weight)"),
                            ("cur", "the output cell being written"), ("todo", "still to come")]), layout)
    if quiz:
        stepper.prediction(question, k, (i, j), step.value, "multiply the overlapping numbers and add them up"
                           + (", then the bias" if bias else ""), "The working adds up each product of an input "
                           "number and the kernel weight over it" + (", then the bias." if bias else "."))


stepper.stepped("step", conv.n_steps, draw, lambda k: "cell ({}, {})".format(*conv.cell(k)), play=not quiz)

st.divider()
st.subheader("✍️ Check my answer")
stepper.check_answer("conv", out, lambda i, j: conv.step(i, j).lines)
urlstate.publish()
