"""The backward pass of a convolution against torch.autograd, conv_transpose2d and by hand; one SGD step."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnviz import stepping
from cnnviz.lessons.backward import ConvBackward, conv_backward, sgd_step
from cnnviz.lessons.stepping import convolve2d

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
small = st.integers(1, 3)


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.array(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def _fits(size: int, pad_total: int, k: int, d: int) -> bool:
    return size + pad_total >= d * (k - 1) + 1


@st.composite
def problems(draw, integer: bool, max_h: int = 7, max_k: int = 4, named: bool = True):
    """x (H, W), w (kh, kw), padding (a pair, or 'same'/'valid' when named), stride, dilation, a dL/dy that fits."""
    h, w = draw(st.integers(1, max_h)), draw(st.integers(1, max_h))
    kh, kw = draw(st.integers(1, max_k)), draw(st.integers(1, max_k))
    d = (draw(small), draw(small))
    pairs = st.tuples(st.integers(0, 2), st.integers(0, 2))
    padding = draw(st.one_of(pairs, st.sampled_from(["same", "valid"])) if named else pairs)
    s = (1, 1) if padding == "same" else (draw(small), draw(small))
    pads = stepping.resolve_padding(padding, (kh, kw), s, d)
    assume(_fits(h, pads[0] + pads[1], kh, d[0]) and _fits(w, pads[2] + pads[3], kw, d[1]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x, k = (rng.integers(-5, 6, (h, w)), rng.integers(-3, 4, (kh, kw))) if integer else \
        (rng.normal(size=(h, w)), rng.normal(size=(kh, kw)))
    out = convolve2d(x, k, padding, s, d).shape
    g = rng.integers(-3, 4, out) if integer else rng.normal(size=out)
    return x, k, g, padding, s, d


def autograd(x, w, g, b, padding, s, d):
    """torch's dL/dx, dL/dw, dL/db for L = Σ conv2d(x, w, b) × g."""
    xt, wt, bt = _t(x, True), _t(w, True), _t([b], True)
    y = F.conv2d(xt[None, None], wt[None, None], bt, stride=s, padding=padding, dilation=d)[0, 0]
    (y * _t(g)).sum().backward()
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.item()


# ---------------------------------------------------------------------------------------------- against torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@FAST
@given(problem=problems(integer=False), b=st.floats(-2, 2))
def test_conv_backward_equals_autograd(problem, b):
    x, w, g, padding, s, d = problem
    gx, gw, gb = conv_backward(x, w, g, padding, s, d)
    tx, tw, tb = autograd(x, w, g, b, padding, s, d)
    assert gx.shape == x.shape and gw.shape == w.shape
    np.testing.assert_allclose(gx, tx, atol=1e-9)
    np.testing.assert_allclose(gw, tw, atol=1e-9)
    assert gb == pytest.approx(tb, abs=1e-9)


@FAST
@given(problem=problems(integer=True, named=False))  # conv_transpose2d crops the same padding from both sides
def test_input_gradient_is_a_transposed_convolution(problem):
    x, w, g, padding, s, d = problem
    gx, _, _ = conv_backward(x, w, g, padding, s, d)
    # the output padding puts back the rows the forward pass's floor dropped (fewer than the stride)
    op = tuple(x.shape[a] - ((g.shape[a] - 1) * s[a] - 2 * padding[a] + d[a] * (w.shape[a] - 1) + 1) for a in (0, 1))
    theirs = F.conv_transpose2d(_t(g)[None, None], _t(w)[None, None], stride=s, padding=padding,
                                output_padding=op, dilation=d)[0, 0].detach().numpy()
    np.testing.assert_array_equal(gx, theirs)
    np.testing.assert_array_equal(gx, stepping.conv_transpose2d(g, w, s, padding, op, d))  # the lesson's own


# ---------------------------------------------------------------------------------------------- steps
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(integer=True, max_h=6, max_k=3))
def test_steps_assemble_to_the_gradients_and_their_working_adds_up(problem):
    x, w, g, padding, s, d = problem
    back = ConvBackward.make(x, w, g, padding, s, d)
    gx, gw, gb = conv_backward(x, w, g, padding, s, d)
    assert gx.dtype == gw.dtype == np.int64 and isinstance(gb, int)  # integers in, exact integers out
    steps = [back.step(k) for k in range(back.n_steps)]
    assert [st.phase for st in steps] == ["weights"] * w.size + ["bias"] + ["input"] * x.size
    assembled = {"weights": np.zeros_like(gw), "input": np.zeros_like(gx)}
    xp, mask = back.padded, back.pad_mask
    for step in steps:
        if step.phase == "bias":
            assert step.value == gb and step.grad_cells == tuple(np.ndindex(*g.shape))
            continue
        assembled[step.phase][step.cell] = step.value
        assert step.products.sum() == step.value
        n = len(step.grad_cells)
        assert len(step.input_cells) == len(step.kernel_cells) == len(step.is_padding) == n
        for (r, c), (u, v), (i, j), pad, prod in zip(step.grad_cells, step.input_cells, step.kernel_cells,
                                                     step.is_padding, step.products):
            # in window (r, c), w[i, j] lay on x_padded[u, v]
            assert (u, v) == (r * s[0] + i * d[0], c * s[1] + j * d[1])
            assert pad == mask[u, v]
            assert prod == (xp[u, v] if step.phase == "weights" else w[i, j]) * g[r, c]
        if n:
            assert eval(step.working.replace("×", "*").replace("=", "==")) is True  # noqa: S307 (our own text)
        else:
            assert step.value == 0 and "no window" in step.working
    for step in steps:  # a weight's terms are every output cell; an input cell's are its windows
        if step.phase == "weights":
            assert step.grad_cells == tuple(np.ndindex(*g.shape))
        elif step.phase == "input":
            assert set(step.input_cells) <= {(step.cell[0] + back.pads[0], step.cell[1] + back.pads[2])}
            assert not any(step.is_padding)
    np.testing.assert_array_equal(assembled["weights"], gw)
    np.testing.assert_array_equal(assembled["input"], gx)


def test_float_steps_assemble_too():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(5, 6)), rng.normal(size=(3, 2))
    g = rng.normal(size=convolve2d(x, w, 1, 2, (1, 2)).shape)
    back = ConvBackward.make(x, w, g, 1, 2, (1, 2))
    gx, gw, gb = back.gradients()
    np.testing.assert_allclose([back.step(k).value for k in back.phase_range("weights")], gw.ravel(), atol=1e-12)
    np.testing.assert_allclose([back.step(k).value for k in back.phase_range("input")], gx.ravel(), atol=1e-12)
    assert back.step(back.phase_range("bias").start).value == pytest.approx(gb)


# ---------------------------------------------------------------------------------------------- by hand
def test_hand_computed_gradients_and_their_working():
    x = np.array([[1, 2, 0],
                  [0, 1, 3],
                  [2, 1, 1]])
    w = np.array([[1, 0],
                  [0, -1]])
    g = np.array([[1, -1],
                  [2, 0]])  # dL/dy, one per output cell of the 2x2 output
    # dL/dw[i,j] = Σ x[r+i, c+j] g[r,c]:
    #   w[0,0]: 1×1 + 2×(-1) + 0×2 + 1×0 = -1     w[0,1]: 2×1 + 0×(-1) + 1×2 + 3×0 = 4
    #   w[1,0]: 0×1 + 1×(-1) + 2×2 + 1×0 = 3      w[1,1]: 1×1 + 3×(-1) + 1×2 + 1×0 = 0
    # dL/db = 1 - 1 + 2 + 0 = 2
    # dL/dx[p,q] = Σ g[r,c] w[p-r, q-c]; only w[0,0] = 1 and w[1,1] = -1 are not zero, so
    #   dL/dx[p,q] = g[p,q] (when p, q < 2) - g[p-1,q-1] (when p, q >= 1):
    #   row 0: g00 = 1, g01 = -1, 0 ; row 1: g10 = 2, g11 - g00 = -1, -g01 = 1 ; row 2: 0, -g10 = -2, -g11 = 0
    gx, gw, gb = conv_backward(x, w, g)
    np.testing.assert_array_equal(gw, [[-1, 4], [3, 0]])
    assert gb == 2
    np.testing.assert_array_equal(gx, [[1, -1, 0], [2, -1, 1], [0, -2, 0]])
    back = ConvBackward.make(x, w, g)
    assert back.n_steps == 4 + 1 + 9
    step = back.step(1)  # dL/dw[0, 1]
    assert step.label == "∂L/∂w[0, 1]" and step.working == "2×1 + 0×(-1) + 1×2 + 3×0 = 4"
    assert step.input_cells == ((0, 1), (0, 2), (1, 1), (1, 2)) and step.grad_cells == ((0, 0), (0, 1), (1, 0), (1, 1))
    assert back.step(4).label == "∂L/∂b" and back.step(4).working == "1 + (-1) + 2 + 0 = 2"
    step = back.input_step(1, 1)  # the centre sits under every window, under a different weight each time
    assert step.label == "∂L/∂x[1, 1]" and step.working == "1×(-1) + (-1)×0 + 2×0 + 0×1 = -1"
    assert step.kernel_cells == ((1, 1), (1, 0), (0, 1), (0, 0))
    assert back.step(5 + 2).working == "(-1)×0 = 0"  # x[0, 2]: only window (0, 1), under w[0, 1] = 0
    # padding 1, stride 2 on the same x: the padded grid is 5x5, windows start at padded rows/cols 0 and 2
    back = ConvBackward.make(x, w, np.ones((2, 2), dtype=int), padding=1, stride=2)
    step = back.weight_step(0, 0)
    assert step.input_cells == ((0, 0), (0, 2), (2, 0), (2, 2)) and step.is_padding == (True, True, True, False)
    assert step.working == "0×1 + 0×1 + 0×1 + 1×1 = 1"  # only x[1, 1] = 1 is real
    # each real cell lies under exactly one window: padded row u = p + 1 meets kernel row u % 2 = 1, 0, 1
    np.testing.assert_array_equal(back.grad_x(), [[-1, 0, -1], [0, 1, 0], [-1, 0, -1]])
    # a 1x1 kernel with stride 2 skips row 1 and column 1: those cells never reached the loss
    back = ConvBackward.make(x, np.array([[5]]), np.ones((2, 2), dtype=int), stride=2)
    assert back.input_step(1, 1).grad_cells == () and back.input_step(1, 1).value == 0
    assert back.input_step(1, 1).working.startswith("0: no window")
    np.testing.assert_array_equal(back.grad_x(), [[5, 0, 5], [0, 0, 0], [5, 0, 5]])


def test_phases_and_step_indices():
    back = ConvBackward.make(np.ones((3, 4), dtype=int), np.ones((2, 3), dtype=int), np.ones((2, 2), dtype=int))
    assert [back.phase_range(p) for p in stepping.GRAD_PHASES] == [range(0, 6), range(6, 7), range(7, 19)]
    assert back.locate(5) == ("weights", (1, 2)) and back.locate(6) == ("bias", (0, 0))
    assert back.locate(18) == ("input", (2, 3))
    with pytest.raises(IndexError):
        back.step(19)
    with pytest.raises(ValueError, match="phase must be one of"):
        back.phase_range("outputs")


# ---------------------------------------------------------------------------------------------- SGD
X = np.array([[1, 2, 0, 1], [0, 1, 3, 2], [2, 1, 1, 0], [1, 0, 2, 1]])
W = np.array([[1, 0], [0, -1]])
TARGET = np.array([[1, 0, -1], [0, 2, 0], [1, 1, 1]])


def _loss(w: np.ndarray, b: float) -> float:
    return 0.5 * float(((convolve2d(X, w) + b - TARGET) ** 2).sum())


def test_sgd_step_equals_torch_and_the_loss_by_direct_computation():
    step = sgd_step(X, W, 0.5, TARGET, 0.01)
    assert step.loss_before == _loss(W, 0.5)
    np.testing.assert_array_equal(step.grad_out, convolve2d(X, W) + 0.5 - TARGET)
    assert step.loss_after == pytest.approx(_loss(step.w_after, step.b_after), abs=1e-12)
    np.testing.assert_allclose(step.output_after, convolve2d(X, step.w_after) + step.b_after, atol=1e-12)
    wt, bt = _t(W, True), _t([0.5], True)
    opt = torch.optim.SGD([wt, bt], lr=0.01)
    y = F.conv2d(_t(X)[None, None], wt[None, None], bt)[0, 0]
    (0.5 * ((y - _t(TARGET)) ** 2).sum()).backward()
    np.testing.assert_allclose(step.grad_w, wt.grad.numpy(), atol=1e-12)
    assert step.grad_b == pytest.approx(bt.grad.item())
    opt.step()
    np.testing.assert_allclose(step.w_after, wt.detach().numpy(), atol=1e-12)
    assert step.b_after == pytest.approx(bt.item())
    assert step.loss_after < step.loss_before and not step.overshot  # a small step goes downhill


def test_a_learning_rate_too_large_overshoots():
    lrs = 2.0 ** np.arange(-10, 6)
    steps = [sgd_step(X, W, 0.5, TARGET, lr) for lr in lrs]
    first = next(k for k, s in enumerate(steps) if s.overshot)
    assert first > 0 and steps[first].loss_after > steps[first].loss_before
    assert not steps[first - 1].overshot  # half that rate still went downhill
    # L is quadratic along the step: L(lr) = L - lr‖∇‖² + ½lr²‖Δy‖² with Δy = the output's change per unit lr,
    # so it goes up exactly when lr > 2‖∇‖² / ‖Δy‖²
    s = steps[0]
    grad2 = float((s.grad_w ** 2).sum() + s.grad_b ** 2)
    dy2 = float(((convolve2d(X, s.grad_w) + s.grad_b) ** 2).sum())
    assert lrs[first - 1] <= 2 * grad2 / dy2 < lrs[first]


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, message", [
    (lambda: conv_backward(np.ones((3, 3)), np.ones((2, 2)), np.ones((3, 3))),
     r"dL/dy has shape \(3, 3\) but the output y has shape \(2, 2\)"),
    (lambda: conv_backward(np.ones((2, 3, 3)), np.ones((2, 2)), np.ones((2, 2))), "2-D grid"),
    (lambda: conv_backward(np.ones((3, 3)), np.ones((2, 2)), np.ones(4)), r"dL/dy must be a 2-D grid"),
    (lambda: conv_backward(np.ones((3, 3)), np.ones((4, 4)), np.ones((1, 1))), "does not fit"),
    (lambda: conv_backward(np.ones((5, 5)), np.ones((3, 3)), np.ones((3, 3)), "same", 2), "stride 1"),
    (lambda: conv_backward(np.ones((3, 3)), np.ones((2, 2)), np.full((2, 2), np.nan)), "non-finite"),
    (lambda: sgd_step(np.ones((3, 3)), np.ones((2, 2)), 0, np.ones((3, 3)), 0.1),
     r"target has shape \(3, 3\) but the output y has shape \(2, 2\)"),
    (lambda: sgd_step(np.ones((3, 3)), np.ones((2, 2)), 0, np.ones((2, 2)), 0), "positive"),
])
def test_bad_input_says_why(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_public_names():
    assert stepping.conv_backward is conv_backward and stepping.ConvBackward is ConvBackward
    assert stepping.sgd_step is sgd_step and callable(stepping.convolve2d)
