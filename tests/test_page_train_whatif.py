"""The what-if runs of the Train page: one click sets a recipe that fails on purpose, and the run shows how."""
from __future__ import annotations

import pytest
import torch
from streamlit.testing.v1 import AppTest

import models
from app import recipe
from cnnviz.datasets import data
from cnnviz.nets import netspec
from cnnviz.training import train
from tests.conftest import ROOT, needs_data
from tests.test_page_train import wait_until_done, widget

PAGE = str(ROOT / "app" / "lessons" / "train.py")


@pytest.fixture(autouse=True)
def _small_test_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_TEST_IMAGES", "500")


def what_if(name: str, ds: str = "mnist") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    at.selectbox(key="data").set_value(ds).run()
    at.button(key=f"whatif_{name}").click().run()
    assert not at.exception
    return at


@needs_data("mnist")
@pytest.mark.data
def test_the_learning_rate_what_if_diverges_and_says_so() -> None:
    at = what_if("lr")
    assert (widget(at, "opt").value, widget(at, "lr").value, widget(at, "sched").value) == ("sgd", 10.0, "none")
    assert any("shoots up" in i.value for i in at.info)  # what to look for, before Start
    at.button(key="start").click().run()
    wait_until_done(at)
    assert "diverged" in at.error[0].value and "learning rate 10 is too high" in at.error[0].value


@needs_data("cifar10")
def test_the_deep_net_without_batch_norm_is_set_up_ready_to_start() -> None:
    at = what_if("nobn", "cifar10")
    layers = netspec.parse(at.session_state["layers"])
    assert at.session_state["net"] == recipe.CUSTOM
    assert sum(layer["type"] == "conv" for layer in layers) == 10 and not any(layer["type"] == "bn" for layer in layers)
    assert not at.button(key="start").disabled  # the description is valid for CIFAR-10's 3 x 32 x 32 images


def test_no_augmentation_on_few_images_and_a_new_data_set_drops_the_sentence() -> None:
    at = what_if("noaug", "cifar10")
    assert widget(at, "aug").value == [] and widget(at, "limit").value == 2000
    assert any("memorises" in i.value for i in at.info)
    at.selectbox(key="data").set_value("mnist").run()
    assert not any("memorises" in i.value for i in at.info)  # a new data set: its own defaults, no what-if


@needs_data("mnist")
@pytest.mark.data
def test_zero_initial_weights_keep_every_filter_the_same() -> None:
    config = train.TrainConfig("mnist", "mnist_cnn", optimizer="sgd", lr=0.05, epochs=2, train_limit=640,
                               test_limit=200, batch_size=32, augment=(), init="zeros")
    splits = train.make_splits(config, data.load("mnist", "train"), data.load("mnist", "test"))
    with train.seeded(0):
        model = models.build("mnist_cnn")
    result = train.fit(config, model, splits, device=torch.device("cpu"))
    filters = result.model.conv1.weight.detach()
    assert torch.equal(filters, torch.zeros_like(filters))  # no gradient ever reached them: all equal, all zero
    assert result.metrics["test_acc"] < 0.25  # chance is 10%: only the last layer's biases learn the class shares
    with train.seeded(0):
        model = models.build("mnist_cnn")
    result = train.fit(train.TrainConfig(**{**config.__dict__, "init": "default"}), model, splits,
                       device=torch.device("cpu"))
    first = result.model.conv1.weight.detach()
    assert not torch.allclose(first[0], first[1])  # random starts: the filters differ
    assert result.metrics["test_acc"] > 0.3  # far above chance after 40 steps


def test_an_unknown_starting_weight_is_refused() -> None:
    with pytest.raises(ValueError, match="init must be one of"):
        train.TrainConfig(init="ones")
