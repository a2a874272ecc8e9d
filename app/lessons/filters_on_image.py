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
stepper.control(c[0], "radio", "Picture", "src", options=list(SOURCES), format_func=SOURCES.get)
stepper.control(c[1], "selectbox", "Kernel", "kernel", options=kernels.KERNELS, on_change=stepper.reset_text("w"),
                help="; ".join(f"{k}: {v}" for k, v in kernels.ABOUT_KERNELS.items()))
stepper.control(c[2], "selectbox", "Size", "k", options=KSIZES)
stepper.control(c[3], "radio", "Show the response", "view", options=list(kernels.VIEWS),
                format_func=kernels.VIEWS.get)
ksize = int(st.session_state["k"])

if st.session_state["src"] == "pattern":
    stepper.control(c[0], "selectbox", "Pattern", "pic", options=kernels.PICTURES, label_visibility="collapsed")
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
    w = stepper.editors("w", w, kernel_preset, [""], disabled=urlstate.locked("w"))

grey = np.asarray(picture.convert("L"), dtype=np.int64)  # (H, W) 0..255
try:
    response = Conv.make(grey, w[0], padding="same").output()  # (H, W): exact integers, full resolution
except ValueError as err:
    stepper.error(str(err))
low, high = response.min(), response.max()
shown_scale = kernels.display_scale(response, border=(ksize - 1) // 2)  # 99.5th percentile, frame left out


def enlarged(pixels: np.ndarray) -> np.ndarray:
    """Small pictures (a 32x32 test image) blown up by whole pixels so each stays a crisp square."""
    factor = max(1, SHOW_SIDE // max(pixels.shape[:2]))
    return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)


left, mid, right = st.columns([1, 0.42, 1])
with left:
    st.markdown(f"#### Input: {grey.shape[1]}×{grey.shape[0]} pixels, grey 0–255")
    st.image(enlarged(grey.astype(np.uint8)), width=min(SHOW_SIDE * 3 // 2, max(SHOW_SIDE, grey.shape[1])))
with mid:
    st.html(gh.page(gh.row(gh.op("∗"), gh.grid(w[0], classes=np.full(w[0].shape, "kern", dtype=object),
                                                cell=gh.cell_size(ksize, ksize, 220, 44, 26), labels=False,
                                                title=st.session_state["kernel"] + (" (edited)" if
                                                                                    st.session_state["w"] else "")),
                           gh.op("="))))
with right:
    st.markdown(f"#### Response: values from {fmt(low)} to {fmt(high)}")
    st.image(enlarged(kernels.response_picture(response, st.session_state["view"], shown_scale)),
             width=min(SHOW_SIDE * 3 // 2, max(SHOW_SIDE, grey.shape[1])))

view = st.session_state["view"]
scale = fmt(round(shown_scale))
legend = {"signed": f"White is 0; full red is +{scale} or more, full blue -{scale} or less "
                    "(99.5% of the pixels inside the frame lie in between).",
          "abs": f"Black is 0, white is {scale} or more (99.5% of the pixels inside the frame are below): "
                 "how strongly the kernel responds, whatever the sign.",
          "clip": "Values below 0 turn black and above 255 turn white, as when the response is saved as an image: "
                  "half of an edge detector's answer (the negative side) is lost."}[view]
st.markdown(f"**How to read it:** {legend} The response keeps the picture's size (padding 'same': "
            f"{(ksize - 1) // 2} ring(s) of zeros), so a frame of edges appears where the picture meets the padding.")
if st.session_state["kernel"] == "Box blur" and not st.session_state["w"]:
    st.caption(f"The box kernel adds up {ksize * ksize} pixels, so values reach {ksize * ksize} × 255; "
               f"divide by {ksize * ksize} for the blurred picture itself.")
urlstate.publish()
