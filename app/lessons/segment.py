"""Lesson: segmentation with a U-Net, a class for every pixel, and the checkerboard its upsampling can leave."""
from __future__ import annotations

import streamlit as st

from app import nav, state, urlstate

st.title("🧩 Segmentation: a class for every pixel")
st.markdown("#### A classifier gives one answer per picture. A segmentation network gives one per **pixel**: "
            "this U-Net says, for each of the 5,376 pixels of a canvas, whether it is background or part of a 0, "
            "a 1, … a 9.")


import models
from app import charts
from app.views import segment
from cnnviz.datasets import segments
from cnnviz.inside import decoder
from cnnviz.results import segmentation

urlstate.init({"model": "unet", "src": "test", "canvas": 0, "k": 3, "stride": 2},
              allowed={"model": models.names("segmentation"), "src": segment.SOURCES, "canvas": range(0, 2000),
                       "k": range(1, 6), "stride": range(1, 4)})

bar = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")  # wraps on a phone
name = segment.model_choice(bar)
if name is None:
    urlstate.publish()
    st.stop()
spec = models.spec(name)
test = state.canvases("test")
chosen = segment.picture(test, bar)
if chosen is None:
    urlstate.publish()
    st.stop()
canvas, truth, what = chosen
model = state.zoo_model(name)
pred = segmentation.predict(model, canvas[None], spec.mean, spec.std)[0]

st.subheader(f"What it sees in {what}")
segment.four_pictures(canvas, pred, truth)
card = state.model_meta(spec).get("card", {})
if truth is not None:
    found = segmentation.scores(pred[None], truth[None], len(segments.CLASSES))
    words, chart = st.columns([1, 2], gap="large")
    words.markdown(f"**Mean IoU on this canvas: {found.mean_iou:.0%}**, foreground F1 {found.foreground_f1:.1%}.")
    words.caption("IoU (intersection over union) of a digit: the pixels both maps call that digit, over the pixels "
                  "either calls it. 100 % is a perfect outline. Pixel accuracy would flatter every model: 96 % of "
                  "the pixels are background, so a model that says 'background' everywhere scores 96 %.")
    charts.show(segment.iou_chart(found.iou, card.get("iou")), chart, width="stretch")

st.subheader("Inside the U: the encoder shrinks, the decoder grows back")
st.markdown("The **encoder** halves the size three times (max pooling) while it learns *what* is there; the "
            "**decoder** doubles it three times to say *where*. Each decoder level also reads the encoder's maps "
            "of its own size, passed across by a **skip connection**, so the fine outlines lost by pooling "
            "come back.")
every = segment.every_unet_levels(canvas)
segment.levels_view(every[models.ZOO[name].title.split(" (")[0]])

st.subheader("Checkerboard artefacts: where the upsampling shows")
st.markdown("A transposed convolution paints *input value × kernel* blocks `stride` cells apart. When the kernel "
            "size is not a multiple of the stride, the blocks **overlap unevenly**: some output pixels receive "
            "more paint than their neighbours, and a grid pattern appears (Odena, Dumoulin & Olah, *Deconvolution "
            "and Checkerboard Artifacts*, Distill 2016).")
controls, grid = st.columns([1, 2], gap="large")
k = urlstate.control("select_slider", "Kernel size", "k", where=controls, options=list(range(1, 6)))
stride = urlstate.control("select_slider", "Stride", "stride", where=controls, options=list(range(1, 4)))
counts = decoder.overlap_counts(4, int(k), int(stride))
even = bool(counts.min() == counts.max())
controls.markdown(f"Each output pixel receives **{int(counts.min())} to {int(counts.max())}** kernel cells: "
                  + ("even, no pattern from overlap." if even else "uneven, a pattern every "
                     f"{stride} pixels."))
charts.show(segment.overlap_chart(counts), grid)
st.markdown("This U-Net uses kernel 2 and stride 2, so its blocks never overlap; but each of the four pixels of a "
            "2×2 block is still painted by **different kernel weights**, which can leave a 2-pixel rhythm. "
            "Nearest-neighbour upsampling copies each value into a 2×2 block, and a 3×3 convolution then mixes "
            "neighbours evenly: no rhythm. Below, the strength of the 2×2 pattern in each upsampled map (0: none; "
            "the spread of the four positions' averages over the map's own spread).")
rows = segment.checkerboard_rows(every)
if len(every) > 1:
    charts.show(segment.strength_chart(rows), width="stretch")
    for side, (title, levels) in zip(st.columns(len(every)), every.items()):
        segment.upsampled_closeup(levels, title, side)
else:
    st.dataframe(rows, hide_index=True)
    st.caption("Train the nearest-neighbour U-Net too (`python -m models.train_unet --upsample nearest`) to "
               "compare the two side by side.")

st.divider()
nav.link("transposed", "How a transposed convolution paints its output, cell by cell")
nav.link("train", "Train your own U-Net: transposed or nearest upsampling, ReLU or ELU, with or without skips")
urlstate.publish()
