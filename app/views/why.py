"""Why it answers: the attribution maps side by side, the deletion curves and the sanity check, drawn."""
from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from cnnviz.inside import attribution, render

TILE = 150  # px: a map drawn as a picture, before the browser scales it
SMALL = 108  # px: each picture of the row of maps: seven fit beside the sidebar on a projector, three on a phone
RANDOM = "random order"  # the deletion curve every method must beat
NAMES = [*attribution.METHODS.values(), RANDOM]
COLOURS = alt.Scale(domain=NAMES, range=["#4c78a8", "#72b7b2", "#e45756", "#54a24b", "#f58518", "#b279a2",
                                         "#9d9d9d"])  # one colour per method on every chart
CLIP = 99  # percentile a map is scaled to: one hot pixel of a gradient would otherwise leave the rest black


def heat_picture(heat: np.ndarray, side: int = TILE) -> np.ndarray:
    """An (H, W) map >= 0 as a colour picture (inferno: black is nothing, yellow the most), enlarged by whole
    pixels to about `side`."""
    top = float(np.percentile(heat, CLIP)) or float(heat.max()) or 1.0
    rgb = render.colorize(heat / top, "inferno")
    scale = max(1, side // max(heat.shape))
    return rgb.repeat(scale, axis=0).repeat(scale, axis=1)


def method_tiles(picture: np.ndarray, maps: dict[str, np.ndarray], captions: dict[str, str]) -> None:
    """The picture, then each method's map, in one row that wraps (three to a row on a phone), each named below."""
    names = [attribution.METHODS[name] for name in maps]
    st.image([picture, *(heat_picture(heat) for heat in maps.values())], width=SMALL,
             caption=["the picture", *(f"{t} · {captions.get(n, '')}" for t, n in zip(names, maps))],
             alt=["the picture as the model sees it", *(f"{t} map" for t in names)])


def occlusion_slide(picture: np.ndarray, window: int, stride: int, at: tuple[int, int]) -> np.ndarray:
    """The picture (H, W, 3) uint8 enlarged, with the occluding square painted black at `at` (top, left) and the
    stride's other positions ticked along the edges."""
    scale = max(1, 192 // picture.shape[0])
    out = picture.repeat(scale, axis=0).repeat(scale, axis=1).copy()
    top, left = (v * scale for v in at)
    out[top:top + window * scale, left:left + window * scale] = 0
    for p in range(0, picture.shape[0] - window + 1, stride):
        out[p * scale: p * scale + max(scale // 3, 1), :max(scale // 2, 2)] = (255, 120, 0)
        out[:max(scale // 2, 2), p * scale: p * scale + max(scale // 3, 1)] = (255, 120, 0)
    return out


def worst_window(heat: np.ndarray, window: int, stride: int) -> tuple[int, int]:
    """(top, left) of the occlusion window that covers the most heat: where painting hurt the answer most."""
    h, w = heat.shape
    spots = [(top, left) for top in range(0, h - window + 1, stride) for left in range(0, w - window + 1, stride)]
    return max(spots, key=lambda s: float(heat[s[0]:s[0] + window, s[1]:s[1] + window].sum()))


def deletion_chart(curves: dict[str, np.ndarray]) -> alt.Chart:
    """Class probability against the share of pixels painted black, most important first: one line per method,
    the random order dashed."""
    rows = [{"method": attribution.METHODS.get(name, name), "painted": k / (len(c) - 1), "probability": float(p),
             "order": "random" if name == RANDOM else "map"} for name, c in curves.items() for k, p in enumerate(c)]
    return alt.Chart(pd.DataFrame(rows)).mark_line(point=alt.OverlayMarkDef(size=30)).encode(
        x=alt.X("painted:Q", title="pixels painted black", axis=alt.Axis(format="%")),
        y=alt.Y("probability:Q", title="probability of the class", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("method:N", scale=COLOURS, legend=alt.Legend(orient="right", title=None)),
        strokeDash=alt.StrokeDash("order:N", scale=alt.Scale(domain=["map", "random"], range=[[1, 0], [6, 4]]),
                                  legend=None),
        tooltip=["method", alt.Tooltip("painted:Q", format=".0%"), alt.Tooltip("probability:Q", format=".1%")],
    ).properties(height=300)


def stage_name(stage: attribution.Stage) -> str:
    """'trained', or the last layer re-initialised ('+ fc2')."""
    return f"+ {stage.randomized[-1]}" if stage.randomized else "trained"


def sanity_chart(stages: list[attribution.Stage]) -> alt.Chart:
    """Each method's rank correlation with its trained map as layers are re-initialised from the top down."""
    order = [stage_name(s) for s in stages]
    rows = [{"randomized up to": stage_name(s), "method": attribution.METHODS[m], "correlation": c}
            for s in stages for m, c in s.correlation.items()]
    return alt.Chart(pd.DataFrame(rows)).mark_line(point=True).encode(
        x=alt.X("randomized up to:N", sort=order, axis=alt.Axis(labelAngle=-40), title="layers re-initialised"),
        y=alt.Y("correlation:Q", title="ρ with the trained map", scale=alt.Scale(domain=[-1, 1])),
        color=alt.Color("method:N", scale=COLOURS, legend=alt.Legend(
            orient="right", title=None, values=[attribution.METHODS[m] for m in stages[0].maps])),
        tooltip=["method", "randomized up to", alt.Tooltip("correlation:Q", format=".2f")],
    ).properties(height=320)


def sanity_tiles(stages: list[attribution.Stage], shown: int) -> None:
    """Every method's map, trained and at stage `shown`, with the rank correlation between them."""
    first, now = stages[0], stages[shown]
    for where, name in zip(st.columns(max(len(first.maps), 3)), first.maps):
        title = attribution.METHODS[name]
        where.image([heat_picture(first.maps[name].numpy(), 96), heat_picture(now.maps[name].numpy(), 96)],
                    width=96, alt=[f"{title}, trained", f"{title}, {stage_name(now)}"])
        where.markdown(f"**{title}**  \nρ = {now.correlation[name]:.2f}")


def areas_caption(curves: dict[str, np.ndarray]) -> dict[str, str]:
    """Each method's area under its deletion curve (lower: more faithful)."""
    return {n: f"deletion {attribution.area(c):.2f}" for n, c in curves.items() if n != RANDOM}


def chosen_class(classes: list[str], best: int, where: Any) -> int:
    """The class the maps explain: the predicted one unless the student picks another."""
    from app import urlstate

    urlstate.confine("explain", range(-1, len(classes)), -1)
    picked = urlstate.control("selectbox", "Explain the class", "explain", where, options=range(-1, len(classes)),
                              format_func=lambda c: f"predicted: {classes[best]}" if c == -1 else classes[c])
    return best if picked == -1 else int(picked)
