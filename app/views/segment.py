"""Parts of the segmentation lesson: the picture picker, the four pictures, per-class IoU, the U's levels and the
checkerboard, each drawn from numbers the library computed."""
from __future__ import annotations

import hashlib
import html
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch
from PIL import Image

import models
from app import state, urlstate, widgets
from cnnviz.datasets import images, segments
from cnnviz.inside import decoder, render

SCALE = 4         # canvas pixels -> screen pixels: 84 x 64 shown as 336 x 256
SOURCES = {"test": "🗂️ A test canvas", "draw": "✏️ Draw digits", "upload": "⬆️ Upload a picture"}
WRONG = np.array([220, 30, 30], dtype=np.uint8)  # a wrongly labelled pixel in the error map
TWO_BY_TWO = """<style>@media (max-width: 640px) {  /* a phone: the four pictures two by two, not one column */
.st-key-seg_pictures [data-testid='stHorizontalBlock'] {flex-wrap: wrap !important; gap: .5rem !important}
.st-key-seg_pictures [data-testid='stColumn'] {flex: 0 0 calc(50% - .25rem) !important;
  width: calc(50% - .25rem) !important; min-width: 0 !important}}</style>"""


def enlarged(picture: Image.Image | np.ndarray) -> Image.Image:
    """A canvas-sized picture made SCALE times larger by whole pixels, so each pixel stays a crisp square."""
    picture = picture if isinstance(picture, Image.Image) else Image.fromarray(picture)
    return picture.resize((picture.width * SCALE, picture.height * SCALE), Image.Resampling.NEAREST)


def model_choice(where: Any = st) -> str | None:
    """The segmentation model picked (a zoo name); None, with a message, when none is trained yet."""
    trained = [n for n in models.names("segmentation") if models.ZOO[n].checkpoint.is_file()]
    if not trained:
        st.info("No segmentation model is trained yet. Train one with `python -m models.train_unet` (about 25 "
                "minutes on two CPU cores) or on the Train page, then come back.", icon="🏋️")
        return None
    urlstate.confine("model", trained, trained[0])
    return urlstate.control("segmented_control", "Model", "model", where=where, options=trained, required=True,
                            format_func=lambda n: models.ZOO[n].title.split(" (")[0],
                            help="The same U-Net twice: its decoder doubles the maps' size with a learned "
                                 "transposed convolution, or with nearest-neighbour copies followed by a 3×3 conv.")


def picture(test: segments.Canvases, row: Any = st) -> tuple[torch.Tensor, torch.Tensor | None, str] | None:
    """(canvas (1, 64, 84) uint8, its true labels or None, words for it) from the source chosen; None: nothing yet.

    The source and the test canvas's controls go in `row` (a horizontal container: one line on a projector)."""
    source = urlstate.control("segmented_control", "Picture", "src", where=row, options=list(SOURCES),
                              format_func=SOURCES.get, required=True)
    if source == "draw":
        return _drawn()
    if source == "upload":
        return _uploaded()
    urlstate.control("number_input", f"Test canvas (0–{len(test) - 1})", "canvas", where=row, min_value=0,
                     max_value=len(test) - 1, step=1, width=200,
                     help="Canvases made from MNIST's test digits, which the U-Net never trained on.")
    row.button("🎲 Another", on_click=_another, args=(len(test),), disabled=urlstate.locked("canvas"))
    index = int(st.session_state["canvas"])
    digits = ", ".join(str(d) for d, _ in test.digits(index))
    return test.images[index], test.masks[index], f"test canvas {index} (digits {digits})"


def _another(count: int) -> None:
    st.session_state["canvas"] = int(np.random.default_rng().integers(count))


def _drawn() -> tuple[torch.Tensor, None, str] | None:
    """A canvas from the drawing pad: white ink on black, the canvas's shape, 4 times its size."""
    from streamlit_drawable_canvas import st_canvas

    st.caption("Write one, two or three digits side by side, each about as tall as half the pad.")
    st.write("")  # room for the pad's floating toolbar
    result = st_canvas(stroke_width=12, stroke_color="#ffffff", background_color="#000000",
                       height=segments.HEIGHT * SCALE, width=segments.WIDTH * SCALE, drawing_mode="freedraw",
                       return_image_data=True, key="segment.pad")
    if result is None or result.image_data is None or not (result.json_data or {}).get("objects"):
        st.info("Draw on the black pad: the U-Net labels every pixel as you lift the pen.", icon="✏️")
        return None
    return segments.from_picture(widgets.canvas_image(np.asarray(result.image_data), dark=True)), None, "your drawing"


def _uploaded() -> tuple[torch.Tensor, None, str] | None:
    """A canvas from an uploaded photo or scan of digits; a clear message for a file that is not a picture."""
    file = st.file_uploader("A picture of a few digits", type=images.UPLOAD_TYPES,
                            help="Dark ink on light paper or light on dark both work; the middle of the picture, "
                                 "in the canvas's 84 × 64 shape, is what the U-Net sees.")
    if file is None:
        return None
    try:
        image = images.decode(file.getvalue())
    except images.ImageError as err:
        st.error(str(err), icon="🚫")
        return None
    return segments.from_picture(image), None, f"your picture “{html.escape(file.name)}”"


def digest(canvas: torch.Tensor) -> str:
    """A short name of a canvas's pixels, for caches."""
    return hashlib.sha1(canvas.numpy().tobytes()).hexdigest()[:16]


def four_pictures(canvas: torch.Tensor, pred: torch.Tensor, truth: torch.Tensor | None) -> None:
    """Input, prediction over it, ground truth, and the error map, in one row (two by two on a phone)."""
    shown = [(canvas[0].numpy(), "the input"), (segments.overlay(canvas, pred), "the U-Net's labels")]
    if truth is not None:
        wrong = (pred != truth).numpy()
        errors = np.where(wrong[..., None], WRONG, (canvas[0].numpy()[..., None] * 0.35).astype(np.uint8))
        shown += [(segments.overlay(canvas, truth), "the right labels"),
                  (errors, f"wrong pixels in red: {int(wrong.sum())} of {wrong.size:,}")]
    st.html(TWO_BY_TWO)
    columns = st.container(key="seg_pictures").columns(len(shown))
    for column, (pixels, caption) in zip(columns, shown):
        column.image(enlarged(pixels), caption=caption, width="stretch", alt=f"the canvas: {caption}")
    st.html(legend())
    if truth is None:
        st.caption("Your own picture has no answer key, so there is no error map: judge the colours yourself.")


def legend() -> str:
    """The eleven class colours as chips, so every picture can be read."""
    chips = "".join(
        f"<span style='display:inline-flex;align-items:center;gap:.3em;margin:0 .9em .3em 0'>"
        f"<span style='width:1.1em;height:1.1em;border-radius:3px;background:rgb{tuple(int(c) for c in colour)};"
        f"border:1px solid #999'></span>{name}</span>"
        for name, colour in zip(segments.CLASSES, segments.PALETTE))
    return f"<div style='font-size:1.05rem;display:flex;flex-wrap:wrap'>{chips}</div>"


def iou_chart(on_canvas: np.ndarray, on_test: list[float] | None) -> alt.Chart:
    """Per-class IoU on this canvas beside the model's on the whole test set, digit classes only."""
    rows = [{"class": c, "where": "this canvas", "IoU": v} for c, v in zip(segments.CLASSES[1:], on_canvas[1:])
            if np.isfinite(v)]
    if on_test:
        rows += [{"class": c, "where": "all test canvases", "IoU": v} for c, v in zip(segments.CLASSES[1:],
                                                                                   on_test[1:])]
    return alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
        x=alt.X("class:N", title="digit", sort=list(segments.CLASSES[1:]), axis=alt.Axis(labelAngle=0)),
        xOffset="where:N", y=alt.Y("IoU:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.Color("where:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["class:N", "where:N", alt.Tooltip("IoU:Q", format=".1%")]).properties(height=260)


def levels_view(found: list[decoder.Level], channels: int = 8) -> None:
    """Each level of the U as a pair: what the encoder passed across the skip, and what the decoder made of it."""
    for level in found:
        h, w = level.encoder.shape[-2:]
        st.markdown(f"**Level {level.level}: {h} × {w} pixels, {len(level.encoder)} channels**")
        left, mid, right = st.columns([5, 1, 5], vertical_alignment="center")
        for column, maps, caption in ((left, level.encoder, f"encoder enc{level.level}"),
                                      (right, level.decoder, f"decoder dec{level.level}")):
            order = render.channel_order(maps)[:channels]
            column.image(render.layer_grid(maps, order=order, width=520, ncols=4), width="stretch",
                         caption=f"{caption}: its {channels} strongest channels",
                         alt=f"feature maps of {caption}, level {level.level}")
        mid.markdown("<div style='text-align:center;font-size:1.6rem'>⟶</div><div style='text-align:center'>"
                     "skip</div>", unsafe_allow_html=True)


def overlap_chart(counts: torch.Tensor) -> alt.Chart:
    """How many kernel cells land on each output pixel of a transposed convolution, as a grid of numbers."""
    n = counts.shape[0]
    rows = [{"row": r, "col": c, "cells": int(counts[r, c])} for r in range(n) for c in range(n)]
    base = alt.Chart(pd.DataFrame(rows)).encode(x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None))
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("cells:Q", scale=alt.Scale(scheme="greys", domainMin=0), legend=None))
    text = base.mark_text(fontSize=15).encode(
        text="cells:Q", color=alt.condition(alt.datum.cells > counts.max().item() / 2, alt.value("white"),
                                            alt.value("black")))
    return (cells + text).properties(width=min(360, 30 * n), height=min(360, 30 * n))


def every_unet_levels(canvas: torch.Tensor) -> dict[str, list[decoder.Level]]:
    """Title -> the levels of each trained U-Net for `canvas`: computed once a run, read by the maps, the bars and
    the close-ups."""
    picture = Image.fromarray(canvas[0].numpy())
    return {models.ZOO[n].title.split(" (")[0]: decoder.levels(state.zoo_model(n), models.transform(n)(picture))
            for n in models.names("segmentation") if models.ZOO[n].checkpoint.is_file()}


def checkerboard_rows(found: dict[str, list[decoder.Level]]) -> pd.DataFrame:
    """Checkerboard strength of each U-Net's upsampled maps at every level, for the same canvas."""
    return pd.DataFrame([{"model": title.replace("U-Net, ", ""),
                          "level": f"up{lv.level} ({lv.upsampled.shape[-2]}×{lv.upsampled.shape[-1]})",
                          "strength": decoder.checkerboard(lv.upsampled)}
                         for title, levels in found.items() for lv in levels])


def strength_chart(rows: pd.DataFrame) -> alt.Chart:
    """Bars of checkerboard strength by level, one colour per model."""
    return alt.Chart(rows).mark_bar().encode(
        x=alt.X("level:N", title="upsampled map", axis=alt.Axis(labelAngle=0)), xOffset="model:N",
        y=alt.Y("strength:Q", title="strength"),
        color=alt.Color("model:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=600)),
        tooltip=["model:N", "level:N", alt.Tooltip("strength:Q", format=".3f")]).properties(height=260)


def upsampled_closeup(levels: list[decoder.Level], title: str, where: Any) -> None:
    """The top level's upsampled map (its most patterned channel), enlarged so a 2-pixel rhythm can be seen."""
    up = levels[0].upsampled
    patterned = torch.stack([torch.tensor(decoder.checkerboard(m[None])) for m in up]).argmax().item()
    crop = up[patterned, 16:48, 20:60]
    rgb, _ = render.channel_image(crop, size=400)
    where.image(rgb, width="stretch", caption=f"{title}: up1, channel {patterned}, the middle 40 × 32 pixels",
                alt=f"{title}'s upsampled map, enlarged")


