"""The backward pass page through the real app (AppTest): it steps, jumps between gradients, quizzes, takes one
SGD step and keeps bad links and settings from crashing it. Truth comes from the very grids the page shows."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from cnnviz.lessons.backward import conv_backward, sgd_step
from tests.test_pages_convolution import PAGES, ROOT, _lock_in, cells_with, grids, run_page, values, working

PAGE = "backward.py"


def shown(at: AppTest) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(padded input, kernel, ∂L/∂y) as the page draws them."""
    g = grids(at)
    return values(g["input"]), values(g["kernel"]), values(g["grad_out"])


def go(at: AppTest, step: int) -> dict:
    at.select_slider(key="step").set_value(step).run()
    assert not at.exception, [e.value for e in at.exception]
    return grids(at)


def test_stepping_fills_each_gradient_with_conv_backwards_numbers():
    at = run_page(PAGE)  # Square 5 x 5, Sobel x, ∂L/∂y typed in (its preset), no padding
    x, w, g = shown(at)
    gx, gw, gb = conv_backward(x, w, g)
    first = grids(at)
    assert cells_with(first["grad_w"], "cur") == {(0, 0)} and values(first["grad_w"])[0, 0] == gw[0, 0]
    assert cells_with(first["input"], "win") == {(r, c) for r in range(3) for c in range(3)}  # under w[0, 0]
    assert working(at).startswith("∂L/∂w[0, 0] = 1×1 + 1×(-1)") and working(at).endswith(f"= {gw[0, 0]:g}")

    at.button(key="step_next").click().run()
    assert at.session_state["step"] == 1 and at.query_params["step"] == "1"
    now = grids(at)
    assert cells_with(now["grad_w"], "cur") == {(0, 1)} and cells_with(now["kernel"], "cur") == {(0, 1)}
    assert cells_with(now["input"], "win") == {(r, c) for r in range(3) for c in range(1, 4)}

    np.testing.assert_array_equal(values(go(at, 8)["grad_w"]), gw)  # the last weight: all of ∂L/∂w
    assert values(go(at, 9)["grad_b"])[0, 0] == gb and working(at).startswith("∂L/∂b = 1 + (-1) + 2")
    np.testing.assert_array_equal(values(go(at, 34)["grad_x"]), gx)  # the last input cell: all of ∂L/∂x
    x_t = torch.tensor(x, requires_grad=True)  # and torch agrees
    (F.conv2d(x_t[None, None], torch.tensor(w)[None, None])[0, 0] * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(gx, x_t.grad.numpy())


def test_the_phase_jump_moves_to_each_gradients_first_cell_and_follows_the_steps():
    at = run_page(PAGE)
    jump = at.segmented_control(key="phase")
    assert jump.value == "weights" and jump.options == ["∂L/∂w", "∂L/∂b", "∂L/∂x"]
    jump.set_value("input").run()
    assert at.session_state["step"] == 10 and at.query_params["step"] == "10"
    assert cells_with(grids(at)["grad_x"], "cur") == {(0, 0)} and working(at).startswith("∂L/∂x[0, 0]")
    assert [p.label for p in at.get("page_link")] == [
        "The same sum, painted input cell by input cell: the transposed convolution"]
    at.segmented_control(key="phase").set_value("bias").run()
    assert at.session_state["step"] == 9 and working(at).startswith("∂L/∂b")
    at.button(key="step_next").click().run()  # stepping on into ∂L/∂x: the jump shows where the step is
    assert at.segmented_control(key="phase").value == "input" and at.get("page_link")


def test_predicting_a_gradient_cell_hides_it_until_an_answer_is_locked_in():
    at = run_page(PAGE, {"quiz": "1"})
    x, w, g = shown(at)
    _, gw, _ = conv_backward(x, w, g)
    assert grids(at)["grad_w"][(0, 0)][1] == "?" and working(at) == "∂L/∂w[0, 0] = ?"
    assert at.button(key="step_play").disabled
    _lock_in(at, gw[0, 0] + 1)
    assert f"cell (0, 0) is **{gw[0, 0]:g}**" in at.error[0].value and "w[0, 0] sat on" in at.error[0].value
    assert grids(at)["grad_w"][(0, 0)][1] == f"{gw[0, 0]:g}" and working(at).endswith(f"= {gw[0, 0]:g}")
    at.segmented_control(key="phase").set_value("bias").run()
    assert working(at) == "∂L/∂b = ?"
    _lock_in(at, float(g.sum()))
    assert f"You said {g.sum():g}: right." in at.success[0].value


@pytest.mark.parametrize("lr, overshoots", [("0.0001", False), ("0.0002", False), ("0.002", True), ("1.0", True)])
def test_one_sgd_step_says_when_it_overshoots(lr, overshoots):
    at = run_page(PAGE, {"lr": lr})
    x, w, g = shown(at)
    y = F.conv2d(torch.tensor(x)[None, None], torch.tensor(w)[None, None])[0, 0].numpy()
    step = sgd_step(x, w, 0, y - g, float(lr))  # the loss whose gradient is the ∂L/∂y typed in
    assert step.overshot == overshoots
    before, after = (float(m.value.replace(",", "")) for m in at.metric)
    assert before == pytest.approx(step.loss_before) == 0.5 * (g ** 2).sum()
    assert after == pytest.approx(step.loss_after, rel=0.01)  # 3 figures past a billion
    said = " ".join(w.value for w in at.warning)
    assert ("overshot" in said) == overshoots and ("went down" in " ".join(s.value for s in at.success)) != overshoots
    np.testing.assert_allclose(values(grids(at)["w_after"]), w - float(lr) * step.grad_w, atol=5e-4)


def test_the_gradient_from_a_loss_is_y_minus_the_target():
    at = run_page(PAGE, {"src": "loss", "image": "Gradient", "t": "1,2,3;4,5,6;7,8,9"})
    x, w, g = shown(at)
    y = F.conv2d(torch.tensor(x)[None, None], torch.tensor(w)[None, None])[0, 0].numpy()
    target = np.arange(1, 10).reshape(3, 3)
    np.testing.assert_array_equal(g, y - target)
    np.testing.assert_array_equal(values(grids(at)["loss_grad"]), y - target)
    step = sgd_step(x, w, 0, target, 0.0002)
    assert float(at.metric[0].value) == pytest.approx(step.loss_before)


def test_settings_from_the_link_padding_stride_dilation():
    at = run_page(PAGE, {"rows": "7", "cols": "6", "pad": "1", "stride": "2", "dil": "2", "kernel": "Box blur",
                         "step": "4"})
    x, w, g = shown(at)
    assert x.shape == (9, 8) and cells_with(grids(at)["input"], "pad")
    assert cells_with(grids(at)["input"], "win") == {(r, c) for r in (2, 4, 6) for c in (2, 4)}  # w[1, 1]
    gx, gw, _ = conv_backward(x[1:-1, 1:-1], w, g, 1, 2, 2)
    assert values(grids(at)["grad_w"])[1, 1] == gw[1, 1]
    np.testing.assert_array_equal(values(go(at, 9 + 1 + 7 * 6 - 1)["grad_x"]), gx)  # the last input cell


def test_editing_dl_dy_goes_into_the_link_and_the_gradients():
    at = run_page(PAGE)
    editor = next(d.key for d in at.data_editor if d.key.startswith("g_editor_0"))
    at.session_state[editor] = {"edited_rows": {0: {"0": 5}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception and at.query_params["g"].startswith("5,-1,2;")
    assert values(grids(at)["grad_out"])[0, 0] == 5 and working(at).startswith("∂L/∂w[0, 0] = 1×5 +")


@pytest.mark.parametrize("params, message", [
    ({"k": "4"}, "odd sizes"),
    ({"rows": "3", "cols": "3", "k": "3", "dil": "3"}, "does not fit"),
    ({"pad": "same", "stride": "2"}, "stride 1"),
])
def test_impossible_settings_show_an_error_not_a_traceback(params, message):
    at = run_page(PAGE, params)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


def test_impossible_link_values_fall_back_with_a_note():
    at = run_page(PAGE, {"lr": "3", "pad": "9", "src": "nope", "step": "999", "g": "1,2;x", "stride": "0"})
    assert (at.session_state["lr"], at.session_state["pad"], at.session_state["src"]) == (0.0002, "0", "grad")
    assert at.session_state["stride"] == 1 and at.session_state["step"] == 34  # the last of 9 + 1 + 25 steps
    assert working(at).startswith("∂L/∂x[4, 4]")
    notes = " ".join(t.value for t in at.toast)
    assert "`lr=3` is not possible" in notes and "`step=999` is not possible" in notes


def test_teacher_links_hide_the_steps_and_the_jump():
    at = run_page(PAGE, {"teacher": "1", "hide": "step", "step": "10"})
    assert not at.button and not at.segmented_control
    assert working(at).startswith("∂L/∂x[0, 0]")


def test_the_page_appears_without_importing_torch():
    """Like the forward stepper, this lesson must not wait for the 4.5 s PyTorch import."""
    code = ("import sys; from streamlit.testing.v1 import AppTest\n"
            f"at = AppTest.from_file({str(PAGES / PAGE)!r}, default_timeout=60).run()\n"
            "assert not at.exception\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
