"""Conv arithmetic against hand-worked answers and against PyTorch itself (torch.nn.functional as the oracle)."""
from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import models
from cnnviz.lessons import arithmetic as A
from cnnviz.nets import builder, netspec
from cnnviz.nets import tables as T

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------ sizes by hand

@pytest.mark.parametrize("args, kwargs, expected", [
    ((32, 5), {"padding": 2}, 32),                    # 'same' for a 5x5 kernel
    ((28, 5), {}, 24),                                # mnist_cnn conv1
    ((32, 3), {"padding": 1, "stride": 2}, 16),       # (32 + 2 - 2 - 1) // 2 + 1 = 15 + 1
    ((28, 5), {"stride": 2}, 12),                     # 23 // 2 + 1: one row dropped
    ((10, 3), {"dilation": 2}, 6),                    # the window spans 5: 10 - 5 + 1
    ((227, 11), {"stride": 4}, 55),                   # AlexNet conv1
    ((224, 7), {"padding": 3, "stride": 2}, 112),     # ResNet stem
    ((1, 1), {}, 1),
])
def test_conv_output_size_by_hand(args, kwargs, expected):
    assert A.conv_output_size(*args, **kwargs) == expected


@pytest.mark.parametrize("kwargs, expected", [
    ({"size": 24, "kernel": 2}, 12),
    ({"size": 7, "kernel": 2}, 3),                                   # floor(5/2) + 1
    ({"size": 7, "kernel": 2, "ceil_mode": True}, 4),                # ceil(5/2) + 1
    ({"size": 112, "kernel": 3, "stride": 2, "padding": 1}, 56),     # ResNet max-pool
    ({"size": 5, "kernel": 2, "padding": 1, "ceil_mode": True}, 3),  # ceil gives 4, but window 4 starts in the padding
])
def test_pool_output_size_by_hand(kwargs, expected):
    assert A.pool_output_size(**kwargs) == expected


@pytest.mark.parametrize("kwargs, expected", [
    ({"size": 16, "kernel": 4, "stride": 2, "padding": 1}, 32),                      # DCGAN / U-Net upsampling x2
    ({"size": 7, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1}, 14),  # undoes conv 14 -> 7
    ({"size": 1, "kernel": 4}, 4),                                                   # DCGAN's first layer
    ({"size": 5, "kernel": 3, "dilation": 2}, 9),
])
def test_transposed_output_size_by_hand(kwargs, expected):
    assert A.conv_transpose_output_size(**kwargs) == expected


@pytest.mark.parametrize("call, match", [
    (lambda: A.conv_output_size(3, 4), "larger than the padded input"),
    (lambda: A.conv_output_size(3, 2, dilation=3), "dilated kernel"),
    (lambda: A.conv_output_size(0, 3), "input size must be at least 1"),
    (lambda: A.conv_output_size(8, 3, stride=0), "stride must be at least 1"),
    (lambda: A.conv_output_size(8, 3, padding=-1), "padding must be at least 0"),
    (lambda: A.conv_output_size(8, 2.5), "whole number"),
    (lambda: A.conv_output_size(8, True), "whole number"),
    (lambda: A.pool_output_size(8, 3, padding=2), "at most 1"),
    (lambda: A.pool_output_size(8, 2, dilation=2, kind="avg"), "no dilation"),
    (lambda: A.pool_output_size(3, 4), "does not fit"),
    (lambda: A.conv_transpose_output_size(5, 3, stride=2, output_padding=2), "smaller than the stride"),
    (lambda: A.conv_transpose_output_size(1, 1, padding=1), "crops"),
    (lambda: A.output_size("deconv", 5, kernel=3), "unknown operation"),
])
def test_impossible_settings_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------ sizes against PyTorch

def _torch_shape(fn, *args, **kwargs):
    """The (H, W) torch computes, or None when torch refuses.

    Some transposed convolutions whose size works out to 0 come back as empty tensors instead of raising
    (depending on the kernel path torch picks); an output with no cells counts as refused.
    """
    try:
        shape = tuple(fn(*args, **kwargs).shape[2:])
    except (RuntimeError, ValueError):
        return None
    return shape if min(shape) > 0 else None


def _ours(fn, pairs):
    """fn applied per axis, or None when it raises ValueError for either axis."""
    try:
        return tuple(fn(**kw) for kw in pairs)
    except ValueError:
        return None


axis = st.fixed_dictionaries({"size": st.integers(1, 14), "kernel": st.integers(1, 6), "padding": st.integers(0, 4),
                              "stride": st.integers(1, 5), "dilation": st.integers(1, 3)})


@FAST
@given(h=axis, w=axis)
def test_conv_size_equals_torch_and_raises_exactly_when_torch_raises(h, w):
    x = torch.zeros(1, 1, h["size"], w["size"])
    weight = torch.zeros(1, 1, h["kernel"], w["kernel"])
    expected = _torch_shape(F.conv2d, x, weight, stride=(h["stride"], w["stride"]),
                            padding=(h["padding"], w["padding"]), dilation=(h["dilation"], w["dilation"]))
    assert _ours(A.conv_output_size, (h, w)) == expected


@FAST
@given(h=axis, w=axis, ceil=st.booleans())
def test_max_pool_size_equals_torch(h, w, ceil):
    x = torch.zeros(1, 1, h["size"], w["size"])
    expected = _torch_shape(F.max_pool2d, x, (h["kernel"], w["kernel"]), stride=(h["stride"], w["stride"]),
                            padding=(h["padding"], w["padding"]), dilation=(h["dilation"], w["dilation"]),
                            ceil_mode=ceil)
    ours = _ours(lambda **kw: A.pool_output_size(ceil_mode=ceil, kind="max", **kw), (h, w))
    assert ours == expected
    if ours is not None:  # the worked explanation gives the same number
        assert A.explain("maxpool", **h, ceil_mode=ceil).output == ours[0]


@FAST
@given(h=axis, w=axis, ceil=st.booleans(), include_pad=st.booleans())
def test_avg_pool_size_equals_torch(h, w, ceil, include_pad):
    h, w = {**h, "dilation": 1}, {**w, "dilation": 1}
    x = torch.zeros(1, 1, h["size"], w["size"])
    expected = _torch_shape(F.avg_pool2d, x, (h["kernel"], w["kernel"]), stride=(h["stride"], w["stride"]),
                            padding=(h["padding"], w["padding"]), ceil_mode=ceil, count_include_pad=include_pad)
    assert _ours(lambda **kw: A.pool_output_size(ceil_mode=ceil, kind="avg", **kw), (h, w)) == expected


taxis = st.fixed_dictionaries({"size": st.integers(1, 8), "kernel": st.integers(1, 5), "padding": st.integers(0, 5),
                               "stride": st.integers(1, 4), "dilation": st.integers(1, 3),
                               "output_padding": st.integers(0, 3)})


@FAST
@given(h=taxis, w=taxis)
def test_transposed_size_equals_torch(h, w):
    x = torch.zeros(1, 1, h["size"], w["size"])
    weight = torch.zeros(1, 1, h["kernel"], w["kernel"])
    expected = _torch_shape(F.conv_transpose2d, x, weight, stride=(h["stride"], w["stride"]),
                            padding=(h["padding"], w["padding"]), dilation=(h["dilation"], w["dilation"]),
                            output_padding=(h["output_padding"], w["output_padding"]))
    ours = _ours(A.conv_transpose_output_size, (h, w))
    assert ours == expected
    if ours is not None:
        assert A.explain("transposed", **h).output == ours[0]


@FAST
@given(h=axis)
def test_explanation_matches_size_and_counts_dropped_rows(h):
    try:
        out = A.conv_output_size(**h)
    except ValueError:
        with pytest.raises(ValueError):
            A.explain("conv", **h)
        return
    e = A.explain("conv", **h)
    assert e.output == out
    assert e.substituted.endswith(f"= {out}")
    # the last window ends `dropped` cells before the end of the padded input
    last_end = (out - 1) * h["stride"] + A.span(h["kernel"], h["dilation"])
    assert e.dropped == h["size"] + 2 * h["padding"] - last_end
    assert 0 <= e.dropped_padding <= min(e.dropped, h["padding"])


def test_explain_writes_the_worked_answer():
    e = A.explain("conv", 32, axis="height", kernel=3, padding=1, stride=2)
    assert e.substituted == ("floor((32 + 2×1 − 1×(3−1) − 1) / 2) + 1 = floor(31 / 2) + 1 = floor(15.5) + 1 "
                             "= 15 + 1 = 16")
    assert r"\dfrac{31}{2}" in e.substituted_latex
    assert (e.dropped, e.dropped_padding) == (1, 1)
    assert "PyTorch floors it to 15" in e.notes[0] and "last 1 row" in e.notes[0] and "padding" in e.notes[0]

    e = A.explain("conv", 28, axis="width", kernel=5, stride=2)
    assert (e.output, e.dropped, e.dropped_padding) == (12, 1, 0)
    assert "1 column" in e.notes[0] and "real input" in e.notes[0]

    e = A.explain("maxpool", 5, kernel=2, padding=1, ceil_mode=True)
    assert e.output == 3 and "3 + 1 − 1 = 3" in e.substituted
    assert any("drops it" in n for n in e.notes)

    e = A.explain("conv", 32, kernel=5, padding=2)
    assert any("keeps the size" in n for n in e.notes) and e.dropped == 0

    e = A.explain("transposed", 7, kernel=3, stride=2, padding=1, output_padding=1)
    assert e.substituted == "(7 − 1)×2 − 2×1 + 1×(3−1) + 1 + 1 = 14"


# ------------------------------------------------------------------------------------- solving backwards

def test_solve_examples_from_the_lesson():
    assert A.solve("conv", "padding", 32, 32, kernel=5).values == (2,)          # 'same' for 5x5
    assert A.solve("conv", "kernel", 512, 508, padding=0, stride=1).values == (5,)
    assert A.solve("conv", "kernel", 512, 508).sentence() == "kernel = 5"
    halve = A.solve("conv", "stride", 32, 16, kernel=3, padding=1)
    assert halve.values == (2,)
    anything = A.solve("conv", "stride", 5, 1, kernel=3)                        # stride 3 or more gives 1
    assert anything.and_larger and anything.tail_from == 3 and anything.sentence() == "stride ≥ 3"
    assert A.solve("transposed", "output_padding", 7, 14, kernel=3, stride=2, padding=1).values == (1,)
    assert A.solve("maxpool", "kernel", 7, 1, ceil_mode=True).sentence() == "kernel ≥ 7"


def test_solve_says_when_there_is_none_and_what_comes_closest():
    even = A.solve("conv", "padding", 32, 32, kernel=4)
    assert even.values == () and even.nearest == ((1, 31), (2, 33))
    assert even.sentence() == "No whole padding turns 32 into 32. Closest: padding 1 gives 31; padding 2 gives 33."
    assert "1 before and 2 after" in even.notes[0]
    assert A.solve("conv", "kernel", 8, 9).values == ()                          # a conv never grows without padding
    with pytest.raises(ValueError, match="no setting"):
        A.solve("avgpool", "dilation", 8, 4, kernel=2)
    with pytest.raises(ValueError, match="kernel"):
        A.solve("conv", "padding", 8, 8)


solve_cases = st.sampled_from([(op, u) for op, names in A.SETTINGS.items() for u in names])
BRUTE = 400  # far past every bound in _candidates for the sizes drawn below


@settings(max_examples=250, deadline=None)
@given(case=solve_cases, size=st.integers(1, 20), kernel=st.integers(1, 6), padding=st.integers(0, 3),
       stride=st.integers(1, 4), dilation=st.integers(1, 3), output_padding=st.integers(0, 2),
       ceil=st.booleans(), stride_given=st.booleans(), pick=st.integers(0, 30), random_target=st.integers(1, 40))
def test_solve_finds_exactly_the_brute_force_answers(case, size, kernel, padding, stride, dilation, output_padding,
                                                     ceil, stride_given, pick, random_target):
    op, unknown = case
    known = {"kernel": kernel, "padding": padding, "stride": stride, "dilation": dilation,
             "output_padding": output_padding, "ceil_mode": ceil}
    allowed = set(A.SETTINGS[op]) | ({"ceil_mode"} if "pool" in op else set())
    known = {k: v for k, v in known.items() if k in allowed and k != unknown}
    if "pool" in op and not stride_given:
        known.pop("stride", None)  # stride follows the kernel

    def out(value):
        try:
            return A.output_size(op, size, **known, **{unknown: value})
        except ValueError:
            return None

    lo = 0 if unknown in ("padding", "output_padding") else 1
    target = out(lo + pick)
    target = random_target if target is None or pick % 3 == 0 else target  # mostly reachable targets
    brute = [v for v in range(lo, BRUTE) if out(v) == target]
    found = A.solve(op, unknown, size, target, **known)
    if found.and_larger:
        tail = found.tail_from
        assert [v for v in brute if v < tail] == [v for v in found.values if v < tail]
        assert brute[-1] == BRUTE - 1 and all(out(v) == target for v in range(tail, BRUTE))
    else:
        assert list(found.values) == brute
    for value, output in found.nearest:
        assert out(value) == output != target


# ------------------------------------------------------------------------------------------ layer tables

def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("name, total", [("mnist_cnn", 21_840), ("cifar_cnn", 390_410),
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
    # ResNet18's last conv sees 435 pixels (a published figure); running order alone would be wrong
    table = T.layer_table(models.build("resnet18"), (3, 32, 32))
    assert table.receptive_field_exact
    rows = {r["name"]: r for r in table}
    assert rows["layer4.1.conv2"]["receptive_field"] == (435, 435) and rows["layer4.1.conv2"]["jump"] == (32, 32)
    assert rows["layer2.0.downsample.0"]["receptive_field"] == (43, 43)   # 1x1 conv on layer1's output
    assert rows["layer1.0.relu (call 2)"]["params"] == 0


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
