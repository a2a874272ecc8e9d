"""Grouped, depthwise and separable convolution: the group-by-group convolution and the stepper's figures of it
against F.conv2d(groups=...), the counts against real nn.Conv2d modules, cnnviz.nets.tables and torch's FLOP
counter, and MobileNet's ratio by hand."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnviz.lessons import figures
from cnnviz.lessons import groups as G
from cnnviz.lessons.stepping import Conv
from cnnviz.nets import tables
from tests.test_figures import cells_with, grids, values, working

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.array(a, copy=True), dtype=torch.float64)


@st.composite
def grouped(draw, integer: bool = True):
    """A random grouped convolution: input (C_in, H, W), kernel (C_out, C_in/g, kh, kw), bias, g and settings."""
    g, a, b = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w, kh, kw = (draw(st.integers(1, 7)) for _ in range(4))
    pad, stride, dil = draw(st.integers(0, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    assume(h + 2 * pad >= dil * (kh - 1) + 1 and w + 2 * pad >= dil * (kw - 1) + 1)
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    if integer:
        x, k, bias = rng.integers(-9, 10, (g * a, h, w)), rng.integers(-3, 4, (g * b, a, kh, kw)), \
            rng.integers(-5, 6, g * b)
    else:
        x, k, bias = rng.normal(size=(g * a, h, w)), rng.normal(size=(g * b, a, kh, kw)), rng.normal(size=g * b)
    return x, k, bias, g, pad, stride, dil


@FAST
@given(case=grouped(), integer=st.booleans())
def test_the_group_by_group_convolution_equals_torch_conv2d_with_groups(case, integer):
    x, k, bias, g, pad, stride, dil = case
    if not integer:
        x, k, bias = x + 0.5, k * 0.25, bias * 0.5
    ours = G.GroupedConv.make(x, k, bias, groups=g, padding=pad, stride=stride, dilation=dil).output()
    theirs = F.conv2d(_t(x)[None], _t(k), _t(bias), stride=stride, padding=pad, dilation=dil, groups=g)[0].numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


@FAST
@given(case=grouped())
def test_each_output_channel_reads_only_its_group_and_every_step_adds_up(case):
    x, k, bias, g, pad, stride, dil = case
    conv = G.GroupedConv.make(x, k, bias, groups=g, padding=pad, stride=stride, dilation=dil)
    out = conv.output()
    for o in range(conv.c_out):
        read = conv.reads(o)
        assert len(read) == conv.c_in // g and read.start == (o // (conv.c_out // g)) * (conv.c_in // g)
        changed = x.copy()  # whatever the other groups hold, this output channel stays the same
        others = [c for c in range(conv.c_in) if c not in read]
        changed[others] = 99
        np.testing.assert_array_equal(G.GroupedConv.make(changed, k, bias, g, pad, stride, dil).channel(o).output(),
                                      out[o])
        lines = conv.working(o, 0, 0)
        total = len(read) > 1 or bias[o] != 0  # a 'total' line, unless one channel's sum is the answer
        assert len(lines) == len(read) + total and lines[0].startswith(f"input channel {read.start + 1}:")
        assert lines[-1].endswith(f"= {out[o, 0, 0]}") and lines[-1].startswith("total: " if total else "input")


@FAST
@given(case=grouped())
def test_true_convolution_equals_torch_with_every_kernel_rotated(case):
    x, k, bias, g, pad, stride, dil = case
    ours = G.GroupedConv.make(x, k, bias, g, pad, stride, dil, flip=True).output()
    rotated = _t(k).flip(-2, -1)  # 180°: both spatial axes reversed
    theirs = F.conv2d(_t(x)[None], rotated, _t(bias), stride=stride, padding=pad, dilation=dil, groups=g)[0]
    np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-9)


@pytest.mark.parametrize("c_in, c_out, g", [(4, 2, 2), (3, 3, 3), (2, 4, 2), (3, 2, 1), (4, 4, 2)])
def test_each_kernel_slice_joins_the_channels_it_names(c_in, c_out, g):
    """Torch as the oracle: a weight that is 1 in one slice only, on an input that is 1 in one channel only, makes
    exactly the output channel the slice names nonzero, and only when the slice names that input channel."""
    slices = G.kernel_slices(c_in, c_out, g)
    assert len(slices) == c_out * (c_in // g)  # one per weight slice, in the weight's order
    for s, (o, i) in enumerate(slices):
        w = torch.zeros(c_out * (c_in // g), 1, 1, dtype=torch.float64)
        w[s] = 1
        for c in range(c_in):
            x = torch.zeros(1, c_in, 2, 2, dtype=torch.float64)
            x[0, c] = 1
            out = F.conv2d(x, w.reshape(c_out, c_in // g, 1, 1), groups=g)[0]
            lit = {int(ch) for ch in torch.nonzero(out.sum((1, 2)))}
            assert lit == ({o} if c == i else set()), (s, o, i, c)


def test_a_worked_cell_by_hand():
    x = np.arange(4 * 2 * 2).reshape(4, 2, 2)  # channels 0..3, each 2x2: [0..3], [4..7], [8..11], [12..15]
    k = np.ones((2, 2, 1, 1), dtype=int)  # 1x1, 2 groups: out 0 = ch0 + ch1, out 1 = ch2 + ch3
    conv = G.GroupedConv.make(x, k, [0, 1], groups=2)
    np.testing.assert_array_equal(conv.output(), [[[4, 6], [8, 10]], [[21, 23], [25, 27]]])
    assert conv.working(1, 0, 0) == ["input channel 3: 8×1 = 8", "input channel 4: 12×1 = 12",
                                     "total: 8 + 12 + 1 (bias) = 21"]
    assert conv.working(0, 1, 1) == ["input channel 1: 3×1 = 3", "input channel 2: 7×1 = 7", "total: 3 + 7 = 10"]
    depthwise = G.GroupedConv.make(x, np.ones((4, 1, 1, 1), dtype=int), [0, 0, 5, 0], groups=4)
    assert depthwise.working(0, 0, 0) == ["input channel 1: 0×1 = 0"]  # one channel's sum is the answer
    assert depthwise.working(2, 0, 1) == ["input channel 3: 9×1 = 9", "total: 9 + 5 (bias) = 14"]


def test_each_output_channel_starts_from_the_next_preset():
    presets = ["Sobel x", "Sobel y", "Laplacian", "Box blur"]
    assert G.channel_presets("Laplacian", presets, 4) == ["Laplacian", "Box blur", "Sobel x", "Sobel y"]
    assert G.channel_presets("Sobel y", presets, 1) == ["Sobel y"]
    assert G.channel_presets("Custom", presets, 3) == ["Custom"] * 3  # blank stays blank


def test_impossible_groups_and_shapes_are_named():
    with pytest.raises(ValueError, match="3 groups cannot split the input channels C_in = 32 and the output"):
        G.check_groups(32, 64, 3)
    with pytest.raises(ValueError, match="output channels C_out = 6 evenly"):
        G.costs(4, 6, 3, 8, 8, groups=4)
    with pytest.raises(ValueError, match="each kernel reads 2 of the 4 input channels, but it has 4"):
        G.GroupedConv.make(np.zeros((4, 3, 3)), np.zeros((2, 4, 1, 1)), groups=2)
    with pytest.raises(ValueError, match="the kernel does not fit"):
        G.GroupedConv.make(np.zeros((2, 2, 2)), np.zeros((2, 1, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="output channel 4 does not exist"):
        G.reads(4, 4, 4, 2)
    assert G.valid_groups(32, 64) == [1, 2, 4, 8, 16, 32]
    assert G.valid_groups(6, 9) == [1, 3]


def _module(layer: G.ConvLayer, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(layer.c_in, layer.c_out, layer.kernel, groups=layer.groups, bias=bias, padding="same")


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("c_in, c_out, k, h, w, g", [(32, 64, 3, 14, 14, 4), (3, 6, 5, 9, 7, 3),
                                                     (8, 8, 1, 5, 5, 8), (12, 4, 4, 6, 10, 2)])
@pytest.mark.parametrize("bias", [True, False])
def test_counts_equal_real_modules_the_layer_table_and_torchs_flop_counter(c_in, c_out, k, h, w, g, bias):
    for cost in G.costs(c_in, c_out, k, h, w, groups=g, bias=bias):
        model = nn.Sequential(*(_module(layer, bias) for layer in cost.layers))
        assert cost.params == sum(p.numel() for p in model.parameters())
        assert cost.biases == sum(m.bias.numel() for m in model if m.bias is not None)
        table = tables.layer_table(model, (c_in, h, w))
        assert table.output_shape == (cost.c_out, h, w)
        assert cost.mult_adds == table.total_mult_adds
        with FlopCounterMode(display=False) as flops:
            model(torch.zeros(1, c_in, h, w))
        assert 2 * cost.mult_adds == flops.get_total_flops()  # torch counts a multiply-add as 2 FLOPs
        assert "nn.Conv2d(" in cost.layers[0].code and eval(cost.layers[-1].code, {"nn": nn}).weight.shape == \
            model[-1].weight.shape  # noqa: S307 (our own text)


def test_the_counts_of_mobilenets_first_separable_layer_by_hand():
    """MobileNet v1, conv dw / s1 then conv / s1 on 112 × 112 × 32 → 64 (Howard et al. 2017, table 1)."""
    plain, pointwise, grouped, depthwise, separable = G.costs(32, 64, 3, 112, 112, groups=4, bias=False)
    assert plain.weights == 64 * 32 * 9 == 18_432
    assert pointwise.weights == 64 * 32 == 2048
    assert grouped.weights == 64 * 8 * 9 == 4608
    assert depthwise.weights == 32 * 9 == 288 and depthwise.c_out == 32
    assert separable.weights == 288 + 2048 and separable.c_out == 64
    assert separable.mult_adds == 112 * 112 * (288 + 2048) == 29_302_784
    ratio = Fraction(separable.mult_adds, plain.mult_adds)
    assert ratio == G.mobilenet_ratio(64, 3) == Fraction(1, 64) + Fraction(1, 9)
    assert G.saving(separable, plain) == "7.89× fewer" and G.saving(grouped, plain) == "4× fewer"
    assert G.saving(plain, plain) == "the same"
    tiny = G.costs(1, 1, 1, 2, 2)  # one channel, 1 × 1: separating costs a second layer for nothing
    assert G.saving(tiny[4], tiny[0]) == "2× more"
    assert separable.formula == "32·1·3·3 + 64·32·1·1"
    assert [c.biases for c in G.costs(32, 64, 3, 4, 4, 4)] == [64, 64, 64, 32, 96]


@given(c_out=st.integers(1, 1024), k=st.integers(1, 11))
def test_mobilenets_ratio_is_the_separable_over_the_plain_count(c_out, k):
    plain, *_, separable = G.costs(7, c_out, k, 3, 5, bias=False)
    assert Fraction(separable.mult_adds, plain.mult_adds) == Fraction(7 * k * k + 7 * c_out, 7 * c_out * k * k)
    assert Fraction(separable.weights, plain.weights) == G.mobilenet_ratio(c_out, k)


def test_the_3x3_saving_is_eight_to_nine_times_for_real_widths():
    """MobileNet's sentence on the page: about 8-9× fewer mult-adds for 3 × 3 kernels."""
    savings = [1 / G.mobilenet_ratio(c_out, 3) for c_out in (64, 128, 256, 512, 1024)]
    assert all(7.8 < s < 9 for s in savings) and savings == sorted(savings)


def test_the_wiring_picture_draws_a_band_per_group_and_highlights_one_channel():
    picture = G.wiring_html([8, 4], [2], titles=["Input C_in = 8", "Output"])
    assert picture.count('class="cv-band"') == 2 and picture.count('class="cv-box"') == 12  # none chosen
    assert "Input C_in = 8" in picture and "group 2: input channels 5–8 → output channels 3–4" in picture
    assert "polygon(50.00% 0, 100.00% 0, 100.00% 100%, 50.00% 100%)" in picture  # group 2: right half to right half
    lit = G.wiring_html([8, 4], [2], highlight=3)
    assert lit.count("opacity: 0.75") == 1 and lit.count("opacity: 0.12") == 1
    assert lit.count('class="cv-box on"') == 4 and lit.count('class="cv-box on chosen"') == 1  # inputs 5-8, output 4
    separable = G.wiring_html([4, 4, 6], [4, 1], highlight=0)  # depthwise then pointwise: all of it leads there
    assert separable.count('class="cv-band"') == 5 and "opacity: 0.12" not in separable
    assert separable.count('class="cv-box on"') == 4 + 4 and separable.count("on chosen") == 1
    depthwise = G.wiring_html([4, 4], [4], highlight=2)
    assert depthwise.count("opacity: 0.75") == 1 and "group 3: input channel 3 → output channel 3" in depthwise
    assert G.wiring_html([512, 512], [1]).count('class="cv-bar"') == 2  # too many boxes to draw: one bar a row
    with pytest.raises(ValueError, match="need 1 group counts"):
        G.wiring_html([4, 4], [])


# ------------------------------------------------------------------------------------- the stepper's figures


def _torch_grouped(layer: G.GroupedConv, pad: int) -> np.ndarray:
    out = F.conv2d(_t(layer.image)[None], _t(layer.kernel), _t(layer.bias), padding=pad, groups=layer.groups)
    return out[0].numpy()


def test_a_grouped_step_draws_only_its_group_and_every_output_channel_so_far():
    rng = np.random.default_rng(3)
    layer = G.GroupedConv.make(rng.integers(0, 10, (4, 5, 6)), rng.integers(-3, 4, (2, 2, 3, 3)), [1, -2], groups=2,
                               padding=1)
    truth, k = _torch_grouped(layer, 1), 7  # (2, 5, 6); step 7 is cell (1, 1)
    drawn = grids(figures.grouped_scene(layer, 1, k))
    assert {"input2", "input3", "kernel2", "kernel3"} <= set(drawn) and not {"input0", "input1"} & set(drawn)
    np.testing.assert_array_equal(values(drawn["input3"])[1:-1, 1:-1], layer.image[3])  # padded by 1
    np.testing.assert_array_equal(values(drawn["kernel2"]), layer.kernel[1, 0])
    done = np.arange(30).reshape(5, 6) <= k
    for name, o in (("output", 1), ("output0", 0)):  # the stepped channel, and the other one as far as it goes
        np.testing.assert_array_equal(values(drawn[name]), np.where(done, truth[o], np.nan))
    assert cells_with(drawn["output"], "cur") == {(1, 1)} and not cells_with(drawn["output0"], "cur")
    text = working(figures.grouped_scene(layer, 1, k))
    assert text.startswith("Output channel 2, cell (1, 1) =") and "input channel 3:" in text
    assert "input channel 4:" in text and text.endswith(f"(bias) = {truth[1, 1, 1]:g}")
    last = grids(figures.grouped_scene(layer, 1, 29))
    np.testing.assert_array_equal(values(last["output"]), truth[1])
    np.testing.assert_array_equal(values(last["output0"]), truth[0])
    hidden = figures.grouped_scene(layer, 1, k, hide=True)
    assert grids(hidden)["output"][(1, 1)][1] == "?" and working(hidden).endswith("?")
    ask = figures.grouped_ask(layer, 1, k)
    assert (ask.grid, ask.cell, ask.truth) == ("Output channel 2,", (1, 1), truth[1, 1, 1])


def test_a_depthwise_step_shows_one_input_channel_and_works_it_out_as_the_plain_stepper_does():
    rng = np.random.default_rng(4)
    layer = G.GroupedConv.make(rng.integers(0, 10, (3, 4, 4)), rng.integers(-3, 4, (3, 1, 3, 3)), groups=3)
    drawn = figures.grouped_scene(layer, 2, 0)
    assert [n for n in grids(drawn) if n.startswith("input")] == ["input2"] and "Input channel 3" in "".join(drawn)
    truth = _torch_grouped(layer, 0)
    assert working(drawn) == f"Output channel 3, cell (0, 0) = {layer.channel(2).step(0, 0).lines[0]}"
    assert working(drawn).endswith(f"= {truth[2, 0, 0]:g}")
    assert figures.grouped_working(layer, 2, 0, 0) == layer.channel(2).step(0, 0).lines


def test_one_output_channel_draws_exactly_the_plain_stepper():
    rng = np.random.default_rng(5)
    x, w = rng.integers(0, 10, (2, 5, 5)), rng.integers(-3, 4, (1, 2, 3, 3))
    layer = G.GroupedConv.make(x, w, [3], padding=1, flip=True)
    plain = Conv.make(x, w[0], 3, padding=1, flip=True)
    assert figures.grouped_scene(layer, 0, 4) == figures.conv_scene(plain, 4)
    assert figures.grouped_ask(layer, 0, 4) == figures.conv_ask(plain, 4)
    assert figures.grouped_working(layer, 0, 1, 2) == plain.step(1, 2).lines
