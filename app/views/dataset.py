"""The Dataset explorer's charts: the tables of `cnnviz.datasets.explore` drawn with Altair (shown with charts.show)."""
from __future__ import annotations

import altair as alt
import pandas as pd

from cnnviz.datasets import explore

SPLITS = ["train", "validation", "test"]  # the bars' order and colours, a data set without test images has two


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
