"""Per-layer tables (cnnviz.nets.tables) against PyTorch: sum(p.numel()), real output shapes, hand-counted rows."""
from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

import models
from cnnviz.nets import builder, netspec
from cnnviz.nets import tables as T


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("name, total", [("mnist_cnn", 21_840), ("cifar_cnn", 390_410),
                                         ("mnist_fast", 74_992), ("cifar_fast", 295_480),
                                         ("cifar_cnn_plus", None), ("resnet18", None)])
def test_layer_table_of_zoo_models_adds_up_to_the_real_parameter_count(name, total):
    torch.manual_seed(0)
    model = models.build(name)
    shape = models.ZOO[name].input_shape
    table = T.layer_table(model, shape)
    assert table.total_params == table[-1]["total_params"] == _params(model)
    if total is not None:
        assert table.total_params == total
    assert table.output_shape == tuple(model.eval()(torch.zeros(1, *shape)).shape[1:])
    leaf_names = {n for n, m in model.named_modules() if not list(m.children())}
    assert {r["name"].split(" (call")[0] for r in table} <= leaf_names
    for row in table:
        assert row["params"] == row["weights"] + row["biases"]
    assert _no_hooks(model)


def test_cifar_cnn_rows_by_hand():
    rows = {r["name"]: r for r in T.layer_table(models.build("cifar_cnn"), (3, 32, 32))}
    conv1 = rows["conv1"]
    assert (conv1["output_shape"], conv1["weights"], conv1["biases"]) == ((32, 32, 32), 32 * 3 * 5 * 5, 32)
    assert conv1["formula"] == "32×3×5×5 + 32"
    assert conv1["mult_adds"] == 32 * 32 * 32 * 3 * 5 * 5          # every output value: 3·5·5 products
    assert rows["pool3"]["output_shape"] == (128, 4, 4) and rows["flatten"]["output_shape"] == (2048,)
    assert rows["fc1"]["weights"] == 2048 * 64 and rows["fc1"]["mult_adds"] == 2048 * 64
    # 2·(32·32·32·75 + 64·16·16·800 + 128·8·8·1600 + 2048·64 + 64·10) = 57.6 MFLOP, as in FACTS.md
    assert sum(r["mult_adds"] for r in rows.values()) == 28_803_712


def test_receptive_field_of_a_known_stack():
    model = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 2, 3), conv2=nn.Conv2d(2, 2, 3),     # 3, then 3 + 2 = 5
        pool=nn.MaxPool2d(2),                                  # 5 + 1 = 6, jump 2
        conv3=nn.Conv2d(2, 2, 3),                              # 6 + 2·2 = 10
        conv4=nn.Conv2d(2, 2, 3, dilation=2),                  # 10 + 2·2·2 = 18
        conv5=nn.Conv2d(2, 2, 1, stride=2),                    # 18, jump 4
        flatten=nn.Flatten(),                                  # 18 + (H−1)·4 with H = 2: 22
    ))
    table = T.layer_table(model, (1, 32, 30))
    got = {r["name"]: (r["receptive_field"], r["jump"]) for r in table}
    assert got["conv2"] == ((5, 5), (1, 1))
    assert got["pool"] == ((6, 6), (2, 2))
    assert got["conv3"] == ((10, 10), (2, 2))
    assert got["conv4"] == ((18, 18), (2, 2))
    assert got["conv5"] == ((18, 18), (4, 4))
    h, w = table[-2]["output_shape"][1:]
    assert got["flatten"] == ((18 + (h - 1) * 4, 18 + (w - 1) * 4), None)


def test_receptive_field_follows_skip_connections():
    # torchvision's ResNet18's last conv sees 435 pixels (a published figure); running order alone would be wrong
    table = T.layer_table(models.build("resnet18", scale=1), (3, 32, 32))
    assert table.receptive_field_exact
    rows = {r["name"]: r for r in table}
    assert rows["layer4.1.conv2"]["receptive_field"] == (435, 435) and rows["layer4.1.conv2"]["jump"] == (32, 32)
    assert rows["layer2.0.downsample.0"]["receptive_field"] == (43, 43)   # 1x1 conv on layer1's output
    assert rows["layer1.0.relu (call 2)"]["params"] == 0


def test_receptive_field_through_upsampling_equals_the_gradients_support():
    """The zoo's ResNet18 upsamples x2 first: in the image's own pixels a bilinear resize reads 2 neighbours and
    halves the jump (1 + 1 = 2, jump 0.5), so conv1 (k7 s2) sees 2 + 6 * 0.5 = 5 pixels and layer4 (435 - 7) / 2 + 5
    = 219 at a jump of 16; the probe that follows gradients to the input agrees on a big enough image."""
    from cnnviz.inside import featurevis

    model = models.build("resnet18").eval()
    table = T.layer_table(model, (3, 32, 32))
    rows = {r["name"]: r for r in table}
    assert table[0]["name"] == "upsample" and T.display_rows(table)[0]["layer"] == "Upsample ×2 bilinear"
    assert (rows["upsample"]["receptive_field"], rows["upsample"]["jump"]) == ((2, 2), (0.5, 0.5))
    assert (rows["conv1"]["receptive_field"], rows["conv1"]["jump"]) == ((5, 5), (1, 1))
    assert (rows["layer4.1.conv2"]["receptive_field"], rows["layer4.1.conv2"]["jump"]) == ((219, 219), (16, 16))
    for layer, position in (("conv1", (40, 40)), ("layer4.1.conv2", (8, 8))):
        box = featurevis.receptive_field(model, layer, (3, 256, 256), position)
        assert (box.bottom - box.top, box.right - box.left) == rows[layer]["receptive_field"]


class Branchy(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it, and one layer is never used."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 2, 3)
        self.b = nn.Conv2d(2, 2, 3)
        self.unused = nn.Linear(4, 4)
        self.extra = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a(x)
        return self.b(x) if x.sum() >= 0 else x


def test_untraceable_model_still_counts_every_parameter():
    model = Branchy().train()
    table = T.layer_table(model, (1, 8, 8))
    assert table.total_params == _params(model)
    assert not table.receptive_field_exact and any("approximate" in n for n in table.notes)
    assert [r["receptive_field"] for r in table[:2]] == [(3, 3), (5, 5)]
    assert any(r["name"] == "unused (not run)" for r in table)
    assert model.training and _no_hooks(model)


def test_hooks_are_removed_and_modes_restored_after_an_error():
    model = models.build("mnist_cnn")
    model.train()
    model.fc1.eval()  # mixed modes must come back as they were
    with pytest.raises(ValueError, match="at layer conv1"):
        T.layer_table(model, (3, 28, 28))  # 3 channels into a 1-channel conv
    assert _no_hooks(model)
    assert model.training and model.conv1.training and not model.fc1.training


@pytest.mark.parametrize("preset", ["mnist_cnn", "cifar_cnn", "lenet5", "all_conv"])
def test_pure_arithmetic_table_agrees_with_the_torch_table(preset):
    p = netspec.PRESETS[preset]
    layers = netspec.parse(p.text)
    pure = T.spec_table(layers, p.input_shape)
    real = T.layer_table(builder.build(layers, p.input_shape), p.input_shape)
    keys = [k for k in T.COLUMNS]
    assert [[r[k] for k in keys] for r in pure] == [[r[k] for k in keys] for r in real]


# ------------------------------------------------------------------------------------------ for display

def _described(text: str, shape: tuple[int, ...]) -> T.LayerTable:
    return T.spec_table(netspec.parse(text), shape)


def test_display_rows_by_hand():
    table = _described("conv 8 k3 p1\nrelu\npool max 2\nflatten\nlinear 10", (1, 8, 8))
    rows = T.display_rows(table)
    assert [r["layer"] for r in rows] == ["Conv2d k3 s1 p1", "ReLU", "MaxPool2d k2 s2", "Flatten", "Linear"]
    assert [r["output_shape"] for r in rows] == ["8×8×8", "8×8×8", "8×4×4", "128", "10"]
    assert [r["params"] for r in rows] == [80, None, None, None, 1290]  # 8·1·3·3 + 8; 128·10 + 10; blank, not 0
    assert [r["total_params"] for r in rows] == [80, 80, 80, 80, 1370]  # a running total of 0 would stay 0
    # receptive field (jump): 3, then the pool's 3 + 1 = 4 with jump 2, then flatten sees 4 + (4 − 1)·2 = 10
    assert [r["receptive_field"] for r in rows] == ["3 (1)", "3 (1)", "4 (2)", "10", "10"]
    assert set(T.DISPLAY_COLUMNS) <= set(rows[0])
    assert set(T.ANSWER_COLUMNS) | set(T.COUNT_COLUMNS) <= set(T.DISPLAY_COLUMNS)


def test_receptive_field_and_shape_text():
    table = _described("conv 8 k3 p1\nrelu\npool max 2\nflatten\nlinear 10", (1, 8, 8))
    assert table.receptive_field == (4, 4)  # the pool's: flatten and linear have no jump
    assert _described("linear 10", (784,)).receptive_field is None  # no map at all
    wide = T.layer_table(nn.Sequential(nn.Conv2d(1, 1, (3, 5))), (1, 8, 8))
    assert wide.receptive_field == (3, 5) and T.display_rows(wide)[0]["receptive_field"] == "3 × 5 (1)"
    assert T.shape_text((32, 16, 16)) == "32 × 16 × 16" and T.shape_text((10,), "×") == "10"


def test_disagreements_are_none_for_a_description_and_its_torch_model():
    p = netspec.PRESETS["all_conv"]
    layers = netspec.parse(p.text)
    model = builder.build(layers, p.input_shape)
    pure = T.spec_table(layers, p.input_shape)
    assert T.disagreements(pure, T.layer_table(model, p.input_shape), _params(model)) == []


def test_disagreements_name_the_layer_the_count_and_a_missing_row():
    table = _described("conv 8 k3\nflatten\nlinear 10", (1, 8, 8))
    other = _described("conv 8 k3 p1\nflatten", (1, 8, 8))
    assert T.disagreements(table, other, 1) == [
        "conv1: table says 8 × 6 × 6, torch gives 8 × 8 × 8",
        "flatten: table says 288, torch gives 512",
        f"parameters: table says {table.total_params:,}, torch counts 1",
        "layers: the table has 3, torch ran 2"]


@pytest.mark.parametrize("mode, rf", [("nearest", 2), ("bilinear", 3)])
def test_a_3x3_conv_after_a_x2_resize_sees_as_many_pixels_as_its_gradient_reaches(mode: str, rf: int) -> None:
    """Nearest copies read 1 pixel, bilinear 2: the 3x3 conv adds 2 half-pixel jumps, 1 + 1 = 2 or 2 + 1 = 3."""
    from cnnviz.inside import featurevis

    model = nn.Sequential(OrderedDict(up=nn.Upsample(scale_factor=2, mode=mode), conv=nn.Conv2d(1, 1, 3)))
    rows = {r["name"]: r for r in T.layer_table(model, (1, 12, 12))}
    assert rows["conv"]["receptive_field"] == (rf, rf) and rows["conv"]["jump"] == (0.5, 0.5)
    for position in ((9, 9), (10, 10)):  # an odd and an even unit
        box = featurevis.receptive_field(model, "conv", (1, 12, 12), position)
        assert (box.bottom - box.top, box.right - box.left) == (rf, rf)
