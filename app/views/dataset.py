"""The Dataset explorer's parts: the tables of `cnnviz.datasets.explore` drawn with Altair (shown with charts.show),
and the sections that show the digit canvases of `segments`, a segmentation set, in place of the class sections."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app import charts, nav, state, urlstate
from app.views import segment as segment_view
from cnnviz.datasets import data, explore, segments

SPLITS = ["train", "validation", "test"]  # the bars' order and colours, a data set without test images has two
NAMES = {explore.SEGMENTATION: "Digit canvases (M2NIST-style, for segmentation)"}  # the select box's words
SHOWN = 12   # canvases in a random sample
TILE = 160   # px: one canvas (84 pixels, drawn at twice that) and its caption; two to a row on a phone
VIEW_NAMES = {"image": "Canvas", "mask": "Mask", "both": "Both"}


def counts_chart(counts: pd.DataFrame, order: list[str]) -> alt.Chart:
    """Bars of images per class (`explore.class_counts`), the splits side by side, classes in `order`."""
    return alt.Chart(counts).mark_bar().encode(
        x=alt.X("class:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30)),
        xOffset=alt.XOffset("split:N", sort=SPLITS),
        y=alt.Y("count:Q", title="images"),
        color=alt.Color("split:N", sort=SPLITS, legend=alt.Legend(orient="top", title=None)),
        tooltip=["split", "class", alt.Tooltip("count:Q", format=",")],
    ).properties(height=320)


def values_chart(values: pd.DataFrame) -> alt.FacetChart:
    """Step lines of pixel values per channel (`explore.pixel_values`), before and after normalisation side by side."""
    present = list(dict.fromkeys(values["channel"]))
    colours = alt.Scale(domain=present, range=[explore.CHANNEL_COLOURS.get(c, "#888") for c in present])
    return alt.Chart(values).mark_line(interpolate="step-after", strokeWidth=2.5).encode(
        x=alt.X("start:Q", title="value"),
        y=alt.Y("share:Q", title="share of pixels (square-root scale)", scale=alt.Scale(type="sqrt"),
                axis=alt.Axis(format="%")),
        color=alt.Color("channel:N", sort=present, legend=alt.Legend(orient="top", title=None), scale=colours),
        tooltip=["channel", alt.Tooltip("start:Q", format=".2f"), alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=260, width=460).facet(
        column=alt.Column("stage:N", title=None, sort="descending"),
    ).resolve_scale(x="independent")


def shares_chart(shares: pd.DataFrame) -> alt.LayerChart:
    """A bar per class of its share of the pixels (rows of `explore.pixel_shares`), each labelled with its
    percentage: the digits' bars are too thin to read beside the background's."""
    base = alt.Chart(shares).encode(
        y=alt.Y("class:N", sort=list(segments.CLASSES), title=None),
        x=alt.X("share:Q", title="share of the pixels", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=["class", alt.Tooltip("share:Q", format=".2%"), alt.Tooltip("pixels:Q", format=",")],
    )
    label = alt.Text("share:Q", format=".2%")
    outside = base.mark_text(align="left", dx=4, fontSize=15, color=charts.INK).encode(text=label).transform_filter(
        alt.datum.share < 0.5)
    inside = base.mark_text(align="right", dx=-4, fontSize=15, color="white").encode(text=label).transform_filter(
        alt.datum.share >= 0.5)
    return alt.layer(base.mark_bar(), outside, inside).properties(height=alt.Step(26))


def new_sample() -> None:
    """Draw other random images: the next sample number (kept in the link as `seed`)."""
    st.session_state["seed"] += 1


def canvas_sets() -> dict[str, segments.Canvases] | None:
    """The train and test canvases, made once per server; None, with what to do, when MNIST (their source) is
    missing."""
    try:
        return {split: state.canvases(split) for split in ("train", "test")}
    except data.DatasetUnavailable as exc:
        st.error(f"The digit canvases are not downloaded but made here from MNIST's digits, and MNIST could not "
                 f"be read. {exc}", icon="🚫")
        return None


def canvas_counts(sets: dict[str, segments.Canvases], shares: pd.DataFrame, per_canvas: pd.DataFrame) -> None:
    """How the canvases are made, how many there are, how many digits each holds and each class's share of pixels."""
    st.header("How many canvases, digits and pixels?")
    st.markdown(" · ".join(f"**{split}**: {len(c):,} canvases" for split, c in sets.items())
                + f", each {segments.WIDTH} × {segments.HEIGHT} grey pixels")
    st.caption(f"Each canvas gets 1 to {segments.MAX_DIGITS} MNIST digits (training digits for train, test digits "
               f"for test), each pasted whole as its {segments.BOX} × {segments.BOX} box at a random place where it "
               f"overlaps no other digit's box. A pixel is labelled with its digit where that digit's stroke is at "
               f"least {segments.STROKE} of 255 bright; every other pixel is background. The canvases are made by "
               f"cnnviz from the digits (the same seed gives the same canvases), not downloaded.")
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Share of the pixels of each class")
        charts.show(shares_chart(shares[shares["split"] == "train"]), width="stretch")
        st.caption(f"The training canvases; on the test canvases background is {_background(shares, 'test'):.1%}.")
    with right:
        st.subheader("Digits on a canvas")
        charts.show(counts_chart(per_canvas, list(per_canvas["class"].unique())), width="stretch")
    st.info(f"A model that answers “background” for every pixel is right on {_background(shares, 'train'):.1%} of "
            "the pixels without finding a single digit, so pixel accuracy flatters a model; the **IoU** of each "
            "digit class is used instead.", icon="⚖️")
    st.caption("IoU (intersection over union) of a class: the pixels that both the model and the answer key give "
               "that class, divided by the pixels that either gives it; 100% only when the two outlines match, "
               "whatever the background does.")
    nav.link("segment", "Watch a U-Net label these canvases")


def _background(shares: pd.DataFrame, split: str) -> float:
    """The background's share of the pixels of `split` in a `explore.pixel_shares` table."""
    return float(shares[(shares["split"] == split) & (shares["class_index"] == 0)]["share"].iloc[0])


def canvas_images(sets: dict[str, segments.Canvases]) -> None:
    """A random sample of canvases of one split, as the canvas, its mask or both, with the class colours."""
    st.header("What do the canvases look like?")
    urlstate.confine("split", list(sets), "train")
    left, right = st.columns(2, vertical_alignment="bottom")
    split = urlstate.control("radio", "Canvases from the split", "split", where=left, options=list(sets),
                             horizontal=True)
    view = urlstate.control("segmented_control", "Show", "show", where=right, options=list(explore.VIEWS),
                            format_func=VIEW_NAMES.get, required=True,
                            help="The mask is the answer key a segmentation network learns: a class for "
                                 "every pixel, drawn here as a colour. Both: the mask's colours over the canvas.")
    st.html(segment_view.legend())
    shown, seed = sets[split], st.session_state["seed"]
    tiles = st.container(horizontal=True, gap="small", key="canvas-tiles")
    for i in explore.random_canvases(len(shown), SHOWN, seed):
        digits = [str(d) for d, _ in shown.digits(int(i))]
        caption = f"digit{'s' if len(digits) > 1 else ''} {', '.join(digits)}"
        with tiles.container(width=TILE, gap=None):
            st.image(explore.canvas_picture(shown, int(i), view), caption=caption, width="stretch",
                     output_format="PNG",  # JPEG would smear the masks' sharp colour edges
                     alt=f"{split} canvas {int(i)} ({VIEW_NAMES[view].lower()}): {caption}")
    st.button("🎲 New random canvases", on_click=new_sample, disabled=urlstate.locked("seed"))
    st.caption(f"Random sample number {seed} (the same number shows the same canvases on every computer); each "
               "canvas enlarged twice without smoothing.")


def canvas_normalisation(stats: pd.DataFrame, train: int) -> None:
    """The pixel mean and std of the `train` training canvases a network is fed with; the masks stay classes."""
    st.header("Normalisation: what the network is fed")
    st.markdown(f"Each canvas is shifted by the **mean** and divided by the **standard deviation** of all the "
                f"pixels of the {train:,} training canvases:")
    st.latex(r"x_{\text{input}} = \frac{x_{\text{pixel}} / 255 - \text{mean}}{\text{std}}")
    st.dataframe(stats.style.format({"mean": "{:.4f}", "std": "{:.4f}", "mean (0-255)": "{:.1f}",
                                     "std (0-255)": "{:.1f}"}), hide_index=True, width="content")
    st.caption("The mean is small because most pixels are black background. The masks are never normalised: "
               "they are class numbers (0 background, d + 1 for digit d) that the network's output is compared "
               "with, pixel by pixel.")
