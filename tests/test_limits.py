"""Size limits on described networks: the arithmetic footprint equals what torch allocates, and what is over a
limit is refused with a message naming the limit and the layer, before any module exists."""
from __future__ import annotations

import time

import pytest
import torch
from torch import nn

import models
from cnnviz.nets import builder, limits, netspec, tables
from cnnviz.nets.limits import Limits, TooLarge

SMALL = "conv 8 k3 p1\nrelu\npool max 2\nflatten\nlinear 10"  # on 1×8×8
MIXED = """conv 5 k3 d2 p1 nobias
bn
leakyrelu 0.1
pool avg k3 s2 p1 ceil
dropout2d 0.3
conv 6 k3 p=same
globalpool max
flatten
linear 7
bn
gelu
dropout
linear 3"""


def torch_footprint(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(parameters, activation values, activation bytes) of one image, counted by torch from a real forward pass."""
    outputs: list[torch.Tensor] = []
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for m in leaves]
    x = torch.zeros(1, *shape)  # (1, C, H, W)
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    values = x.numel() + sum(out.numel() for out in outputs)
    n_bytes = x.numel() * x.element_size() + sum(out.numel() * out.element_size() for out in outputs)
    return sum(p.numel() for p in model.parameters()), values, n_bytes


def test_a_small_network_by_hand():
    footprint = limits.check(netspec.parse(SMALL), (1, 8, 8))
    assert footprint.params == 8 * 1 * 3 * 3 + 8 + 128 * 10 + 10 == 1370
    assert footprint.activations == 64 + 512 + 512 + 128 + 128 + 10 == 1354  # input, conv, relu, pool, flatten, fc
    assert footprint.image_bytes == 4 * 1354
    assert footprint.mult_adds == 8 * 8 * 8 * 9 + 128 * 10


@pytest.mark.parametrize("text, shape", [
    (SMALL, (1, 8, 8)), (MIXED, (2, 13, 11)), ("linear 16\nbn\nrelu\nlinear 10", (784,)),
    *[(p.text, p.input_shape) for name, p in netspec.PRESETS.items() if name != "too_deep"],
])
def test_the_footprint_equals_what_torch_allocates(text, shape):
    layers = netspec.parse(text)
    footprint = limits.check(layers, shape)
    model = builder.build(layers, shape)
    assert (footprint.params, footprint.activations, footprint.image_bytes) == torch_footprint(model, shape)
    assert footprint.mult_adds == tables.layer_table(model, shape).total_mult_adds


def test_each_limit_admits_its_value_and_refuses_one_more():
    layers = netspec.parse(SMALL)
    for field, value in (("params", 1370), ("image_bytes", 4 * 1354), ("mult_adds", 5888), ("channels", 8),
                         ("units", 10), ("side", 8), ("layers", 5)):
        limits.check(layers, (1, 8, 8), Limits(**{field: value}))
        with pytest.raises(TooLarge, match=f"at most {value - 1:,}" if field != "image_bytes" else "at most 5.29 KiB"):
            limits.check(layers, (1, 8, 8), Limits(**{field: value - 1}))


@pytest.mark.parametrize("text, shape, match", [
    ("conv 4096 k3 p1", (3, 4096, 4096),  # the audit's link: 256 GiB for one image
     r"^Layer 1 \(conv1: conv 4096 k3 p1\) makes 4096 × 4096 × 4096 activations \(256 GiB\) for one image; "
     r"cnnviz allows at most 512 MiB per image\. Use fewer channels or a smaller input\.$"),
    ("conv 16 k3 p1; flatten; linear 100000", (3, 256, 256),  # the audit's 419 GB linear layer
     r"^Layer 3 \(fc1: linear 100000\) has 100,000 outputs; cnnviz allows at most 65,536 units"),
    ("conv 64 k3 p1\nrelu\nflatten\nlinear 16384\nrelu\nlinear 10", (1, 28, 28),  # 822 M parameters
     r"^Layer 4 \(fc1: linear 16384\) has 822,099,968 parameters \(3.06 GiB\); cnnviz allows at most 30,000,000"),
    ("conv 64 k3 p1\n" * 4, (3, 1024, 1024),
     r"^Layer 2 \(conv2: conv 64 k3 p1\) brings one image's activations .* to 524 MiB; .* at most 512 MiB"),
    ("conv 8000 k1", (3, 8, 8), r"^Layer 1 \(conv1: conv 8000 k1\) has 8,000 filters; .* at most 4,096 channels"),
    ("conv 64 k31 p15", (3, 512, 512), r"48,368,713,728 multiply-adds; cnnviz allows at most 20,000,000,000"),
    ("relu", (3, 5000, 8), r"^The input is 5,000 × 8 pixels; cnnviz allows at most 4,096 pixels a side"),
    ("relu", (5000, 8, 8), r"^The input has 5,000 channels; cnnviz allows at most 4,096"),
    ("relu\n" * 1001, (1, 8, 8), r"^The description has 1,001 layers; cnnviz allows at most 1,000"),
])
def test_what_is_too_large_is_refused_naming_the_limit_and_the_layer(text, shape, match):
    with pytest.raises(TooLarge, match=match):
        limits.check(netspec.parse(text), shape)


def test_build_refuses_before_any_module_exists(monkeypatch: pytest.MonkeyPatch):
    def no_module(*args: object) -> None:
        raise AssertionError("a module was built for a network over the limits")

    monkeypatch.setattr(builder, "_module", no_module)
    start = time.perf_counter()
    with pytest.raises(TooLarge, match="at most 512 MiB per image"):
        builder.build(netspec.parse("conv 4096 k3 p1"), (3, 4096, 4096))
    with pytest.raises(ValueError, match="at most 65,536 units"):  # TooLarge is a ValueError: callers need no change
        builder.build(netspec.parse("conv 16 k3 p1; flatten; linear 100000"), (3, 256, 256))
    assert time.perf_counter() - start < 1


def test_impossible_networks_keep_their_own_message():
    with pytest.raises(ValueError, match=r"layer 3 \(conv2: conv 8 k5\): its input is 8×3×3") as caught:
        limits.check(netspec.parse("conv 8 k3\npool max 2\nconv 8 k5"), (1, 8, 8))
    assert not isinstance(caught.value, TooLarge)


def test_a_training_batch_is_bounded_too():
    layers = netspec.parse(netspec.PRESETS["cifar_cnn"].text)
    per_image = limits.check(layers, (3, 32, 32)).image_bytes
    assert limits.check_training(layers, (3, 32, 32), 512).image_bytes == per_image  # 262 MiB: under 2 GiB
    small = Limits(batch_bytes=100 * 2**20)
    limits.check_training(layers, (3, 32, 32), 100 * 2**20 // per_image, small)
    with pytest.raises(TooLarge, match=r"^A training batch of 512 images needs 262 MiB of activations \(525 KiB per "
                                       r"image\); cnnviz allows at most 100 MiB per batch\. Use a batch of at most "
                                       r"195 images"):
        limits.check_training(layers, (3, 32, 32), 512, small)


def test_a_teacher_can_raise_the_limits_through_the_environment(monkeypatch: pytest.MonkeyPatch):
    giant = netspec.parse("conv 64 k3 p1\nrelu\nflatten\nlinear 16384\nrelu\nlinear 10")
    with pytest.raises(TooLarge):
        limits.check(giant, (1, 28, 28))
    monkeypatch.setenv("CNNVIZ_MAX_PARAMS", "1000000000")
    monkeypatch.setenv("CNNVIZ_MAX_IMAGE_MB", "1024")
    monkeypatch.setenv("CNNVIZ_MAX_BATCH_MB", "8192")
    assert limits.Limits.from_env() == Limits(params=10**9, image_bytes=2**30, batch_bytes=2**33)
    assert limits.check(giant, (1, 28, 28)).params == 640 + 822_099_968 + 163_850  # arithmetic: nothing is built
    monkeypatch.setenv("CNNVIZ_MAX_PARAMS", "lots")  # a typo keeps the safe default
    monkeypatch.setenv("CNNVIZ_MAX_IMAGE_MB", "0")
    assert limits.Limits.from_env().params == limits.MAX_PARAMS
    assert limits.Limits.from_env().image_bytes == limits.MAX_IMAGE_BYTES


@pytest.mark.parametrize("name, shape", [*((n, models.ZOO[n].input_shape) for n in models.names()),
                                         ("resnet18", (3, 224, 224))])
def test_the_default_limits_have_room_for_every_zoo_model(name, shape):
    """The zoo's models are not descriptions, but a description as large as any of them must be allowed."""
    params, _, n_bytes = torch_footprint(models.build(name), shape)
    assert params <= limits.MAX_PARAMS and n_bytes <= limits.MAX_IMAGE_BYTES
    if shape[1] <= 32:  # trained on 32 px images at batch sizes up to 512
        assert 512 * n_bytes <= limits.MAX_BATCH_BYTES


def test_described_table_reads_the_text_and_shape_and_names_what_is_wrong():
    layers, shape, table = limits.described_table(SMALL, "1x8x8")
    assert layers == netspec.parse(SMALL) and shape == (1, 8, 8) and table.total_params == 1370  # by hand, above
    with pytest.raises(ValueError, match="could not read the input shape"):
        limits.described_table(SMALL, "8 by 8")
    with pytest.raises(ValueError, match=r"line 2 \(\"conv 8 k3 x9\"\)"):
        limits.described_table("conv 8 k3\nconv 8 k3 x9", "1x8x8")
    impossible = "conv 8 k3\npool max 2\nconv 8 k5"  # the last kernel (5) meets a 3×3 map
    with pytest.raises(ValueError, match=r"layer 3 \(conv2: conv 8 k5\): its input is 8×3×3") as caught:
        limits.described_table(impossible, "1x8x8")
    assert not isinstance(caught.value, TooLarge)
    start = time.perf_counter()
    with pytest.raises(TooLarge, match="256 GiB"):  # 4096 × 4096 × 4096 activations: refused, nothing allocated
        limits.described_table("conv 4096 k3 p1", "3x4096x4096")
    assert time.perf_counter() - start < 1


def test_an_impossible_network_is_called_impossible_before_too_large():
    with pytest.raises(ValueError, match="larger than the padded input") as caught:
        limits.described_table("conv 4096 k3 p1\nconv 8 k9999", "3x4096x4096")  # too large, and impossible
    assert not isinstance(caught.value, TooLarge)
