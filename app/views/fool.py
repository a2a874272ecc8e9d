"""Fool the network, drawn: the push, what moved inside the network, and how fragile every zoo model is."""
from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app import state
from cnnviz.inside import cam, features

SIDE = 192  # px: each picture of the attack, three side by side


def magnified(before: np.ndarray, after: np.ndarray, eps: int) -> tuple[np.ndarray, float]:
    """The change between two (H, W, 3) uint8 pictures, stretched so ±ε fills the range around grey, and the
    stretch."""
    gain = 127 / max(eps, 1)
    change = after.astype(np.int16) - before.astype(np.int16)
    return np.clip(128 + change * gain, 0, 255).astype(np.uint8), gain


def cams_before_and_after(key: str, seen: tuple[np.ndarray, np.ndarray], digests: tuple[str, str], model: Any,
                          inputs: tuple[Any, Any], answers: tuple[int, int], classes: list[str]) -> None:
    """Grad-CAM of the answer before the push on the original picture, and of the new answer after it."""
    shapes = {n: tuple(a.shape) for n, a in features.extract(model, inputs[0], features.conv_layers(model)).items()}
    layer = cam.default_layer(model, shapes)  # the last conv with maps of at least 4x4: one that can show *where*
    pictures, words = [], []
    for picture, digest, x1, target, when in zip(seen, digests, inputs, answers, ("before", "after")):
        found = state.grad_cam(key, digest, layer, target, model, x1)
        pictures.append(cam.overlay(picture, found.heat, 0.5))
        words.append(f"{when}: where it sees “{classes[target]}”")
    st.image(pictures, width=SIDE, caption=words, alt=words)


def growth_chart(growth: dict[str, float]) -> alt.Chart:
    """Each layer's relative change as a bar, input first: the push grows on its way to the answer."""
    frame = pd.DataFrame({"layer": list(growth), "change": list(growth.values())})
    return alt.Chart(frame).mark_bar(color="#e45756").encode(
        x=alt.X("layer:N", sort=list(growth), axis=alt.Axis(labelAngle=-40), title=None),
        y=alt.Y("change:Q", title="how much it changed", axis=alt.Axis(format="%")),
        tooltip=["layer", alt.Tooltip("change:Q", format=".1%")],
    ).properties(height=260)


def fragility_chart(curves: dict[str, Any]) -> alt.Chart:
    """Accuracy against ε (in 255ths), one line per model: every curve falls steeply within a few grey levels."""
    from cnnviz.results.robustness import EPSILONS

    frame = pd.DataFrame([{"model": name, "ε (in 255ths)": eps, "accuracy": float(acc)}
                          for name, accs in curves.items() for eps, acc in zip(EPSILONS, accs)])
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("ε (in 255ths):Q", scale=alt.Scale(domain=[0, max(EPSILONS)])),
        y=alt.Y("accuracy:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("model:N", legend=alt.Legend(orient="bottom", columns=1)),
        tooltip=["model", "ε (in 255ths)", alt.Tooltip("accuracy:Q", format=".0%")],
    ).properties(height=320)
