"""The stepped convolution, pooling and transposed convolution against torch.nn.functional and by hand."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnviz.lessons import kernels, stepping
from cnnviz.lessons.stepping import Conv, Pool, TransposedConv

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
small = st.integers(1, 3)


@st.composite
def grids(draw, channels: int, max_h: int = 9, max_k: int = 4, integer: bool = True):
    """A (C, H, W) input and a (C, kh, kw) kernel of small integers (or floats)."""
    h, w = draw(st.integers(1, max_h)), draw(st.integers(1, max_h))
    kh, kw = draw(st.integers(1, max_k)), draw(st.integers(1, max_k))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    if integer:
        return rng.integers(-9, 10, (channels, h, w)), rng.integers(-3, 4, (channels, kh, kw))
    return rng.normal(size=(channels, h, w)), rng.normal(size=(channels, kh, kw))


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.array(a, copy=True), dtype=torch.float64)


def _fits(size: int, pad_total: int, k: int, d: int) -> bool:
    return size + pad_total >= d * (k - 1) + 1


@FAST
@given(data=st.data(), channels=small, integer=st.booleans(), flip=st.booleans())
def test_conv_equals_torch_conv2d(data, channels, integer, flip):
    x, w = data.draw(grids(channels, integer=integer))
    ph, pw = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))
    s = (data.draw(small), data.draw(small))
    d = (data.draw(small), data.draw(small))
    bias = data.draw(st.integers(-5, 5))
    assume(_fits(x.shape[1], 2 * ph, w.shape[1], d[0]) and _fits(x.shape[2], 2 * pw, w.shape[2], d[1]))
    ours = stepping.convolve(x, w, bias, padding=(ph, pw), stride=s, dilation=d, flip=flip)
    applied = w[:, ::-1, ::-1] if flip else w  # true convolution = cross-correlation with the rotated kernel
    theirs = F.conv2d(_t(x)[None], _t(applied)[None], _t(np.array([bias])), stride=s, padding=(ph, pw),
                      dilation=d)[0, 0].numpy()
    assert ours.shape == theirs.shape
    if integer:
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, atol=1e-9)


@FAST
@given(data=st.data(), channels=small)
def test_every_step_equals_the_output_and_its_working_adds_up(data, channels):
    x, w = data.draw(grids(channels, max_h=6, max_k=3))
    pad, s, d = data.draw(st.integers(0, 2)), data.draw(small), data.draw(st.integers(1, 2))
    bias = data.draw(st.integers(-3, 3))
    assume(_fits(min(x.shape[1:]), 2 * pad, max(w.shape[1:]), d))
    conv = Conv.make(x, w, bias, pad, s, d, flip=data.draw(st.booleans()))
    out = conv.output()
    for k in range(conv.n_steps):
        i, j = conv.cell(k)
        step = conv.step(i, j)
        assert step.value == out[i, j]
        assert step.lines[-1].endswith(f"= {out[i, j]}")
        # the window really is what the kernel covers on the padded input
        for ch in step.channels:
            np.testing.assert_array_equal(ch.window, conv.padded[ch.channel][np.ix_(step.rows, step.cols)])
            assert ch.total == int((ch.window * ch.weights).sum())
            assert eval(ch.working.replace("×", "*").replace("=", "==")) is True  # noqa: S307 (our own text)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@FAST
@given(data=st.data(), integer=st.booleans())
def test_same_padding_equals_torch_and_keeps_the_size(data, integer):
    x, w = data.draw(grids(1, integer=integer, max_k=5))
    d = (data.draw(small), data.draw(small))
    ours = stepping.convolve2d(x[0], w[0], padding="same", dilation=d)  # even kernels pad one more at the end
    theirs = F.conv2d(_t(x)[None], _t(w)[None], padding="same", dilation=d)[0, 0].numpy()
    assert ours.shape == x.shape[1:]
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


@FAST
@given(data=st.data(), integer=st.booleans())
def test_max_pool_equals_torch(data, integer):
    x, _ = data.draw(grids(1, max_h=10, integer=integer))
    k = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    s = (data.draw(small), data.draw(small))
    p = (data.draw(st.integers(0, k[0] // 2)), data.draw(st.integers(0, k[1] // 2)))
    assume(x.shape[1] + 2 * p[0] >= k[0] and x.shape[2] + 2 * p[1] >= k[1])
    ours = stepping.max_pool2d(x[0], k, s, p)
    theirs = F.max_pool2d(_t(x)[None], k, s, p)[0, 0].numpy()
    np.testing.assert_array_equal(ours, theirs)
    pool = Pool.make(x[0], "max", k, s, p)
    for idx in range(pool.n_steps):
        step = pool.step(*pool.cell(idx))
        assert step.value == ours[step.cell]
        assert not step.padding[step.winner]  # -inf padding never wins


@FAST
@given(data=st.data(), integer=st.booleans(), include=st.booleans())
def test_avg_pool_equals_torch(data, integer, include):
    x, _ = data.draw(grids(1, max_h=10, integer=integer))
    k = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    s = (data.draw(small), data.draw(small))
    p = (data.draw(st.integers(0, k[0] // 2)), data.draw(st.integers(0, k[1] // 2)))
    assume(x.shape[1] + 2 * p[0] >= k[0] and x.shape[2] + 2 * p[1] >= k[1])
    ours = stepping.avg_pool2d(x[0], k, s, p, count_include_pad=include)
    theirs = F.avg_pool2d(_t(x)[None], k, s, p, count_include_pad=include)[0, 0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    pool = Pool.make(x[0], "avg", k, s, p, include)
    for idx in range(pool.n_steps):
        step = pool.step(*pool.cell(idx))
        assert step.value == pytest.approx(ours[step.cell], abs=1e-12)
        assert step.divisor == (k[0] * k[1] if include else int((~step.padding).sum()))


@FAST
@given(data=st.data(), channels=small, integer=st.booleans())
def test_transposed_equals_torch_conv_transpose2d(data, channels, integer):
    x, w = data.draw(grids(channels, max_h=6, max_k=4, integer=integer))
    s = (data.draw(small), data.draw(small))
    d = (data.draw(small), data.draw(small))
    op = (data.draw(st.integers(0, max(s[0], d[0]) - 1)), data.draw(st.integers(0, max(s[1], d[1]) - 1)))
    p = (data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3)))
    bias = data.draw(st.integers(-3, 3))
    full = [(x.shape[1 + a] - 1) * s[a] + d[a] * (w.shape[1 + a] - 1) + 1 + op[a] for a in (0, 1)]
    assume(full[0] > 2 * p[0] and full[1] > 2 * p[1])
    ours = stepping.conv_transpose2d(x, w, s, p, op, d, bias)
    # torch's weight is (in_channels, out_channels, kh, kw)
    theirs = F.conv_transpose2d(_t(x)[None], _t(w)[:, None], _t(np.array([bias])), stride=s, padding=p,
                                output_padding=op, dilation=d)[0, 0].numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-9)
    t = TransposedConv.make(x, w, bias, s, p, op, d)
    np.testing.assert_allclose(t.crop(t.canvas()) + bias, ours, atol=1e-9)  # the scatter steps add up to it


# ---------------------------------------------------------------------------------------------- by hand
def test_hand_computed_cross_correlation_and_its_working():
    x = np.array([[1, 2, 0],
                  [0, 1, 3],
                  [2, 1, 1]])
    w = np.array([[1, 0],
                  [0, -1]])
    # out[0,0] = 1*1 + 2*0 + 0*0 + 1*(-1) = 0 ; out[0,1] = 2 - 3 = -1 ; out[1,0] = 0 - 1 = -1 ; out[1,1] = 1 - 1 = 0
    np.testing.assert_array_equal(stepping.convolve2d(x, w), [[0, -1], [-1, 0]])
    step = Conv.make(x, w).step(0, 1)
    assert step.working == "2×1 + 0×0 + 1×0 + 3×(-1) = -1"
    assert (step.rows, step.cols) == ((0, 1), (1, 2))
    # true convolution rotates the kernel: [[-1, 0], [0, 1]] -> out[0,0] = -1 + 1 = 0, out[0,1] = -2 + 3 = 1
    np.testing.assert_array_equal(stepping.convolve2d(x, w, flip=True), [[0, 1], [1, 0]])


def test_hand_computed_padding_stride_dilation():
    x = np.arange(1, 17).reshape(4, 4)  # 1..16
    ones = np.ones((2, 2), dtype=int)
    # padding 1, stride 2: windows at padded rows/cols 0-1 and 2-3
    # (0,0): only x[0,0]=1 ; (0,1): x[0,1]+x[0,2] = 2+3 ; (1,0): x[1,0]+x[2,0] = 5+9 ; (1,1): 6+7+10+11
    np.testing.assert_array_equal(stepping.convolve2d(x, ones, padding=1, stride=2)[:2, :2], [[1, 5], [14, 34]])
    # dilation 2 with a 2x2 kernel picks corners two apart: out[0,0] = 1 + 3 + 9 + 11 = 24
    np.testing.assert_array_equal(stepping.convolve2d(x, ones, dilation=2), [[24, 28], [40, 44]])
    step = Conv.make(x, ones, padding=1, stride=2).step(0, 0)
    assert step.working == "0×1 + 0×1 + 0×1 + 1×1 = 1"


def test_channels_and_bias_are_shown_separately():
    x = np.stack([np.full((3, 3), 1), np.full((3, 3), 2)])
    w = np.stack([np.ones((3, 3), dtype=int), -np.ones((3, 3), dtype=int)])
    step = Conv.make(x, w, bias=4).step(0, 0)
    assert [ch.total for ch in step.channels] == [9, -18]
    assert step.lines[-1] == "total: 9 + (-18) + 4 (bias) = -5"
    assert step.value == -5


def test_hand_computed_pooling_and_transposed():
    x = np.array([[1, 3, 2, 0],
                  [4, 2, 1, 5],
                  [0, 1, 7, 2],
                  [3, 2, 0, 1]])
    np.testing.assert_array_equal(stepping.max_pool2d(x, 2), [[4, 5], [3, 7]])
    np.testing.assert_allclose(stepping.avg_pool2d(x, 2), [[2.5, 2], [1.5, 2.5]])
    assert Pool.make(x, "max", 2).step(0, 0).working == "max(1, 3, 4, 2) = 4"
    assert Pool.make(x, "avg", 2).step(1, 0).working == "(0 + 1 + 3 + 2) / 4 = 6 / 4 = 1.5"
    assert Pool.make(x, "avg", 3, 1).step(0, 0).working == "(1 + 3 + 2 + 4 + 2 + 1 + 0 + 1 + 7) / 9 = 21 / 9 ≈ 2.333"
    # padding 1 for max pooling is -inf: the corner window sees only x[0,0] = 1
    step = Pool.make(x, "max", 2, 2, 1).step(0, 0)
    assert step.value == 1 and step.working == "max(-∞, -∞, -∞, 1) = 1"
    # transposed, stride 2: each input cell drops value × kernel on its own 2x2 block, no overlaps
    t = TransposedConv.make(np.array([[1, 2], [3, 4]]), np.array([[1, 1], [1, 1]]), stride=2)
    np.testing.assert_array_equal(t.output(), [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    # stride 1: the overlaps add up; the centre gets all four
    t = TransposedConv.make(np.array([[1, 2], [3, 4]]), np.array([[1, 1], [1, 1]]), stride=1)
    np.testing.assert_array_equal(t.output(), [[1, 3, 2], [4, 10, 6], [3, 7, 4]])
    assert t.gather(1, 1) == (10, "1×1 + 2×1 + 3×1 + 4×1 = 10")
    assert t.step(1).rows == (0, 1) and t.step(1).cols == (1, 2)


@pytest.mark.parametrize("call, message", [
    (lambda: stepping.convolve2d(np.ones((3, 3)), np.ones((5, 5))), "does not fit"),
    (lambda: stepping.convolve2d(np.ones((5, 5)), np.ones((3, 3)), dilation=3), "dilated to 7"),
    (lambda: stepping.convolve2d(np.ones((5, 5)), np.ones((3, 3)), padding="same", stride=2), "stride 1"),
    (lambda: stepping.convolve2d(np.ones((5, 5)), np.ones((3, 3)), stride=0), "at least 1"),
    (lambda: stepping.convolve2d(np.ones((5, 5)), np.ones((3, 3)), padding=-1), "at least 0"),
    (lambda: stepping.convolve(np.ones((2, 5, 5)), np.ones((3, 3))), "channel"),
    (lambda: stepping.convolve2d(np.array([[1, np.nan]]), np.ones((1, 1))), "empty"),
    (lambda: stepping.max_pool2d(np.ones((5, 5)), 2, 2, 2), "half the kernel"),
    (lambda: stepping.avg_pool2d(np.ones((2, 2)), 3), "does not fit"),
    (lambda: stepping.conv_transpose2d(np.ones((2, 2)), np.ones((3, 3)), stride=2, output_padding=2),
     "smaller than the stride"),
    (lambda: stepping.conv_transpose2d(np.ones((1, 1)), np.ones((1, 1)), padding=1), "nothing is left"),
])
def test_impossible_settings_say_why(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_torch_refuses_what_we_refuse():
    """Our refusals are PyTorch's: the same settings make torch raise too."""
    with pytest.raises(RuntimeError):
        F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 5, 5))
    with pytest.raises(RuntimeError):
        F.max_pool2d(torch.ones(1, 1, 5, 5), 2, 2, 2)
    with pytest.raises(RuntimeError):
        F.conv_transpose2d(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 3, 3), stride=2, output_padding=2)
    with pytest.raises((RuntimeError, ValueError)):
        F.conv2d(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), padding="same", stride=2)


def test_size_text_substitutes_the_numbers():
    assert stepping.size_text(6, 3, 1, 1, 1) == "⌊(6 + 2×1 − 3) / 1⌋ + 1 = 6 rows"
    assert stepping.size_text(7, 3, 0, 0, 2, 2, "columns") == "⌊(7 − 2×(3 − 1) − 1) / 2⌋ + 1 = 2 columns"
    # 8 - 3 = 5 is not a multiple of 2: floor drops one row, as torch does
    text = stepping.size_text(8, 3, 0, 0, 2)
    assert text.startswith("⌊(8 − 3) / 2⌋ + 1 = 3 rows") and "the last padded row is never used" in text
    assert F.conv2d(torch.ones(1, 1, 8, 8), torch.ones(1, 1, 3, 3), stride=2).shape[-1] == 3


def test_mark_answer():
    truth = np.array([[1, 2], [3, 2.5]])
    answer = np.array([[1, 5], [np.nan, 2.5]])
    assert stepping.mark_answer(truth, answer).tolist() == [["right", "wrong"], ["blank", "right"]]


def test_fmt_reads_like_a_student_writes():
    assert [stepping.fmt(v) for v in (3, -1, 2.0, 1 / 3, -0.0, -np.inf, np.int64(7))] == \
        ["3", "-1", "2", "0.333", "0", "-∞", "7"]


# ---------------------------------------------------------------------------------------------- presets
def test_kernel_presets_match_their_textbook_form():
    np.testing.assert_array_equal(kernels.kernel("Sobel x", 3), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(kernels.kernel("Sobel y", 3), [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    np.testing.assert_array_equal(kernels.kernel("Laplacian", 3), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(kernels.kernel("Sharpen", 3), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_array_equal(kernels.kernel("Identity", 3), [[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(kernels.kernel("Sobel x", 5)[0], [-1, -2, 0, 2, 1])
    for name in kernels.KERNELS:
        for size in (3, 5, 7) if name in ("Sobel x", "Sobel y", "Laplacian") else (1, 2, 3, 4, 5, 6, 7):
            k = kernels.kernel(name, size)
            assert k.shape == (size, size) and k.dtype == np.int64
    flat = np.full((7, 7), 5)
    for name in ("Sobel x", "Sobel y", "Laplacian"):  # edge detectors ignore flat regions
        assert (stepping.convolve2d(flat, kernels.kernel(name, 5)) == 0).all()
    for name in ("Sharpen", "Identity"):  # and these keep them
        assert (stepping.convolve2d(flat, kernels.kernel(name, 5)) == 5).all()
    for size in (1, 4):
        with pytest.raises(ValueError, match="odd"):
            kernels.kernel("Sobel x", size)


def test_image_presets_are_small_integer_grids():
    for name in kernels.IMAGES:
        for c in range(3):
            g = kernels.image(name, 7, 9, channel=c)
            assert g.shape == (7, 9) and g.dtype == np.int64 and 0 <= g.min() and g.max() <= 9
    for name in kernels.PICTURES:
        pic = kernels.picture(name)
        assert pic.dtype == np.uint8 and pic.ndim == 2 and pic.std() > 20  # something to find edges in


def test_grid_text_round_trip_and_fit():
    g = np.arange(-3, 9).reshape(2, 2, 3)
    text = kernels.to_text(g)
    assert text == "-3,-2,-1;0,1,2|3,4,5;6,7,8"
    np.testing.assert_array_equal(kernels.from_text(text, (2, 2, 3)), g)
    # fitted to another shape: cropped, missing cells and channels become zeros
    np.testing.assert_array_equal(kernels.from_text(text, (3, 1, 4)),
                                  [[[-3, -2, -1, 0]], [[3, 4, 5, 0]], [[0, 0, 0, 0]]])
    assert kernels.from_text("1,x", (1, 1, 2)) is None and kernels.from_text("", (1, 1, 1)) is None


def test_response_picture_colours():
    r = np.array([[-10.0, 0.0, 5.0, 10.0]])
    signed = kernels.response_picture(r, "signed")[0]
    assert signed[1].tolist() == [255, 255, 255]  # zero is white
    assert signed[3].tolist() == kernels.POSITIVE.tolist() and signed[0].tolist() == kernels.NEGATIVE.tolist()
    assert signed[2].tolist() == [round((255 + 178) / 2), round((255 + 24) / 2), round((255 + 43) / 2)]
    assert kernels.response_picture(r, "abs")[0, :, 0].tolist() == [255, 0, 128, 255]
    assert kernels.response_picture(np.array([[-3.0, 300.0, 7.0]]), "clip")[0, :, 0].tolist() == [0, 255, 7]
    assert kernels.response_picture(np.zeros((2, 2))).min() == 255  # a flat response is all white, no crash
    # with a scale, larger values saturate instead of fading everything else
    assert kernels.response_picture(r, "abs", scale=5)[0, :, 0].tolist() == [255, 0, 255, 255]
    spiky = np.concatenate([np.arange(1000.0), [1e6]])
    assert kernels.display_scale(spiky) == pytest.approx(np.percentile(spiky, 99.5))
    assert kernels.display_scale(np.zeros(3)) == 1.0
    framed = np.pad(np.ones((8, 8)), 1, constant_values=1000.0)  # a frame of false edges from the padding
    assert kernels.display_scale(framed) == 1000 and kernels.display_scale(framed, border=1) == 1
