"""The Train page's "Watch it learn" section under AppTest: a tiny real run shows its first layer, its strip of
predictions and every layer's histograms, drawn from the training thread's snapshots."""
from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import needs_data
from tests.test_page_train import page, wait_until_done
from tests.test_page_train_segments import canvases_page


@pytest.fixture(autouse=True)
def _small_test_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_TEST_IMAGES", "100")  # the strip needs one image per class, not 10,000


def chart_titles(at: AppTest) -> list[str]:
    titles = [json.loads(chart.proto.spec).get("title") for chart in at.get("vega_lite_chart")]
    return [t["text"] if isinstance(t, dict) else t for t in titles]


def image_captions(at: AppTest) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


def live_section(at: AppTest) -> None:
    """The section is there, with the first layer's pictures, the layer picker and the histogram charts."""
    assert any(h.value == "👀 Watch it learn" for h in at.subheader)
    assert any(c.value.startswith("Snapshot after") for c in at.caption)
    assert at.selectbox(key="live.image").value in range(10)
    assert at.selectbox(key="live.layer").options[0] == "conv1"
    titles = chart_titles(at)
    assert {"Weights of conv1", "Gradients of conv1", "Gradient norm"} <= set(titles)
    assert len(image_captions(at)) == 3  # the chosen image, its maps, the filters


@needs_data("mnist")
@pytest.mark.data
def test_a_run_shows_watch_it_learn_while_training_and_after() -> None:
    at = page(data="mnist", opt="sgd", epochs=30, limit=4000, batch=32, sched="none", lr=0.05)
    at.button(key="start").click().run()
    deadline = time.monotonic() + 60
    while not any(c.value.startswith("Snapshot after") for c in at.caption) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()  # what the 1-second fragment does in the browser
    assert at.button(key="stop") and not at.success  # still training
    live_section(at)
    assert [t.label for t in at.tabs] == ["Filters and maps", "Predictions", "Weights and gradients"]
    (answered,) = [m.value for m in at.markdown if "fixed test images answered right" in m.value]
    assert answered.startswith("**") and " of 10**" in answered
    assert {"Dead ReLUs", "Strip images answered right ↑"} <= set(chart_titles(at))
    at.selectbox(key="live.image").set_value(3).run()
    assert not at.exception and "test image 4 (" in image_captions(at)[0]
    at.button(key="stop").click().run()
    wait_until_done(at)
    assert "Stopped" in at.success[0].value
    live_section(at)
    at.selectbox(key="live.layer").set_value("fc2").run()
    assert not at.exception and "Weights of fc2" in chart_titles(at)


@needs_data("mnist")
@pytest.mark.data
def test_a_segmentation_run_watches_its_layers_without_a_predictions_strip() -> None:
    at = canvases_page()
    at.number_input(key="epochs").set_value(1)
    at.number_input(key="limit").set_value(40)
    at.run()
    at.button(key="start").click().run()
    wait_until_done(at, timeout=240)
    assert not at.exception and "Finished 1 epoch" in at.success[0].value
    assert [t.label for t in at.tabs] == ["Filters and maps", "Weights and gradients"]
    assert not [m for m in at.markdown if "answered right" in m.value]
    assert "Weights of enc1.conv1" in chart_titles(at)
