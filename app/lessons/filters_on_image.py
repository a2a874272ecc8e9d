"""Lesson: a kernel slid over a whole picture, at full resolution, and what its response looks like."""
from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from app import stepper, urlstate, widgets
from cnnviz.lessons import gridhtml as gh
from cnnviz.lessons import kernels
from cnnviz.lessons.stepping import Conv, fmt

SOURCES = {"pattern": "🔷 Pattern", "picture": "🖼️ Photo, test image or upload"}
SHOW_SIDE = 420  # px: pictures are shown about this wide (small ones enlarged by whole pixels)
KSIZES = list(range(1, 8))  # the kernel sizes, for the widget and for the link alike

urlstate.init({"src": "pattern", "pic": "Shapes", "kernel": "Sobel x", "k": 3, "w": "", "view": "signed"},
              allowed={"src": list(SOURCES), "pic": kernels.PICTURES, "kernel": kernels.KERNELS, "k": KSIZES,
                       "view": list(kernels.VIEWS)})
st.html(stepper.BIG_TEXT)

st.title("🖼️ Kernels on a picture")
st.markdown("#### The same few numbers, slid over every pixel of a whole picture. Edge kernels light up where "
            "the brightness changes and stay near zero where it is flat.")

c = st.columns([1.6, 1.2, 0.8, 1.6])
urlstate.control("radio", "Picture", "src", where=c[0], options=list(SOURCES), format_func=SOURCES.get)
urlstate.control("selectbox", "Kernel", "kernel", where=c[1], options=kernels.KERNELS,
                 on_change=stepper.reset_text("w"),
                 help="; ".join(f"{k}: {v}" for k, v in kernels.ABOUT_KERNELS.items()))
urlstate.control("selectbox", "Size", "k", where=c[2], options=KSIZES)
urlstate.control("radio", "Show the response", "view", where=c[3], options=list(kernels.VIEWS),
                 format_func=kernels.VIEWS.get)
ksize = int(st.session_state["k"])

if st.session_state["src"] == "pattern":
    urlstate.control("selectbox", "Pattern", "pic", where=c[0], options=kernels.PICTURES, label_visibility="collapsed")
    picture = Image.fromarray(kernels.picture(st.session_state["pic"]))
else:
    picture = widgets.image_picker("cifar10", key="img", preview=False)  # imports PyTorch only for test images
if picture is None:
    st.info("Choose a picture above to see the kernel's response.", icon="🖼️")
    urlstate.publish()
    st.stop()

kernel_preset = stepper.kernel_preset(ksize)
try:
    w = stepper.grids("w", kernel_preset, (1, ksize, ksize))
except ValueError as err:
    stepper.error(str(err))
with st.expander("✏️ Type your own kernel weights"):
    w = stepper.editors("w", w, kernel_preset, [""])

grey = np.asarray(picture.convert("L"), dtype=np.int64)  # (H, W) 0..255
try:
    response = Conv.make(grey, w[0], padding="same").output()  # (H, W): exact integers, full resolution
except ValueError as err:
    stepper.error(str(err))
shown_scale = kernels.display_scale(response, border=(ksize - 1) // 2)  # 99.5th percentile, frame left out
width = min(SHOW_SIDE * 3 // 2, max(SHOW_SIDE, grey.shape[1]))

left, mid, right = st.columns([1, 0.42, 1])
left.markdown(f"#### Input: {grey.shape[1]}×{grey.shape[0]} pixels, grey 0–255")
left.image(kernels.enlarged(grey.astype(np.uint8), SHOW_SIDE), width=width, alt="The input picture in grey")
title = st.session_state["kernel"] + (" (edited)" if st.session_state["w"] else "")
mid.html(gh.page(gh.row(gh.op("∗"), gh.grid(w[0], classes=np.full(w[0].shape, "kern", dtype=object), labels=False,
                                            cell=gh.cell_size(ksize, ksize, 220, 44, 26), title=title), gh.op("="))))
right.markdown(f"#### Response: values from {fmt(response.min())} to {fmt(response.max())}")
right.image(kernels.enlarged(kernels.response_picture(response, st.session_state["view"], shown_scale), SHOW_SIDE),
            width=width, alt=f"The kernel's response to the picture ({st.session_state['view']} view)")

st.markdown(f"**How to read it:** {kernels.view_legend(st.session_state['view'], shown_scale)} The response keeps "
            f"the picture's size (padding 'same': {(ksize - 1) // 2} ring(s) of zeros), so a frame of edges appears "
            "where the picture meets the padding.")
if st.session_state["kernel"] == "Box blur" and not st.session_state["w"]:
    st.caption(f"The box kernel adds up {ksize * ksize} pixels, so values reach {ksize * ksize} × 255; "
               f"divide by {ksize * ksize} for the blurred picture itself.")
urlstate.publish()
