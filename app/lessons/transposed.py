"""Lesson: transposed convolution, stepped input cell by input cell: each one paints value × kernel into the output."""
from __future__ import annotations

import streamlit as st

from app import nav, stepper, urlstate
from cnnviz.lessons import figures, kernels
from cnnviz.lessons.stepping import TransposedConv

# each control's choices, for its widget and for the link alike
SIDES, KSIZES, STRIDES, PADDINGS, DILATIONS = [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5], [1, 2, 3, 4], [0, 1, 2, 3], [1, 2, 3]

urlstate.init({"image": "Gradient", "rows": 3, "cols": 3, "x": "", "kernel": "Box blur", "k": 3, "w": "",
               "stride": 2, "pad": 0, "opad": 0, "dil": 1, "step": 0, "quiz": False},
              allowed={"image": kernels.IMAGES, "rows": SIDES, "cols": SIDES, "kernel": kernels.KERNELS,
                       "k": KSIZES, "stride": STRIDES, "pad": PADDINGS, "opad": PADDINGS,
                       "dil": DILATIONS, "step": stepper.STEPS})
st.html(stepper.BIG_TEXT)

st.title("🔼 Transposed convolution")
st.markdown("#### Convolution run backwards: every input cell paints *its value × the kernel* onto a bigger "
            "output, each block `stride` cells further on. Where blocks overlap, the values add up.")
st.info("This is the **upsampling of a U-Net decoder** (and of GAN generators): `nn.ConvTranspose2d(…, "
        "kernel_size=2, stride=2)` doubles the height and width of a feature map, with learned kernel weights "
        "instead of a fixed resize. With kernel 3 and stride 2 the blocks overlap unevenly, the cause of the "
        "'checkerboard' pattern upsampled images sometimes show.", icon="🧩")
nav.link("segment", "See it used: a U-Net that labels every pixel of a canvas of digits")

bar = st.container(horizontal=True, gap="medium")  # fixed-width controls that wrap on narrow screens
urlstate.control("selectbox", "Input", "image", where=bar, options=kernels.IMAGES, width=180,
                 on_change=stepper.reset_text("x"))
urlstate.control("selectbox", "Kernel", "kernel", where=bar, options=kernels.KERNELS, width=180,
                 on_change=stepper.reset_text("w"))
urlstate.control("selectbox", "Kernel size", "k", where=bar, options=KSIZES, width=130)
urlstate.control("selectbox", "Stride", "stride", where=bar, options=STRIDES, width=130,
                 help="How far apart the painted blocks start: the upsampling factor.")
urlstate.control("selectbox", "Padding", "pad", where=bar, options=PADDINGS, width=130,
                 help="In a transposed convolution padding *removes* this many rows and columns from every "
                      "side of the result.")
urlstate.control("selectbox", "Output padding", "opad", where=bar, options=PADDINGS, width=160,
                 help="Adds rows/columns at the bottom and right; must be smaller than the stride or the "
                      "dilation. It picks the output size when several input sizes would give the same conv output.")
urlstate.control("selectbox", "Dilation", "dil", where=bar, options=DILATIONS, width=130,
                 help="Gaps between the kernel's taps.")
quiz = stepper.quiz_toggle(bar, "what one cell of the block holds after the step")
rows, cols, ksize = (int(st.session_state[key]) for key in ("rows", "cols", "k"))

with st.expander("✏️ Sizes and the numbers themselves (click a cell to type)"):
    s = st.columns(2)
    urlstate.control("select_slider", "Input rows", "rows", where=s[0], options=SIDES)
    urlstate.control("select_slider", "Input columns", "cols", where=s[1], options=SIDES)
    try:
        x, w = stepper.input_and_kernel((1, rows, cols), ksize, [1, 1])
        problem = None
    except ValueError as err:  # e.g. an even-sized Sobel kernel
        problem = str(err)
if problem:
    stepper.error(problem)

try:
    tconv = TransposedConv.make(x, w, 0, *(int(st.session_state[key]) for key in ("stride", "pad", "opad", "dil")))
except ValueError as err:
    stepper.error(str(err))
st.markdown(figures.tconv_size(tconv))

stepper.walk(tconv, lambda k, hide: figures.tconv_scene(tconv, k, hide), lambda k: figures.tconv_ask(tconv, k),
             lambda k: "input cell ({1}, {2})".format(*tconv.source(k)), quiz, noun="input cell")

st.divider()
st.subheader("✍️ Check my answer")
stepper.check_answer("transposed", tconv.output(), lambda r, q: [tconv.gather(r, q)[1]])
urlstate.publish()
