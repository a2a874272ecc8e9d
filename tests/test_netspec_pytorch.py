"""Networks pasted as PyTorch code, and the everyday spellings of the text form, read like the student meant."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.nets import builder, netspec

PASTED = """model = nn.Sequential(
    nn.Conv2d(3, 32, kernel_size=5, padding=2),
    nn.BatchNorm2d(32),
    nn.ReLU(inplace=True),
    nn.MaxPool2d(2),
    nn.Conv2d(32, 64, (3, 3), stride=2, padding=1, bias=False),
    nn.LeakyReLU(0.1),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Dropout2d(p=0.25),
    nn.AdaptiveAvgPool2d(1),
    nn.Flatten(),
    nn.Linear(64, 10),
)"""

TORCH = nn.Sequential(
    nn.Conv2d(3, 32, kernel_size=5, padding=2), nn.BatchNorm2d(32), nn.ReLU(inplace=True), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, (3, 3), stride=2, padding=1, bias=False), nn.LeakyReLU(0.1),
    nn.AvgPool2d(kernel_size=2, stride=2), nn.Dropout2d(p=0.25), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    nn.Linear(64, 10))


def test_a_pasted_sequential_reads_as_the_same_network_as_torch_builds() -> None:
    layers = netspec.parse(PASTED)
    assert netspec.to_text(layers).splitlines() == [
        "conv 32 k5 p2", "bn", "relu", "pool max 2", "conv 64 k3 s2 p1 nobias", "leakyrelu 0.1", "pool avg 2",
        "dropout2d 0.25", "globalpool avg", "flatten", "linear 10"]
    built = builder.build(layers, (3, 32, 32))
    x = torch.randn(2, 3, 32, 32)
    assert built(x).shape == TORCH.eval()(x).shape == (2, 10)
    assert sum(p.numel() for p in built.parameters()) == sum(p.numel() for p in TORCH.parameters())


@pytest.mark.parametrize("line, expected", [
    ("conv 32 5x5 pad 2", "conv 32 k5 p2"),
    ("conv 32 kernel 5 stride 2 padding 1", "conv 32 k5 s2 p1"),
    ("conv 16 k 3 p 1", "conv 16 k3 p1"),
    ("nn.Conv2d(3, 32, 5, padding=2)", "conv 32 k5 p2"),
    ("Conv2d(in_channels=1, out_channels=8, kernel_size=3, padding='same')", "conv 8 k3 p=same"),
    ("torch.nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)", "pool max 3 s2 p1 ceil"),
    ("nn.Linear(2048, 64)", "linear 64"),
    ("nn.Linear(in_features=64, out_features=10, bias=False),", "linear 10 nobias"),
    ("nn.Dropout(0.3)", "dropout 0.3"),
    ("nn.AdaptiveMaxPool2d((1, 1))", "globalpool max"),
    ("nn.GELU()", "gelu"),
])
def test_each_spelling_reads_as_its_canonical_line(line: str, expected: str) -> None:
    assert netspec.to_text(netspec.parse(line)) == expected


@pytest.mark.parametrize("text, match", [
    ("nn.Conv3d(3, 8, 3)", r"line 1 .*nn\.Conv3d is not a layer cnnviz can draw here; it reads nn\.Conv2d"),
    ("nn.Conv2d(3, 8, 3, groups=3)", r"grouped convolutions .* leave groups out"),
    ("nn.Conv2d(3, 8, (3, 5))", r"kernel=\(3, 5\) is not square; .* e\.g\. kernel=3"),
    ("nn.AdaptiveAvgPool2d(4)", r"only output size 1"),
    ("nn.Conv2d(3, 8, k)", r"could not read .* plain numbers, e\.g\. nn\.Conv2d\(3, 32, 5, padding=2\)"),
    ("nn.Linear(1, 2, True, 4)", r"nn\.Linear takes at most 3 plain arguments \(in, out, bias\), got 4"),
    ("conv 32 pad two", r"padding must be a whole number, got 'two'"),
])
def test_every_error_names_the_token_and_shows_an_example(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        netspec.parse(text)
