"""The live-demo recipe: small batch-norm networks that learn in seconds, one click on the Train page."""
from __future__ import annotations

import pytest
import torch
from streamlit.testing.v1 import AppTest

import models
from app import recipe
from cnnviz.datasets import data
from cnnviz.training import device as devices
from cnnviz.training import train
from tests.conftest import ROOT, needs_data
from tests.test_page_train import wait_until_done, widget

PAGE = str(ROOT / "app" / "lessons" / "train.py")


@pytest.mark.parametrize("flags, env, expected", [
    ((False, False), "", False),    # a CPU that would emulate bf16: float32 is faster
    ((True, False), "", True),      # AVX-512 BF16
    ((False, True), "", True),      # AMX
    ((True, True), "float32", False),  # asked for full precision
])
def test_bf16_only_where_the_cpu_computes_it(flags, env, expected, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: flags[0])
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: flags[1])
    monkeypatch.setenv(devices.PRECISION_ENV, env)
    assert devices.native_bf16(torch.device("cpu")) is expected
    assert devices.describe(torch.device("cpu"))["device"].endswith(", bf16)" if expected else "threads)")


def _one_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient of the first conv after one step of the engine's loop (batch 8, no augmentation)."""
    images = (x * 255).round().to(torch.uint8)
    part = data.ImageSet("toy", "train", images, y, tuple("ab"))
    config = train.TrainConfig("toy", "x", batch_size=len(y), epochs=1, augment=(), label_smoothing=0.0,
                               schedule="none", optimizer="sgd", lr=1e-9, momentum=0.0, weight_decay=0.0)
    splits = train.Splits(part, None, part, [0.0], [1.0])
    train.fit(config, model, splits, device=torch.device("cpu"))
    return model[0].weight.grad.clone()


def test_the_bf16_loop_computes_the_gradient_float32_computes(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    x, y = torch.rand(8, 1, 12, 12), torch.tensor([0, 1] * 4)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.GELU(),
                              torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    start = {k: v.clone() for k, v in net.state_dict().items()}
    monkeypatch.setattr(devices, "native_bf16", lambda device: True)
    monkeypatch.setattr(train, "native_bf16", lambda device: True)
    half = _one_step(net, x, y)
    net.load_state_dict(start)
    monkeypatch.setattr(train, "native_bf16", lambda device: False)
    full = _one_step(net, x, y)
    # torch.autograd in float32 is the oracle: bf16 keeps 8 bits of mantissa, and batch norm's backward compounds
    # the rounding, so the same direction (cosine) and each weight's gradient within a tenth of the largest
    cosine = torch.nn.functional.cosine_similarity(half.flatten(), full.flatten(), dim=0)
    assert cosine > 0.995 and (half - full).abs().max() <= 0.1 * full.abs().max(), cosine
    assert not torch.equal(half, full)  # it did run in bf16


@pytest.mark.parametrize("name", train.LIVE_DEMO)
def test_the_fast_networks_titles_count_their_parameters(name: str) -> None:
    params = sum(p.numel() for p in models.build(name).parameters())  # counted by hand in tests/test_models.py
    assert f"{params:,} params" in models.ZOO[name].title
    assert train.defaults(models.ZOO[name].dataset, name).epochs == train.LIVE_DEMO[name]


@needs_data("mnist")
@pytest.mark.data
def test_the_mnist_live_demo_learns_digits_from_12000_images_in_one_epoch() -> None:
    config = train.TrainConfig(**{**train.defaults("mnist", "mnist_fast").__dict__, "train_limit": 12000,
                                  "test_limit": 1000})
    splits = train.make_splits(config, data.load("mnist", "train"), data.load("mnist", "test"))
    with train.seeded(0):
        model = models.build("mnist_fast")
    result = train.fit(config, model, splits, device=torch.device("cpu"))
    assert result.metrics["test_acc"] >= 0.90  # chance is 10%; the classic net needs several epochs for this


def test_one_click_sets_the_live_demo_recipe_and_says_what_to_expect() -> None:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    at.selectbox(key="data").set_value(recipe.SEGMENTS).run()
    at.button(key="live_demo").click().run()
    assert not at.exception
    assert (at.session_state["data"], at.session_state["net"]) == ("mnist", "mnist_fast")
    assert (widget(at, "batch").value, widget(at, "lr").value, widget(at, "epochs").value) == (256, 0.2, 1)
    assert any("98%" in i.value for i in at.info)
    at.selectbox(key="data").set_value("cifar10").run()
    at.button(key="live_demo").click().run()
    assert at.session_state["net"] == "cifar_fast" and widget(at, "aug").value == ["flip", "crop"]
    assert any("77%" in i.value for i in at.info)
    at.selectbox(key="net").set_value("cifar_cnn").run()
    assert not any("77%" in i.value for i in at.info)  # another network: its own recipe, no live-demo note


@needs_data("mnist")
@pytest.mark.data
def test_the_live_demo_trains_on_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_TEST_IMAGES", "500")
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    at.selectbox(key="data").set_value("mnist").run()
    at.button(key="live_demo").click().run()
    widget(at, "limit").set_value(12000).run()
    at.button(key="start").click().run()
    wait_until_done(at)
    assert not at.exception and not at.error
    job = at.session_state["train.job"]
    assert job.metrics["test_acc"] >= 0.9
