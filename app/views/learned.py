"""What a network learned, drawn: a channel's favourite test images and the picture made to excite it, a layer's
channels at a glance, and the projector's map of the classes.

The numbers come from `cnnviz.inside.featurevis`, `cnnviz.inside.embedding` and `cnnviz.results.learned` (through
`app.state`, which keeps them); this module draws them. Imported by the pages once their titles are on screen.
"""
from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

import models
from app import charts, nav, state, urlstate
from app.widgets import IMAGE
from cnnviz.datasets.data import DatasetUnavailable, ImageSet
from cnnviz.inside import features, featurevis, render

STEPS = (32, 64, 128, 256, 512)  # optimisation steps a student (or a link) may ask for
GLANCE = 16  # channels per page of the whole-layer view
TILE = 96  # px: one picture in a grid
SYNTH = 160  # px: a synthesized picture, two side by side in a third of a projector's width
SCORES = "scores"  # the class scores' name in the layer box and in links


def cells(n: int, per_row: int) -> list[Any]:
    """`n` places in rows of `per_row` columns, in reading order (a phone stacks each row's columns in turn)."""
    return [col for start in range(0, n, per_row) for col in st.columns(per_row)[:min(per_row, n - start)]]


def images_or_stop(spec: models.ModelSpec) -> ImageSet:
    """The images the page looks through (the test split; a taught model's own pictures); when they are not here,
    the page stops and says why."""
    try:
        return state.images(spec.dataset, state.scanned(spec.dataset))
    except DatasetUnavailable as exc:
        st.info(str(exc), icon="🗂️")
        st.stop()


def trained_or_stop(spec: models.ModelSpec) -> tuple[torch.nn.Module, str]:
    """The trained model and its key; without a checkpoint the page stops and says how to get one."""
    try:
        return state.trained_model(spec)
    except models.CheckpointError:
        st.error(f"**{spec.title}** has no trained checkpoint yet, and an untrained network has learned nothing "
                 "to show. Train it on the **Train** page (or pick another model).", icon="🚫")
        st.stop()


def layer_title(layer: str) -> str:
    return "the class scores" if layer == featurevis.OUTPUT else f"layer {layer}"


def channel_count(model: torch.nn.Module, spec: models.ModelSpec, layer: str) -> int:
    """How many channels `layer` has (classes for the class scores)."""
    if layer == featurevis.OUTPUT:
        return len(spec.classes)
    return int(dict(model.named_modules())[layer].out_channels)


def pick_layer_and_channel(model: torch.nn.Module, spec: models.ModelSpec) -> tuple[str, int, int]:
    """The layer and channel boxes (both in the link, the class scores as `layer=scores`); returns (the layer's
    `named_modules()` name, the channel, how many channels the layer has)."""
    options = [*features.conv_layers(model), SCORES]
    urlstate.confine("layer", options, options[-2])  # the last conv layer: the most telling pictures
    urlstate.set_default("layer", options[-2])  # which a link need not name
    chosen = urlstate.control("selectbox", "Layer", "layer", options=options,
                              format_func=lambda n: "class scores (the output)" if n == SCORES else n)
    layer = featurevis.OUTPUT if chosen == SCORES else chosen
    count = channel_count(model, spec, layer)
    urlstate.confine("ch", range(count), 0)
    label = "Class" if layer == featurevis.OUTPUT else f"Channel (0–{count - 1})"
    channel = int(urlstate.control("number_input", label, "ch", min_value=0, max_value=count - 1, step=1))
    if layer == featurevis.OUTPUT:
        st.caption(f"Class {channel}: **{spec.classes[channel]}**")
    return layer, channel, count


def picture(x: torch.Tensor, spec: models.ModelSpec, side: int = TILE) -> np.ndarray:
    """A normalised input (C, H, W) as RGB pixels at least `side` wide."""
    return render.input_picture(x, spec.mean, spec.std, size=side)


def synthesis(model: torch.nn.Module, key: str, spec: models.ModelSpec, layer: str, channel: int, where: Any,
              caption: str) -> None:
    """The picture made to excite `channel`, drawn live (a frame every 32 steps) the first time it is made."""
    steps, seed = int(st.session_state["steps"]), int(st.session_state["seed"])
    slot = where.empty()
    frame = lambda step, images: slot.image(picture(images[0], spec, SYNTH), width=SYNTH,  # noqa: E731
                                            caption=f"{caption}: step {step} of {steps}…", alt=caption)
    made = state.syntheses(key, layer, (channel,), steps, seed, model, spec, on_step=frame)
    slot.image(picture(made[0], spec, SYNTH), width=SYNTH, caption=caption, alt=caption)


def example_caption(value: float, index: int, spec: models.ModelSpec, label: int) -> str:
    return f"{value:.2f} · test #{index} ({spec.classes[label]})"


def top_examples(model: torch.nn.Module, spec: models.ModelSpec, layer: str, channel: int, choice: str,
                 lowest: bool) -> None:
    """The nine test images that excite the channel most (or least), each with the patch it answered to marked."""
    test = images_or_stop(spec)
    bar = st.progress(0.0, text=f"Finding every channel's favourite images among {state.LEARNED_EXAMPLES:,} test "
                                "images (once per checkpoint)…")
    most, least, stride = state.layer_examples(spec, layer, lambda f: bar.progress(f, text=f"Scanning: {f:.0%}"))
    bar.empty()
    top = least if lowest else most
    values, indices, positions = top.values[channel], top.indices[channel] * stride, top.positions[channel]
    boxes: list[Any] = [None] * len(indices)
    if layer != featurevis.OUTPUT:
        boxes = featurevis.receptive_fields(model, layer, spec.input_shape, [tuple(map(int, p)) for p in positions])
    for where, value, index, box in zip(cells(len(indices), 3), values.tolist(), indices.tolist(), boxes):
        patch = None if box is None else (box.top, box.left, box.bottom, box.right)
        caption = example_caption(value, index, spec, int(test.labels[index]))
        where.image(render.boxed(test.images[index], patch, 2 * TILE), caption=caption, width=2 * TILE,
                    alt=f"test image {index}, the part the channel answered to outlined")
        if where.button("🔬 Inside", key=f"open_{index}", help="Open this image in Inside a model"):
            open_inside(spec.dataset, index, choice)


def open_inside(ds: str, index: int, model: str) -> None:
    """Show test image `index` on the Inside-a-model page, with this model; Back comes back here (the pages call
    nav.came_back). A taught model's picture goes as the student's own: never in a link."""
    if state.taught(ds):
        st.session_state[IMAGE] = {"source": "upload", "image": state.images(ds, "all").pil(int(index)),
                                   "name": f"your picture {int(index)}", "id": f"{ds}:{int(index)}"}
        nav.go("inside", model=model)
        return
    st.session_state[IMAGE] = {"source": "test", "dataset": ds, "index": int(index)}
    nav.go("inside", img=f"test:{ds}:{int(index)}", model=model)


def choose(channel: int) -> None:
    st.session_state["ch"] = channel


def layer_glance(model: torch.nn.Module, key: str, spec: models.ModelSpec, layer: str, count: int) -> None:
    """One tile per channel, a page of GLANCE at a time: its synthesized picture over its favourite test image."""
    pages = max(1, -(-count // GLANCE))
    urlstate.confine("lpage", range(1, pages + 1), 1)
    page = int(urlstate.control("number_input", f"Page (of {pages})", "lpage", min_value=1, max_value=pages, step=1))
    channels = tuple(range((page - 1) * GLANCE, min(count, page * GLANCE)))
    steps, seed = int(st.session_state["steps"]), int(st.session_state["seed"])
    bar = st.progress(0.0, text=f"Making {len(channels)} pictures side by side ({steps} steps)…")
    made = state.syntheses(key, layer, channels, steps, seed, model, spec,
                           on_step=lambda step, _: bar.progress(step / steps, text=f"Step {step} of {steps}…"))
    bar.empty()
    most, _, stride = state.layer_examples(spec, layer)
    test = images_or_stop(spec)
    for i, (where, channel) in enumerate(zip(cells(len(channels), 8), channels)):
        label = spec.classes[channel] if layer == featurevis.OUTPUT else f"channel {channel}"
        where.image(picture(made[i], spec), width=TILE, alt=f"picture made to excite {label}")
        best = int(most.indices[channel, 0]) * stride
        where.image(render.boxed(test.images[best], None, TILE), width=TILE, alt=f"test image {best}")
        where.button(label, key=f"glance_{channel}", on_click=choose, args=(channel,),
                     type="primary" if channel == st.session_state["ch"] else "secondary")


# ---- the projector -------------------------------------------------------------------------------------------
def points(embedding: Any, method: str, spec: models.ModelSpec) -> pd.DataFrame:
    """One row per image: its place, its true and predicted class, whether the model was right, its thumbnail."""
    stride = state.embedded(spec.dataset)[1]
    where = getattr(embedding, method)
    classes = np.array(spec.classes)
    indices = np.arange(len(where)) * stride  # in the test set
    return pd.DataFrame({
        "x": where[:, 0], "y": where[:, 1], "index": indices,
        "true": classes[embedding.labels], "predicted": classes[embedding.preds],
        "answer": np.where(embedding.labels == embedding.preds, "right", "wrong"),
        "image": state.thumbnails(spec.dataset),
    })


def projector_chart(frame: pd.DataFrame, title: str) -> alt.Chart:
    """The points coloured by true class, mistakes as crosses; a click picks one point, a drag brushes a region."""
    click = alt.selection_point(name="point", fields=["index"], on="click")
    brush = alt.selection_interval(name="brush")
    return alt.Chart(frame, title=title).mark_point(filled=True, size=45).encode(
        x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None),
        color=alt.Color("true:N", title="true class", scale=alt.Scale(scheme="tableau10")),
        shape=alt.Shape("answer:N", title="the model", scale=alt.Scale(domain=["right", "wrong"],
                                                                         range=["circle", "cross"])),
        opacity=alt.condition(brush, alt.value(0.9), alt.value(0.25)),
        tooltip=["image", "true", "predicted", "index"],
    ).add_params(click, brush).properties(height=420)


def projector(spec: models.ModelSpec, embedding: Any, method: str, title: str, key: str, where: Any = st
              ) -> list[int]:
    """Draw one embedding; returns the images the student clicked or brushed (data set indices)."""
    frame = points(embedding, method, spec)
    # described as a whole (alt); the brush's rectangles are hidden from screen readers by app/main.py
    said = (f"{title}: {len(frame)} test images as points on a map by {method.upper()}, coloured by their true "
            f"class; {int((frame.answer == 'wrong').sum())} the model got wrong are crosses")
    event = charts.show(projector_chart(frame, title), where, key=key, on_select="rerun",
                        width="stretch", alt=said)
    selection = getattr(event, "selection", None) or {}
    clicked = [int(p["index"]) for p in selection.get("point", []) if "index" in p]
    brush = selection.get("brush") or {}
    if clicked or not (brush.get("x") and brush.get("y")):
        return clicked
    (x0, x1), (y0, y1) = sorted(brush["x"]), sorted(brush["y"])
    return frame[(frame.x >= x0) & (frame.x <= x1) & (frame.y >= y0) & (frame.y <= y1)]["index"].tolist()


def separation_metric(where: Any, embedding: Any, method: str, before: Any = None) -> None:
    """The silhouette score of the classes: -1 (mixed) to 1 (cleanly apart)."""
    score = embedding.separation[method]
    delta = None if before is None else f"{score - before.separation[method]:+.2f} after training"
    where.metric("Class separation (silhouette)", f"{score:.2f}", delta=delta,
                 help="How far apart the classes lie on this map: 1 means every image sits with its own class, "
                      "0 means the classes overlap, below 0 means mixed up.")


def gallery(indices: list[int], spec: models.ModelSpec, choice: str) -> None:
    """The images a student picked on the map, each opening in Inside a model."""
    test = images_or_stop(spec)
    shown = indices[:24]
    st.markdown(f"**{len(indices)} image{'s' if len(indices) != 1 else ''} picked**"
                + (" (the first 24)" if len(indices) > 24 else ""))
    for where, index in zip(cells(len(shown), 8), shown):
        label = spec.classes[int(test.labels[index])]
        where.image(render.boxed(test.images[index], None, TILE), width=TILE, caption=f"#{index} {label}",
                    alt=f"test image {index}, a {label}")
        if where.button("🔬", key=f"pick_{index}", help="Open this image in Inside a model"):
            open_inside(spec.dataset, index, choice)
