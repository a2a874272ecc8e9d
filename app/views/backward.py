"""Parts of the backward-pass lesson: where ∂L/∂y comes from, and the chart of one step's loss against the
learning rate."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app import stepper
from cnnviz.lessons import backfigures
from cnnviz.lessons.backward import SGDStep


def upstream(y: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(∂L/∂y, target) with the editor of the one the student sets: ∂L/∂y typed in, or the target of ½‖y − t‖²."""
    def typed(_: int) -> np.ndarray:
        return backfigures.grad_preset(y.shape)

    def zeros(_: int) -> np.ndarray:
        return np.zeros(y.shape, dtype=np.int64)

    if source == "grad":
        st.markdown("**∂L/∂y** (one number per output cell)")
        g = stepper.editors("g", stepper.grids("g", typed, (1, *y.shape)), typed, [""])[0]
        return g, y - g  # the loss ½‖y − t‖² whose gradient is the ∂L/∂y typed in
    st.markdown("**Target** (what y should have been)")
    target = stepper.editors("t", stepper.grids("t", zeros, (1, *y.shape)), zeros, [""])[0]
    stepper.show(backfigures.loss_gradient(y, target))
    return y - target, target


def went(step: SGDStep) -> str:
    """Where one step took the loss, as the chart's legend says it."""
    if step.overshot:
        return "went up: overshot"
    return "went down" if step.loss_after < step.loss_before else "stayed"


def lr_chart(steps: list[SGDStep], lr: float) -> alt.LayerChart:
    """The loss after one step against the learning rate, up to twice the loss before (higher ones sit on the top
    edge): the steps that went down in green, those that overshot in red, `lr` ringed, the loss before dashed."""
    before = steps[0].loss_before
    curve = pd.DataFrame({"learning rate": [s.lr for s in steps], "loss after one step": [s.loss_after for s in steps],
                          "the loss": [went(s) for s in steps]})
    y_scale = alt.Scale(domain=[0, 2 * before], clamp=True) if before > 0 else alt.Scale()
    line = alt.Chart(curve).mark_line(color="#868e96").encode(
        x=alt.X("learning rate:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="g", tickCount=5, grid=False)),
        y=alt.Y("loss after one step:Q", scale=y_scale, axis=alt.Axis(format="~s", tickCount=5)))
    palette = {"went down": "#2f9e44", "stayed": "#868e96", "went up: overshot": "#c92a2a"}
    shown = {name: colour for name, colour in palette.items() if name in set(curve["the loss"])}  # legend entries
    colours = alt.Scale(domain=list(shown), range=list(shown.values()))
    dots = line.mark_point(filled=True, size=120).encode(
        color=alt.Color("the loss:N", scale=colours, legend=alt.Legend(orient="top", title=None)),
        tooltip=["learning rate", alt.Tooltip("loss after one step:Q", format=",.4~g")])
    ringed = alt.Chart(curve[curve["learning rate"] == lr]).mark_point(size=500, stroke="#d9480f", strokeWidth=3)
    rule = alt.Chart(pd.DataFrame({"loss before": [before]})).mark_rule(strokeDash=[6, 4], color="#495057")
    return alt.layer(line, dots, ringed.encode(x="learning rate:Q", y=alt.Y("loss after one step:Q", scale=y_scale)),
                     rule.encode(y=alt.Y("loss before:Q", scale=y_scale, title="loss after one step"))
                     ).properties(height=320)
