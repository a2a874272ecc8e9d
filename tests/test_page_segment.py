"""The segmentation lesson under AppTest: a real test canvas through the shipped U-Net, figures recomputed here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import models
from cnnviz.datasets import segments
from tests.conftest import needs_data

PAGE = str(Path(__file__).resolve().parent.parent / "app" / "lessons" / "segment.py")
pytestmark = [needs_data("mnist"), pytest.mark.skipif(not models.ZOO["unet"].checkpoint.is_file(),
                                                      reason="the U-Net is not trained yet")]


def page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def hand_mean_iou(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean over the digit classes present in either map of |pred = c and true = c| / |pred = c or true = c|."""
    ious = [((pred == c) & (true == c)).sum() / ((pred == c) | (true == c)).sum()
            for c in range(1, 11) if ((pred == c) | (true == c)).any()]
    return float(np.mean(ious))


def test_a_test_canvas_shows_its_digits_its_errors_and_its_iou() -> None:
    at = page(canvas="7")
    assert not at.exception, at.exception
    canvases = segments.load("test")
    model = models.load("unet")
    x = (canvases.images[7:8].float() / 255 - models.CANVAS_MEAN[0]) / models.CANVAS_STD[0]
    with torch.no_grad():
        pred = model(x).argmax(1)[0].numpy()
    true = canvases.masks[7].numpy()
    digits = ", ".join(str(int(d)) for d in canvases.labels[7] if d >= 0)
    assert any(f"test canvas 7 (digits {digits})" in s.value for s in at.subheader)
    wrong = int((pred != true).sum())
    captions = [c for image in at.image for c in image.captions]
    assert f"wrong pixels in red: {wrong} of 5,376" in captions
    expected = f"**Mean IoU on this canvas: {hand_mean_iou(pred, true):.0%}**"
    assert any(m.value.startswith(expected) for m in at.markdown), expected


def test_the_levels_and_the_checkerboard_are_shown() -> None:
    at = page(canvas="3", k="3", stride="2")
    assert not at.exception, at.exception
    texts = " ".join(m.value for m in at.markdown)
    assert "Level 1: 64 × 84 pixels, 16 channels" in texts and "Level 3: 16 × 21 pixels, 64 channels" in texts
    assert "receives **1 to 4** kernel cells: uneven" in texts   # kernel 3, stride 2: counts 1, 2, 4
    at = page(canvas="3", k="2", stride="2")
    assert "receives **1 to 1** kernel cells: even" in " ".join(m.value for m in at.markdown)


def test_impossible_link_values_fall_back_without_a_traceback() -> None:
    at = page(canvas="99999", src="camera", k="9", model="resnet18")
    assert not at.exception, at.exception
    assert at.number_input(key="canvas").value == 0 and at.session_state["k"] == 3
    assert at.session_state["src"] == "test" and at.session_state["model"] in models.names("segmentation")


def test_without_a_trained_u_net_the_page_says_how_to_train_one(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(models, "ZOO_DIR", tmp_path)  # no checkpoint anywhere
    at = page()
    assert not at.exception, at.exception
    assert any("No segmentation model is trained yet" in i.value for i in at.info)


def test_inside_a_model_points_to_this_page_for_the_u_nets_maps() -> None:
    at = AppTest.from_file(str(Path(PAGE).with_name("inside.py")), default_timeout=180)
    at.query_params["model"], at.query_params["img"] = "mnist_cnn", "sample:seven"
    at.run()
    assert not at.exception, at.exception
    links = [e.proto.label for e in at.get("page_link")]
    assert any("encoder and decoder maps" in label for label in links), links
