"""The stepped lessons' figures (cnnviz.lessons.figures): what each step draws and asks, against torch and by hand."""
from __future__ import annotations

import re
from html import unescape

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz.lessons import figures
from cnnviz.lessons.stepping import Conv, Pool, TransposedConv

CELL = re.compile(r'<td(?: class="([^"]*)")? data-cell="(\d+),(\d+)">([^<]*)')


def grids(parts: list[str]) -> dict[str, dict[tuple[int, int], tuple[set[str], str]]]:
    """Every grid the parts draw: name -> {(row, col): (classes, text)} (a corner note is left out)."""
    found = {}
    for chunk in "".join(parts).split('data-grid="')[1:]:
        name, body = chunk.split('"', 1)
        body = body.split("</table>", 1)[0]
        found[name] = {(int(r), int(c)): (set(cls.split()), unescape(text).strip())
                       for cls, r, c, text in CELL.findall(body)}
    return found


def values(grid: dict[tuple[int, int], tuple[set[str], str]]) -> np.ndarray:
    """A drawn grid's numbers (NaN where blank or '?')."""
    out = np.full((1 + max(r for r, _ in grid), 1 + max(c for _, c in grid)), np.nan)
    for (r, c), (_, text) in grid.items():
        if text not in ("", "?"):
            out[r, c] = -np.inf if text == "-∞" else float(text)
    return out


def cells_with(grid: dict, cls: str) -> set[tuple[int, int]]:
    return {cell for cell, (classes, _) in grid.items() if cls in classes}


def working(parts: list[str]) -> str:
    """The worked answer's text."""
    text = "".join(parts).split('data-working="1">', 1)[1]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split())


def t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.array(a, dtype=np.float64))


RNG = np.random.default_rng(0)
CONVS = [  # (channels, rows, cols, k, bias, padding, stride, dilation, flip)
    (1, 6, 6, 3, 0, 0, 1, 1, False), (1, 5, 7, 3, 2, 1, 2, 1, True), (2, 7, 5, 3, 3, 2, 2, 2, True),
    (3, 6, 6, 2, -1, 0, 1, 1, False), (1, 5, 5, 4, 0, "same", 1, 1, False)]


@pytest.mark.parametrize("chans, rows, cols, k, bias, pad, stride, dil, flip", CONVS)
def test_conv_scene_draws_each_window_and_ends_with_torchs_output(chans, rows, cols, k, bias, pad, stride, dil, flip):
    x, w = RNG.integers(-9, 10, (chans, rows, cols)), RNG.integers(-3, 4, (chans, k, k))
    conv = Conv.make(x, w, bias, pad, stride, dil, flip)
    padding = ((k - 1) * dil // 2, (k - 1) * dil - (k - 1) * dil // 2) if pad == "same" else (pad, pad)
    padded = np.pad(x, ((0, 0), padding, padding))
    expected = F.conv2d(t(padded)[None], t(w[:, ::-1, ::-1] if flip else w)[None], t([bias]), stride, 0, dil)[0, 0]
    for k_step in range(conv.n_steps):
        i, j = conv.cell(k_step)
        g = grids(figures.conv_scene(conv, k_step))
        window = {(i * stride + a * dil, j * stride + b * dil) for a in range(k) for b in range(k)}
        for c in range(chans):
            np.testing.assert_array_equal(values(g[f"input{c}"]), padded[c])  # the padded input, as torch pads it
            assert cells_with(g[f"input{c}"], "win") == window
            np.testing.assert_array_equal(values(g[f"kernel{c}"]), w[c, ::-1, ::-1] if flip else w[c])
        assert cells_with(g["output"], "cur") == {(i, j)}
        assert values(g["output"])[i, j] == expected[i, j] == figures.conv_ask(conv, k_step).truth
    np.testing.assert_array_equal(values(g["output"]), expected.numpy())  # the last step: all of it


def test_conv_scene_by_hand_and_hidden_while_the_student_answers():
    x = np.array([[1, 1, 1], [1, 9, 9], [1, 9, 9]])
    conv = Conv.make(x, np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]))  # Sobel x: 0 + 16 + 8 = 24
    shown = figures.conv_scene(conv, 0)
    assert values(grids(shown)["output"])[0, 0] == 24 and working(shown).endswith("= 24")
    assert "×(-2)" in "".join(shown)  # the kernel weight in the corner of each window cell
    hidden = figures.conv_scene(conv, 0, hide=True)
    assert grids(hidden)["output"][(0, 0)][1] == "?" and working(hidden) == "Output cell (0, 0) = ?"
    ask = figures.conv_ask(conv, 0)
    assert (ask.cell, ask.truth, ask.grid) == ((0, 0), 24, "Output") and "bias" not in ask.hint
    assert "then the bias" in figures.conv_ask(Conv.make(x, np.ones((3, 3), int), bias=2), 0).hint


def test_conv_scene_names_same_padding_and_uneven_sides():
    conv = Conv.make(np.ones((5, 5), int), np.ones((4, 4), int), padding="same")
    text = "".join(figures.conv_scene(conv, 0, same=True))
    assert "Input, padded 1 above, 2 below, 1 left, 2 right (&#x27;same&#x27;)" in text
    assert "Input, padded by 1<" in "".join(figures.conv_scene(Conv.make(np.ones((4, 4), int), np.ones((3, 3), int),
                                                                         padding=1), 0))


@pytest.mark.parametrize("mode, k, stride, pad, incl", [("max", 2, 2, 0, True), ("max", 3, 2, 1, True),
                                                        ("avg", 3, 2, 1, False), ("avg", 3, 1, 1, True)])
def test_pool_scene_marks_the_window_and_its_maximum_and_ends_with_torchs_output(mode, k, stride, pad, incl):
    x = RNG.integers(0, 10, (6, 7))
    pool = Pool.make(x, mode, k, stride, pad, incl)
    if mode == "max":
        expected = F.max_pool2d(t(x)[None], k, stride, pad)[0]
    else:
        expected = F.avg_pool2d(t(x)[None], k, stride, pad, count_include_pad=incl)[0]
    for step in range(pool.n_steps):
        i, j = pool.cell(step)
        g = grids(figures.pool_scene(pool, step))
        window = {(i * stride + a, j * stride + b) for a in range(k) for b in range(k)}
        assert cells_with(g["input"], "win") == window and cells_with(g["output"], "cur") == {(i, j)}
        assert figures.pool_ask(pool, step).truth == pytest.approx(expected[i, j].item())
        if mode == "max":
            (best,) = cells_with(g["input"], "best")
            assert best in window and values(g["input"])[best] == expected[i, j]
            assert not cells_with(grids(figures.pool_scene(pool, step, hide=True))["input"], "best")  # it would tell
    np.testing.assert_allclose(values(g["output"]), expected.numpy(), atol=0.006)  # shown to 2 decimals


def test_pool_ask_explains_each_mode():
    x = np.arange(16).reshape(4, 4)
    assert "largest number" in figures.pool_ask(Pool.make(x, "max", 2), 0).why
    ask = figures.pool_ask(Pool.make(x, "avg", 2), 0)
    assert ask.truth == (0 + 1 + 4 + 5) / 4 and "divides by the count" in ask.why


@pytest.mark.parametrize("rows, cols, k, stride, pad, opad, dil", [
    (3, 3, 3, 2, 0, 0, 1), (3, 3, 3, 2, 1, 1, 1), (2, 4, 2, 1, 0, 0, 2), (3, 2, 2, 2, 0, 1, 1)])
def test_tconv_scene_paints_each_block_and_ends_with_torchs_output(rows, cols, k, stride, pad, opad, dil):
    x, w = RNG.integers(-3, 4, (rows, cols)), RNG.integers(-2, 3, (k, k))
    tconv = TransposedConv.make(x, w, 0, stride, pad, opad, dil)
    for step in range(tconv.n_steps):
        i, j = divmod(step, cols)
        so_far = np.where(np.arange(rows * cols).reshape(rows, cols) <= step, x, 0)
        full = F.conv_transpose2d(t(so_far)[None, None], t(w)[None, None], stride=stride, output_padding=opad,
                                  dilation=dil)[0, 0].numpy()  # uncropped: the canvas
        g = grids(figures.tconv_scene(tconv, step))
        assert cells_with(g["input"], "cur") == {(i, j)}
        block = {(i * stride + a * dil, j * stride + b * dil) for a in range(k) for b in range(k)}
        assert cells_with(g["canvas"], "hit") == block
        canvas = values(g["canvas"])
        reached = ~np.isnan(canvas)
        np.testing.assert_array_equal(canvas[reached], full[reached])
        ask = figures.tconv_ask(tconv, step)
        assert ask.cell in block and ask.truth == full[ask.cell]
        assert ask.grid == ("Canvas" if pad else "Output")
    out = F.conv_transpose2d(t(x)[None, None], t(w)[None, None], stride=stride, padding=pad, output_padding=opad,
                             dilation=dil)[0, 0].numpy()
    last = values(g["output" if pad else "canvas"])  # blank: nothing landed there (output padding), so 0
    np.testing.assert_array_equal(np.nan_to_num(last, nan=0), out)


def test_tconv_overlaps_and_the_asked_cell_by_hand():
    x, w = np.arange(9).reshape(3, 3), np.ones((3, 3), int)
    tconv = TransposedConv.make(x, w, stride=2)
    assert figures.overlaps(tconv, 0) == [] and figures.asked_cell(tconv, 0) == (0, 0)
    # input cell (0, 1) paints rows 0-2 and columns 2-4: column 2 already holds cell (0, 0)'s block
    assert figures.overlaps(tconv, 1) == [(0, 2), (1, 2), (2, 2)] and figures.asked_cell(tconv, 1) == (0, 2)
    ask = figures.tconv_ask(tconv, 1)
    assert ask.truth == 0 + 1 and ask.why == "It held 0 and gets 1 × 1: 0 + 1 × 1 = 1."
    assert figures.tconv_ask(tconv, 0).why == "Nothing was there yet, so it holds 0 × 1 = 0."
    assert "overlaps add up: (0, 2): 0 + 1 = 1; (1, 2): 0 + 1 = 1; (2, 2): 0 + 1 = 1" in working(
        figures.tconv_scene(tconv, 1))
    hidden = grids(figures.tconv_scene(tconv, 1, hide=True))
    assert hidden["canvas"][(0, 2)][1] == "?" and {text for _, text in hidden["block"].values()} == {"?"}
    assert hidden["canvas"][(0, 3)][1] == ""  # not reached before this step


def test_progress_shows_the_cells_done_the_current_one_and_those_to_come():
    out = np.array([[1, 2], [3, 4]])
    g = grids([figures.progress(out, 1, 300)])["output"]
    assert [g[c][1] for c in [(0, 0), (0, 1), (1, 0), (1, 1)]] == ["1", "2", "", ""]
    assert cells_with(g, "cur") == {(0, 1)} and cells_with(g, "todo") == {(1, 0), (1, 1)}
    assert grids([figures.progress(out, 1, 300, hidden=(0, 1))])["output"][(0, 1)][1] == "?"


def test_output_size_lines_by_hand():
    x6 = np.zeros((6, 6), int)
    assert figures.conv_size(Conv.make(x6, np.ones((3, 3), int))) == (
        "**Output size:** ⌊(6 − 3) / 1⌋ + 1 = 4 rows (the same for the columns)")
    assert figures.conv_size(Conv.make(np.zeros((5, 7), int), np.ones((3, 3), int), padding=1)) == (
        "**Output size:** ⌊(5 + 2×1 − 3) / 1⌋ + 1 = 5 rows;  ⌊(7 + 2×1 − 3) / 1⌋ + 1 = 7 columns")
    assert figures.pool_size(Pool.make(x6, "max", 2)) == (
        "**Output size:** ⌊(6 − 2) / 2⌋ + 1 = 3 rows (the same for the columns)")
    assert figures.tconv_size(TransposedConv.make(np.zeros((3, 2), int), np.ones((3, 3), int), stride=2)) == (
        "**Output size:** (3 − 1)×2 − 2×0 + 1×(3 − 1) + 0 + 1 = 7 rows;  "
        "(2 − 1)×2 − 2×0 + 1×(3 − 1) + 0 + 1 = 5 columns")
