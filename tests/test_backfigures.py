"""The backward pass's figures (cnnviz.lessons.backfigures): what each step highlights, fills in and asks,
against the step's own cells, torch.autograd and by hand; and one SGD step's figures."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz.lessons import backfigures
from cnnviz.lessons.backward import ConvBackward, sgd_step
from cnnviz.lessons.stepping import convolve2d
from tests.test_figures import cells_with, grids, values, working

RNG = np.random.default_rng(0)
SETTINGS = [  # (rows, cols, k, padding, stride, dilation)
    (5, 5, 3, 0, 1, 1), (5, 6, 3, 1, 2, 1), (7, 5, 2, 2, 2, 2), (5, 5, 4, "same", 1, 1), (6, 6, 1, 0, 3, 1)]


def autograd(x: np.ndarray, w: np.ndarray, g: np.ndarray, pads: tuple[int, int, int, int], stride: int,
             dilation: int) -> tuple[np.ndarray, np.ndarray, float]:
    """torch's ∂L/∂x, ∂L/∂w, ∂L/∂b for L = Σ conv2d(x, w, b) × g, the padding given side by side."""
    top, bottom, left, right = pads
    xt = torch.tensor(np.array(x, dtype=np.float64), requires_grad=True)
    wt = torch.tensor(np.array(w, dtype=np.float64), requires_grad=True)
    bt = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    padded = F.pad(xt[None, None], (left, right, top, bottom))
    y = F.conv2d(padded, wt[None, None], bt, stride=stride, dilation=dilation)[0, 0]
    (y * torch.as_tensor(np.array(g, dtype=np.float64))).sum().backward()
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.item()


@pytest.mark.parametrize("rows, cols, k, pad, stride, dil", SETTINGS)
def test_each_scene_highlights_exactly_the_cells_its_gradient_gathers(rows, cols, k, pad, stride, dil):
    x, w = RNG.integers(-9, 10, (rows, cols)), RNG.integers(-3, 4, (k, k))
    g = RNG.integers(-3, 4, convolve2d(x, w, pad, stride, dil).shape)
    (oh, ow), back = g.shape, ConvBackward.make(x, w, g, pad, stride, dil)
    top, bottom, left, right = back.pads
    truth = dict(zip(("input", "weights", "bias"), autograd(x, w, g, back.pads, stride, dil)))
    for k_step in range(back.n_steps):
        step = back.step(k_step)
        drawn = grids(backfigures.scene(back, k_step))
        filled = drawn[backfigures.GRIDS[step.phase]]
        assert cells_with(drawn["grad_out"], "win") == set(step.grad_cells)
        assert cells_with(filled, "cur") == {step.cell} and values(filled)[step.cell] == step.value
        assert backfigures.ask(back, k_step).truth == step.value
        if step.phase == "weights":
            np.testing.assert_array_equal(values(drawn["input"]), np.pad(x, ((top, bottom), (left, right))))
            assert cells_with(drawn["input"], "win") == set(step.input_cells)
            assert cells_with(drawn["input"], "pad") == set(zip(*np.nonzero(back.pad_mask)))
            assert cells_with(drawn["kernel"], "cur") == {step.cell} and not cells_with(drawn["kernel"], "win")
        elif step.phase == "input":
            assert cells_with(drawn["input"], "cur") == {(step.cell[0] + top, step.cell[1] + left)}
            assert not cells_with(drawn["input"], "win")
            assert cells_with(drawn["kernel"], "win") == set(step.kernel_cells)
        else:
            assert "input" not in drawn and "kernel" not in drawn
            assert cells_with(drawn["grad_out"], "win") == {(r, c) for r in range(oh) for c in range(ow)}
        if k_step == back.phase_range(step.phase)[-1]:  # a phase's last step: its whole gradient, as torch has it
            np.testing.assert_array_equal(values(filled), np.reshape(truth[step.phase], values(filled).shape))
            assert not cells_with(filled, "todo")


SQUARE = np.array([[1, 1, 1], [1, 9, 9], [1, 9, 9], [1, 1, 1]])  # 4 x 3, one 3 x 3 kernel gives 2 x 1 outputs
SOBEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
G = np.array([[2], [-1]])


def test_the_working_of_each_phase_by_hand():
    back = ConvBackward.make(SQUARE, SOBEL, G)
    w00 = backfigures.scene(back, 0)  # w[0, 0] sat on x[0, 0] (window 0) and x[1, 0] (window 1)
    assert working(w00) == "∂L/∂w[0, 0] = 1×2 + 1×(-1) = 1"
    assert "×(-1)" in "".join(w00) and "×2" in "".join(w00)  # ∂L/∂y in the corner of each input cell it meets
    assert working(backfigures.scene(back, 4)) == "∂L/∂w[1, 1] = 9×2 + 9×(-1) = 9"
    assert working(backfigures.scene(back, 9)) == "∂L/∂b = 2 + (-1) = 1"
    # x[1, 2] sat under w[1, 2] in window 0 and under w[0, 2] in window 1
    x12 = backfigures.scene(back, 10 + 1 * 3 + 2)
    assert working(x12) == "∂L/∂x[1, 2] = 2×2 + (-1)×1 = 3"
    assert cells_with(grids(x12)["kernel"], "win") == {(1, 2), (0, 2)}


def test_a_hidden_step_shows_a_question_mark_and_no_working():
    back = ConvBackward.make(SQUARE, SOBEL, G)
    hidden = backfigures.scene(back, 4, hide=True)
    assert grids(hidden)["grad_w"][(1, 1)][1] == "?" and working(hidden) == "∂L/∂w[1, 1] = ?"
    assert "×(-1)" in "".join(hidden)  # the factors stay: the student needs them to work the cell out
    shown = grids(backfigures.scene(back, 4))["grad_w"]
    assert shown[(1, 1)][1] == "9" and shown[(0, 0)][1] == "1" and cells_with(shown, "todo") == {
        (1, 2), (2, 0), (2, 1), (2, 2)}


def test_a_cell_no_window_covered_has_gradient_zero_and_says_why():
    back = ConvBackward.make(np.arange(16).reshape(4, 4), np.ones((1, 1), int), np.ones((2, 2), int), stride=3)
    k = back.phase_range("input").start + 1  # x[0, 1]: windows start at columns 0 and 3
    assert working(backfigures.scene(back, k)).startswith("∂L/∂x[0, 1] = 0: no window")
    ask = backfigures.ask(back, k)
    assert ask.truth == 0 and "No window" in ask.why
    assert not cells_with(grids(backfigures.scene(back, k))["kernel"], "win")


def test_ask_names_the_gradient_and_its_cell():
    back = ConvBackward.make(SQUARE, SOBEL, G)
    asks = {phase: backfigures.ask(back, back.phase_range(phase).start) for phase in ("weights", "bias", "input")}
    assert [(a.grid, a.cell, a.truth) for a in asks.values()] == [("∂L/∂w", (0, 0), 1), ("∂L/∂b", (0, 0), 1),
                                                                   ("∂L/∂x", (0, 0), -2)]
    assert "w[0, 0]" in asks["weights"].why and "x[0, 0]" in asks["input"].why and "every cell" in asks["bias"].why


def test_the_grad_preset_is_small_and_never_zero():
    g = backfigures.grad_preset((3, 4))
    assert g.shape == (3, 4) and set(np.unique(g)) == {-1, 1, 2}
    np.testing.assert_array_equal(g[0], [1, -1, 2, 1])


def test_sgd_scene_draws_the_update_and_the_outputs():
    x, w, target = SQUARE, SOBEL, np.zeros((2, 1), int)
    step = sgd_step(x, w, 1, target, 0.01)
    drawn = grids(backfigures.sgd_scene(w, 1, target, step))
    np.testing.assert_array_equal(values(drawn["w"]), w)
    np.testing.assert_allclose(values(drawn["w_after"]), w - 0.01 * step.grad_w, atol=5e-4)  # shown to 3 decimals
    np.testing.assert_allclose(values(drawn["y_after"]), step.output_after, atol=5e-4)
    np.testing.assert_array_equal(values(drawn["y_before"]), step.output_before)
    text = "".join(backfigures.sgd_scene(w, 1, target, step))
    assert f"1 − 0.01 × {step.grad_b:g} = {1 - 0.01 * step.grad_b:g}" in working([text])


def test_loss_gradient_is_y_minus_the_target():
    y, target = np.array([[3, -1]]), np.array([[1, 1]])
    drawn = grids([backfigures.loss_gradient(y, target)])
    np.testing.assert_array_equal(values(drawn["loss_grad"]), [[2, -2]])


def test_brief_keeps_numbers_short():
    assert backfigures.brief(2176) == "2176" and backfigures.brief(-0.0012) == "-0.001"
    assert backfigures.brief(123456.7) == "123,457" and backfigures.brief(-4.2e12) == "-4.20e+12"
