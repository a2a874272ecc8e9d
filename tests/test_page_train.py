"""The Train page under AppTest: a short real run completes, Stop stops, a diverging rate says so, and missing
data says how to get it. Training happens in the page's background thread; the test polls like the fragment."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import models
from app import recipe
from cnnviz.datasets import data
from cnnviz.nets import netspec
from cnnviz.training.job import Hosting
from cnnviz.training.runs import list_runs
from tests.conftest import ROOT, needs_data

PAGE = str(ROOT / "app" / "lessons" / "train.py")


@pytest.fixture(autouse=True)
def _small_test_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_TEST_IMAGES", "500")  # evaluating 10,000 test images is not what is tested


def page(**settings) -> AppTest:
    """The Train page with MNIST and the given widget values set."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    ordered = {"data": settings.pop("data", "mnist"), "opt": "sgd", **settings}  # each callback resets what follows
    for key, value in ordered.items():  # one at a time: the data set's and optimizer's callbacks set defaults
        widget = next(w for kind in ("number_input", "select_slider", "selectbox", "pills")
                      for w in getattr(at, kind) if w.key == key)
        widget.set_value(value)
        at.run()
    return at


def wait_until_done(at: AppTest, timeout: float = 90) -> None:
    """Rerun the page (what the 1-second fragment does in the browser) until the run has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception
        if at.success or at.error:
            return
    raise AssertionError("the training run did not end in time")


@needs_data("mnist")
@pytest.mark.data
def test_a_short_mnist_run_completes_and_shows_its_results() -> None:
    at = page(data="mnist", opt="sgd", epochs=2, limit=640, batch=32, sched="none", lr=0.05)
    at.button(key="start").click().run()
    assert not at.exception and not at.error
    assert at.button(key="start").disabled  # one run at a time
    wait_until_done(at)
    assert "Finished 2 epochs" in at.success[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Training loss", "Training accuracy", "Validation accuracy", "Test accuracy"}
    assert "cross-entropy" in next(m.help for m in at.metric if m.label == "Training loss")
    assert all(m.help for m in at.metric)  # each figure says what it measures
    assert float(metrics["Test accuracy"].rstrip("%")) > 30  # far above chance (10%) after 36 steps
    assert len(at.dataframe) == 1 and list(at.dataframe[0].value["split"]) == ["training", "validation", "test"]
    assert not at.button(key="start").disabled
    (run,) = list_runs()
    assert run.info()["status"] == "finished" and len(run.history()) == 2
    assert run.info()["config"]["train_limit"] == 640
    assert run.checkpoint.is_file()
    assert run.info()["owner"] == at.session_state["cnnviz.session"]  # only this session lists it


@needs_data("mnist")
@pytest.mark.data
def test_stop_ends_a_long_run_and_keeps_what_was_learned() -> None:
    at = page(data="mnist", epochs=50, limit=4000, batch=16)
    at.button(key="start").click().run()
    assert at.button(key="stop")  # the Stop button is there while training
    at.button(key="stop").click().run()
    wait_until_done(at)
    assert "you pressed Stop" in at.success[0].value
    (run,) = list_runs()
    assert run.info()["status"] == "stopped" and 1 <= len(run.history()) < 50


@needs_data("mnist")
@pytest.mark.data
def test_a_diverging_learning_rate_shows_the_message() -> None:
    at = page(data="mnist", epochs=1, limit=640, lr=10.0, sched="none", batch=32)
    at.button(key="start").click().run()
    wait_until_done(at)
    assert "diverged" in at.error[0].value and "learning rate 10 is too high" in at.error[0].value
    (run,) = list_runs()
    assert run.info()["status"] == "diverged"


def test_missing_data_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_DATA_DIR", str(tmp_path / "empty"))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    assert at.button(key="start").disabled
    text = " ".join(w.value for w in at.warning)
    assert "not on this computer" in text and "CNNVIZ_DATA_DIR" in text and "MNIST/raw" in text


def test_hosting_caps_bound_epochs_and_training_images(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_EPOCHS", "3")
    monkeypatch.setenv("CNNVIZ_MAX_TRAIN_IMAGES", "1000")
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert at.number_input(key="epochs").value <= 3 and at.number_input(key="epochs").max == 3
    assert at.number_input(key="limit").value == 1000 and at.number_input(key="limit").max == 1000
    assert any("at most 3 epochs and 1,000 training images" in c.value for c in at.caption)


def test_changing_the_data_set_applies_its_defaults() -> None:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    at.selectbox(key="data").set_value("cifar10").run()
    assert at.selectbox(key="net").value == "cifar_cnn"
    assert sorted(at.session_state["aug"]) == ["crop", "flip"]
    at.selectbox(key="opt").set_value("adam").run()
    assert at.select_slider(key="lr").value == 0.001


def test_a_custom_network_is_checked_before_training() -> None:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    if "Your own network (layer description)" not in at.selectbox(key="net").options:
        pytest.skip("cnnviz.nets.netspec is not installed")
    at.selectbox(key="net").set_value("custom").run()
    assert any("21,840 parameters" in m.value for m in at.markdown)  # the MNIST preset = the zoo's mnist_cnn
    at.text_area(key="layers").set_value("conv 8 k3\nrelu\nflatten\nlinear 7").run()
    assert any("10 classes" in m.value for m in at.markdown)
    assert at.button(key="start").disabled
    if "mnist" not in data.available():
        return  # the rest trains on MNIST
    at.text_area(key="layers").set_value("conv 4 k3\nrelu\npool max 2\nflatten\nlinear 10").run()
    at.number_input(key="epochs").set_value(1)
    at.number_input(key="limit").set_value(320)
    at.run()
    at.button(key="start").click().run()
    wait_until_done(at)
    assert "Finished 1 epoch" in at.success[0].value
    (run,) = list_runs()
    model, meta = models.load_file(run.checkpoint)  # a custom network rebuilds itself from its checkpoint
    assert meta["arch"] == "custom" and sum(p.numel() for p in model.parameters()) == 4 * 9 + 4 + 13 * 13 * 4 * 10 + 10


def custom_network(at: AppTest, layers: str) -> None:
    """Choose "your own network" on the page and type `layers` into its description."""
    if "Your own network (layer description)" not in at.selectbox(key="net").options:
        pytest.skip("cnnviz.nets.netspec is not installed")
    at.selectbox(key="net").set_value("custom").run()
    at.text_area(key="layers").set_value(layers).run()
    assert not at.exception


@pytest.mark.parametrize("layers, limit", [
    ("conv 8 k3\nrelu\nflatten\nlinear 100000\nrelu\nlinear 10",
     "Layer 4 (fc1: linear 100000) has 100,000 outputs; cnnviz allows at most 65,536 units per linear layer."),
    ("conv 64 k3 p1\nrelu\nflatten\nlinear 16384\nrelu\nlinear 10",  # 822 M parameters
     "Layer 4 (fc1: linear 16384) has 822,099,968 parameters (3.06 GiB); cnnviz allows at most 30,000,000 parameters."),
])
def test_a_network_over_the_limits_is_not_offered_start(layers: str, limit: str) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    custom_network(at, layers)
    assert any(m.value.startswith("❌") and limit in m.value for m in at.markdown)
    assert "Fix the network description first." in [w.value for w in at.warning]
    assert at.button(key="start").disabled


def test_a_training_batch_over_the_memory_limit_is_not_offered_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_BATCH_MB", "1")  # a hosted copy's bound on one batch's activations
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    custom_network(at, netspec.PRESETS["mnist_cnn"].text)  # 51 KiB of activations per image, batch 128
    warnings = [w.value for w in at.warning]
    assert any("A training batch of 128 images needs 6.4 MiB" in w and "at most 1 MiB per batch" in w
               and "at most 20 images" in w for w in warnings), warnings
    assert at.button(key="start").disabled
    at.select_slider(key="batch").set_value(16).run()
    assert not any("per batch" in w.value for w in at.warning)


def widget(at: AppTest, key: str):
    """The recipe's widget kept under `key`, whatever its kind."""
    return next(w for kind in ("number_input", "select_slider", "selectbox", "pills", "radio", "slider", "checkbox")
                for w in getattr(at, kind) if w.key == key)


def test_every_term_of_the_recipe_says_what_it_means() -> None:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    helps = {key: widget(at, key).help for key in recipe.fields(Hosting.from_env())}
    assert all(len(h) > 40 for h in helps.values()), helps  # a sentence each, not a bare word
    assert "over-confident" in helps["smooth"] and "One-cycle warms up" in helps["sched"]
    assert "mean" in helps["norm"] and "standard deviation" in helps["norm"]
    at.selectbox(key="data").set_value("cifar10").run()
    at.selectbox(key="net").set_value("resnet18").run()
    assert "ImageNet" in widget(at, "pretrained").help


def test_the_intro_says_where_the_recipe_is_on_a_phone_too() -> None:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    (intro,) = [i.value for i in at.info if "Start training" in i.value]
    assert intro.startswith("Set the recipe on the left (on a phone: above) and press")  # columns stack on a phone


def test_imagenet_weights_missing_offline_are_announced_before_start(tmp_path, monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty torchvision cache
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["data"], at.query_params["net"], at.query_params["pretrained"] = "cifar10", "resnet18", "true"
    at.run()
    assert not at.exception, at.exception
    assert any("not on this computer yet" in c.value for c in at.caption)
