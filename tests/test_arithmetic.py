"""Conv arithmetic against hand-worked answers and against PyTorch itself (torch.nn.functional as the oracle)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz.lessons import arithmetic as A

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


# ------------------------------------------------------------------------------------- the lesson's calculator

def test_every_setting_has_a_title_and_a_help_text():
    names = {name for settings in A.SETTINGS.values() for name in settings}
    assert names == set(A.SETTING_TITLES) == set(A.SETTING_HELP)


def test_formula_latex_is_the_explanations_formula_before_the_numbers():
    assert A.formula_latex("conv") == A.explain("conv", 28, kernel=5, stride=2).formula_latex
    assert r"\lfloor" in A.formula_latex("maxpool") and r"\lceil" in A.formula_latex("avgpool", ceil_mode=True)
    assert "output\\_padding" in A.formula_latex("transposed")


def test_work_out_gives_one_answer_when_the_axes_agree_and_says_why_an_axis_is_impossible():
    conv = {"kernel": 5, "padding": 2, "stride": 1, "dilation": 1}
    both = A.work_out("conv", 32, 32, conv, dict(conv))
    assert [(w.axis, w.size, w.working.output) for w in both] == [("height and width", 32, 32)]
    assert A.output_hw(both) == (32, 32)

    narrow = {"kernel": 5, "padding": 0, "stride": 1, "dilation": 1}
    split = A.work_out("conv", 4, 9, narrow, narrow)  # height: kernel 5 > 4; width: 9 - 5 + 1 = 5
    assert [w.axis for w in split] == ["height", "width"]
    assert split[0].working is None and "larger than the padded input" in split[0].problem
    assert split[1].working.output == 5 and "column" in split[1].working.notes[0]  # the width's own words
    assert A.output_hw(split) == (None, 5)


@pytest.mark.parametrize("op, along_h, along_w, size", [
    ("conv", {"kernel": 3, "padding": 1, "stride": 2, "dilation": 1}, None, (32, 28)),
    ("conv", {"kernel": 3, "padding": 1, "stride": 2, "dilation": 1}, {"kernel": 5, "padding": 0, "stride": 1,
                                                                        "dilation": 2}, (32, 28)),
    ("maxpool", {"kernel": 2, "padding": 0, "stride": 2, "dilation": 1, "ceil_mode": True}, None, (7, 7)),
    ("avgpool", {"kernel": 3, "padding": 1, "stride": 2, "ceil_mode": False}, None, (9, 8)),
    ("transposed", {"kernel": 4, "padding": 1, "stride": 2, "dilation": 1, "output_padding": 1}, None, (16, 16)),
])
def test_pytorch_code_builds_the_module_that_gives_the_sizes_in_its_comment(op, along_h, along_w, size):
    along_w = along_w or dict(along_h)
    out = A.output_hw(A.work_out(op, *size, along_h, along_w))
    line, comment = A.pytorch_code(op, along_h, along_w, size, out).split("\n")
    module = eval(line, {"nn": nn, "in_channels": 2, "out_channels": 3})  # noqa: S307 - our own generated line
    shape = tuple(module(torch.zeros(1, 2, *size)).shape[2:])  # torch is the oracle
    assert shape == out and comment == f"# (N, C, {size[0]}, {size[1]}) -> (N, C', {out[0]}, {out[1]})"


def test_pytorch_code_marks_an_impossible_axis():
    kernel5 = {"kernel": 5, "padding": 0, "stride": 1, "dilation": 1}
    code = A.pytorch_code("conv", kernel5, kernel5, (4, 9), (None, 5))
    assert code.endswith("# (N, C, 4, 9) -> (N, C', ?, 5)")


def test_verdict_by_hand():
    assert A.verdict("Parameters", 21_840, 21_840) == "✅ **Parameters: 21,840.** You said 21,840: right."
    assert A.verdict("Parameters", 20_000, 21_840) == "❌ **Parameters: 21,840.** You said 20,000, 1,840 too low."
    assert A.verdict("Output height", 30, 28) == "❌ **Output height: 28.** You said 30, 2 too high."


def test_solutions_shown_stop_at_the_endless_run_and_check_each_value_in_the_formula():
    anything = A.solve("conv", "stride", 5, 1, kernel=3)  # stride 3 or more gives 1
    assert anything.shown() == (3,)
    many = A.solve("conv", "dilation", 20, 20, kernel=1)  # a 1×1 kernel ignores dilation: every one works
    assert many.and_larger and many.shown() == (1,)
    kernels = A.solve("maxpool", "kernel", 64, 1, stride=64)  # every kernel up to 64 pools 64 cells into 1
    assert len(kernels.values) > 6 and kernels.shown(limit=6) == kernels.values[:6]
    padding = A.solve("conv", "padding", 32, 32, kernel=5)
    check = padding.check_latex(2)
    assert check.startswith(r"\text{padding} = 2:\quad ") and check.endswith("= 32 \\end{aligned}")
    assert check.endswith(A.explain("conv", 32, kernel=5, padding=2).substituted_latex)


@pytest.mark.parametrize("label, answer", [("Keep 32 with a 5×5 kernel", "padding = 2"),
                                           ("512 → 508: which kernel?", "kernel = 5"),
                                           ("Halve 32: which stride?", "stride = 2"),
                                           ("Double 16 (transposed)", "stride = 2")])
def test_each_solver_example_has_the_answer_its_question_expects(label, answer):
    op, unknown, size_in, size_out, known = A.SOLVER_EXAMPLES[label]
    assert A.solve(op, unknown, size_in, size_out, **known).sentence() == answer


# ------------------------------------------------------------------------------------- the calculator's chain

CHAIN_512 = "conv k5 p0 s1 d1;maxpool k2 p0 s2 d1;conv k3 p0 s1 d1"


def test_the_512_chain_by_hand_and_through_torch():
    layers = A.parse_chain(CHAIN_512)
    steps = A.run_chain(512, 512, layers)
    assert [s.size_out for s in steps] == [(508, 508), (254, 254), (252, 252)]
    assert [s.size_in for s in steps] == [(512, 512), (508, 508), (254, 254)]
    net = nn.Sequential(nn.Conv2d(1, 1, 5), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))
    with torch.no_grad():
        assert net(torch.zeros(1, 1, 512, 512)).shape[-2:] == (252, 252)


@pytest.mark.parametrize("text", [
    CHAIN_512, "", "maxpool k3x2 p1 s2x1 d1 ceil", "avgpool k2 p0 s2", "transposed k4 p1 s2 d1 opad1x0",
    "conv k1x7 p0x3 s1 d1;avgpool k3 p1 s2 ceil",
])
def test_a_chain_reads_back_its_own_text(text):
    assert A.chain_text(A.parse_chain(text)) == text


def test_chain_settings_in_words():
    (layer,) = A.parse_chain("maxpool k3x2 p1 s2 d1 ceil")
    assert layer.settings_text == "kernel 3 × 2, padding 1, stride 2, dilation 1, ceil_mode"
    assert layer.along_h == {"kernel": 3, "padding": 1, "stride": 2, "dilation": 1, "ceil_mode": True}
    assert layer.along_w["kernel"] == 2


@pytest.mark.parametrize("text, match", [
    ("conv k5", "takes kernel, padding, stride, dilation"),
    ("pool 2", "unknown operation 'pool'"),
    ("conv k5 p0 s1 d1 ceil", "takes kernel"),               # only the pools round up
    ("conv p0 k5 s1 d1", "needs its kernel as k<number>"),   # in the order of SETTINGS
    ("conv k0 p0 s1 d1", "kernel in 'k0' is outside 1 to 64"),
    ("conv k5 p0 s1 d99", "outside 1 to 16"),
    ("conv k٥ p0 s1 d1", "needs its kernel"),                # digits are ASCII
    (";".join(["conv k1 p0 s1 d1"] * (A.CHAIN_LENGTH + 1)), "at most 32 layers"),
])
def test_a_chain_that_does_not_read_says_why(text, match):
    with pytest.raises(ValueError, match=match):
        A.parse_chain(text)


def test_run_chain_stops_at_the_layer_that_does_not_fit_and_agrees_with_torch():
    steps = A.run_chain(4, 6, A.parse_chain("conv k3 p0 s1 d1;conv k3 p0 s1 d1;maxpool k2 p0 s2 d1"))
    assert steps[0].size_out == (2, 4) and steps[1].size_in == (2, 4)
    assert steps[1].size_out is None and "larger than the padded input" in steps[1].problem
    assert steps[2].size_in is None and steps[2].size_out is None and not steps[2].problem
    with pytest.raises(RuntimeError):  # torch refuses the same layer
        nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3))(torch.zeros(1, 1, 4, 6))
