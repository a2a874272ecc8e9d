"""Fool the network, drawn: the push, what moved inside the network, and how fragile every zoo model is."""
from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

import models
from app import state
from cnnviz.inside import attack, cam, features, render
from cnnviz.results import robustness

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


def measured(zoo: list[str], doing: str, measure: Any) -> dict[str, Any]:
    """`measure(spec, progress)` of every zoo model named, by title, under one progress bar."""
    bar = st.progress(0.0)
    curves = {}
    for n, name in enumerate(zoo):
        curves[models.ZOO[name].title] = measure(models.spec(name), lambda f, n=n, name=name: bar.progress(
            (n + f) / len(zoo), text=f"{doing} {name}: {f:.0%}"))
    bar.empty()
    return curves


def change_examples(x: torch.Tensor, spec: models.ModelSpec, kind: str, sizes: tuple[int, ...]) -> None:
    """The student's picture under each size of the change, as the test pictures get it."""
    pixels = attack.to_pixels(x[None], spec.mean, spec.std).clamp(0, 1)  # (1, C, H, W) in [0, 1]
    shown = [robustness.changed(pixels, kind, size)[0] for size in sizes]
    words = [f"{size} {robustness.UNITS[kind].split()[0]}" for size in sizes]
    st.image([render.boxed((p * 255).round().to(torch.uint8), None, 96) for p in shown], width=96, caption=words,
             alt=[f"your picture, {kind} {w}" for w in words])


def fragility_chart(curves: dict[str, Any], sizes: tuple[int, ...], axis: str) -> alt.Chart:
    """Accuracy against the size of a push or a change (`axis` names it), one line per model."""
    frame = pd.DataFrame([{"model": name, axis: size, "accuracy": float(acc)}
                          for name, accs in curves.items() for size, acc in zip(sizes, accs)])
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X(f"{axis}:Q", scale=alt.Scale(domain=[0, max(sizes)])),
        y=alt.Y("accuracy:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("model:N", legend=alt.Legend(orient="top", direction="vertical", labelLimit=400, title=None)),
        tooltip=["model", f"{axis}:Q", alt.Tooltip("accuracy:Q", format=".0%")],
    ).properties(height=440)  # the legend above takes ~150 px of it
