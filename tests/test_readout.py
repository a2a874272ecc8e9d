"""cnnviz.inside.readout: rankings against torch, a layer's and a map's numbers against a plain forward pass,
captions and tile sizes against hand-computed values."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.inside import readout, render


def tiny_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.MaxPool2d(2)).eval()


def test_top_and_rank_agree_with_torch_sorting() -> None:
    torch.manual_seed(1)
    probs = torch.softmax(torch.randn(10), 0)
    p = probs.numpy()
    assert readout.top(p).tolist() == torch.topk(probs, 5).indices.tolist()
    order = torch.argsort(probs, descending=True).tolist()
    assert [readout.rank(p, i) for i in range(10)] == [order.index(i) + 1 for i in range(10)]


def test_rank_gives_ties_the_better_place() -> None:
    p = np.array([0.4, 0.4, 0.2])
    assert [readout.rank(p, i) for i in range(3)] == [1, 1, 3]


def test_verdict_says_right_or_how_far_off() -> None:
    p, classes = np.array([0.1, 0.6, 0.3]), ["cat", "dog", "ship"]
    assert readout.verdict(1, p, classes) == "✅ You guessed what the network says."
    assert readout.verdict(0, p, classes) == "❌ You said **cat**; the network gave it 10.0% (number 3 of 3)."
    assert readout.verdict(2, p, classes).endswith("gave it 30.0% (number 2 of 3).")


def test_layer_caption_names_the_layer_and_the_range_of_a_plain_forward_pass() -> None:
    net, x = tiny_net(), torch.rand(1, 1, 28, 28)
    pictures = {p.name: p for p in render.layer_pictures(net, x)}
    with torch.no_grad():
        out = F.conv2d(x, net[0].weight, net[0].bias)  # (1, 6, 26, 26)
    lo, hi = out.min().item(), out.max().item()
    assert readout.layer_caption(pictures["0"], net[0], False) == (
        f"0 · Conv2d (convolution) · 6 maps of 26×26, values {lo:.3g} to {hi:.3g}")
    assert readout.layer_caption(pictures["2"], net[2], True).startswith("2 · MaxPool2d (pooling) · 6 maps of 13×13")
    assert readout.layer_caption(pictures["2"], net[2], True).endswith(", strongest first")
    assert readout.shape_text(pictures["0"].shape) == "6 × 26 × 26"


def test_read_map_by_hand() -> None:
    maps = torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[0.0, 2.0], [4.0, 6.0]], [[-1.0, -1.0], [-1.0, -1.0]]])
    reading = readout.read_map("x", maps, 1)
    assert (reading.height, reading.width, reading.lo, reading.hi, reading.mean) == (2, 2, 0.0, 6.0, 3.0)
    assert (reading.rank, reading.count, reading.single) == (1, 3, False)
    assert reading.sentence() == ("**x, channel 1**: 2×2 values from **0** to **6** (mean 3); by mean activation "
                                  "it ranks 1 of 3.")
    assert readout.read_map("x", maps, 2).rank == 3


@pytest.mark.parametrize("channel", range(6))
def test_read_map_equals_torch_on_a_forward_pass(channel: int) -> None:
    net, x = tiny_net(), torch.rand(1, 1, 28, 28)
    with torch.no_grad():
        maps = F.conv2d(x, net[0].weight, net[0].bias)[0]  # (6, 26, 26)
    reading = readout.read_map("0", maps, channel)
    m = maps[channel]
    assert (reading.height, reading.width) == tuple(m.shape)
    assert (reading.lo, reading.hi) == (m.min().item(), m.max().item())
    assert reading.mean == pytest.approx(m.mean().item(), rel=1e-5)
    assert reading.rank == torch.argsort(maps.mean((1, 2)), descending=True).tolist().index(channel) + 1


def test_a_single_number_map_is_coloured_by_the_layer_range() -> None:
    maps = torch.arange(4.0).reshape(4, 1, 1)
    reading = readout.read_map("gap", maps, 0)
    assert reading.single and reading.rank == 4
    assert reading.sentence().endswith("it says *what*, no longer *where*.")
    picture = render.LayerPicture("gap", "pool", (4, 1, 1), (0, 1, 2, 3), 0.0, 3.0, b"", (1, 1))
    assert readout.closeup_range(reading, picture, "channel") == (0.0, 3.0)
    wide = readout.read_map("x", torch.rand(2, 3, 3), 0)
    assert readout.closeup_range(wide, picture, "channel") is None
    assert readout.closeup_range(wide, picture, "layer") == (0.0, 3.0)


@pytest.mark.parametrize(("shape", "size", "caption"), [
    ((6, 1, 5, 5), (102, 206), "One grey tile per filter (one input channel); mid-grey is 0, white positive, "
                               "black negative."),  # 10x enlarged to 50 px, 4 columns, 2 px between
    ((8, 3, 3, 3), (98, 198), "One colour tile per filter."),  # 16x enlarged to 48 px, 4 columns
    ((20, 32, 3, 3), (510, 510), "One row per filter, one grey tile per input channel (showing 16 of 20 filters "
                                 "× 16 of 32 inputs); mid-grey is 0, white positive, black negative."),
])
def test_weight_tiles_sizes_and_captions(shape: tuple[int, ...], size: tuple[int, int], caption: str) -> None:
    pixels, said = readout.weight_tiles(torch.randn(shape))
    assert pixels.shape == (*size, 3) and pixels.dtype == np.uint8
    assert said == caption


def test_first_filters_caption() -> None:
    assert readout.first_filters_caption(3, False) == ("Filters: colour, each stretched to its own range (red, green, "
                                                       "blue weights).")
    assert readout.first_filters_caption(1, True) == ("Filters: mid-grey is 0, white positive, black negative. "
                                                      "Ordered by mean response.")


def test_parameter_count_equals_numel() -> None:
    conv = nn.Conv2d(3, 6, 5)
    assert conv.weight.numel() == 450 and readout.parameter_count(conv) == "450 weights and 6 biases."
    deep = nn.Conv2d(64, 128, 3, bias=False)
    assert readout.parameter_count(deep) == (f"{sum(p.numel() for p in deep.parameters()):,} weights (no bias: a "
                                             "batch norm follows).")
    assert readout.parameter_count(deep).startswith("73,728 weights")
