"""The Train page with the digit canvases: the U-Net and its three variants, no pixel-moving augmentation, a time
estimate, and a tiny run that ends with pixel accuracy, mean IoU and foreground F1 on its curves and in its table."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

import models
from cnnviz.training.runs import list_runs
from tests.conftest import needs_data
from tests.test_page_train import PAGE, wait_until_done


@pytest.fixture(autouse=True)
def _small_test_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_TEST_IMAGES", "32")  # scoring 2,000 test canvases is not what is tested


def canvases_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    at.selectbox(key="data").set_value("m2nist").run()
    assert not at.exception
    return at


def chart_titles(at: AppTest) -> list[str]:
    """The titles of the page's Altair charts, in order."""
    titles = [json.loads(chart.proto.spec)["title"] for chart in at.get("vega_lite_chart")]
    return [t["text"] if isinstance(t, dict) else t for t in titles]


@needs_data("mnist")
def test_the_canvases_bring_the_unet_its_settings_and_no_augmentation() -> None:
    at = canvases_page()
    assert at.selectbox(key="net").value == "unet" and len(at.selectbox(key="net").options) == 1
    assert (at.radio(key="up").value, at.radio(key="act").value, at.toggle(key="skips").value) == (
        "transposed", "relu", True)
    assert all(len(w.help) > 80 for w in (at.radio(key="up"), at.radio(key="act"), at.toggle(key="skips")))
    assert not [p for p in at.pills if p.key == "aug"]  # hidden, with its reason
    assert any("would move its pixels away from their labels" in c.value for c in at.caption)
    assert (at.number_input(key="epochs").value, at.number_input(key="limit").value) == (3, 2000)
    (estimate,) = [c.value for c in at.caption if c.value.startswith("⏱")]
    assert "an epoch** (1,800 canvases)" in estimate
    at.selectbox(key="data").set_value("mnist").run()  # classification keeps its own recipe
    assert at.selectbox(key="net").value == "mnist_cnn" and "up" not in [r.key for r in at.radio]
    assert [p for p in at.pills if p.key == "aug"]


@needs_data("mnist")
@pytest.mark.data
def test_a_tiny_segmentation_run_shows_its_pixel_metrics_and_curves() -> None:
    at = canvases_page()
    at.number_input(key="epochs").set_value(2)
    at.number_input(key="limit").set_value(60)
    at.radio(key="up").set_value("nearest")
    at.toggle(key="skips").set_value(False)
    at.run()
    at.button(key="start").click().run()
    assert not at.exception and not at.error
    wait_until_done(at, timeout=240)
    assert "Finished 2 epochs" in at.success[0].value
    metrics = {m.label: m for m in at.metric}
    assert set(metrics) == {"Test mean IoU", "Test foreground F1", "Test pixel accuracy", "Training loss"}
    assert "96%" in metrics["Test pixel accuracy"].help and "union" in metrics["Test mean IoU"].help
    table = at.dataframe[0].value
    assert list(table["split"]) == ["training", "validation", "test"]
    assert {"loss", "pixel accuracy", "mean IoU", "foreground F1"} <= set(table.columns)
    assert chart_titles(at)[:4] == ["Loss ↓", "Pixel accuracy ↑", "Mean IoU ↑", "Foreground F1 ↑"]  # then live
    assert any("Why mean IoU and not accuracy?" in m.value for m in at.markdown)

    (run,) = list_runs()
    info = run.info()
    assert info["status"] == "finished" and info["config"]["dataset"] == "m2nist"
    assert {"test_mean_iou", "test_foreground_f1", "test_acc"} <= set(info["metrics"])
    assert [sorted(h) for h in run.history()][0] == sorted(
        ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_mean_iou", "val_foreground_f1", "lr",
         "seconds"])
    model, meta = models.load_file(run.checkpoint)
    assert meta["arch"] == "unet" and meta["task"] == "segmentation" and meta["input_shape"] == [1, 64, 84]
    assert meta["arch_args"] == {"upsample": "nearest", "activation": "relu", "skips": False}
    assert not model.skips
