"""Check my answer on Step through a convolution: every column of the blank output grid is on screen, on a
1440 px screen and on a phone, and typing the right numbers into it says so."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from streamlit_browser import existing_pages

from app import stepper
from cnnviz.lessons import kernels

pytestmark = pytest.mark.skipif("convolution" not in dict(existing_pages()), reason="no convolution lesson")
SIZES = [{"width": 1440, "height": 900}, {"width": 390, "height": 844}]  # a laptop, a student's phone
LINK = {"rows": "5", "cols": "7"}  # the Square input 5 x 7 under a 3 x 3 Sobel x: a 3 x 5 output
ROW_HEIGHT = 38  # px: the answer grid's rows (stepper.check_answer's row_height)


def truth() -> np.ndarray:
    """The output the page should expect, from PyTorch on the page's presets: the oracle."""
    x = torch.tensor(kernels.image("Square", 5, 7, 0), dtype=torch.float64)[None, None]  # (1, 1, 5, 7)
    w = torch.tensor(kernels.kernel("Sobel x", 3), dtype=torch.float64)[None, None]  # (1, 1, 3, 3)
    return F.conv2d(x, w)[0, 0].numpy()  # (3, 5)


def open_cell(app, shape: tuple[int, int], i: int, j: int):  # -> playwright Locator of the cell's input box
    """Click cell (i, j) and press Enter to open its box; a click that lands while a rerun redraws the grid opens
    nothing, so try again (three times at most)."""
    box = app.page.locator("#portal input.gdg-input")
    for _ in range(3):
        left, top, right, bottom = cell_boxes(app, *shape)[i, j]  # a rerun may have scrolled the page
        app.page.mouse.click((left + right) / 2, (top + bottom) / 2)
        app.page.keyboard.press("Enter")  # opens the cell's box (a first digit typed would only open it)
        try:
            box.wait_for(state="visible", timeout=5_000)
            return box
        except PlaywrightTimeout:
            app.wait()
    return box


def answer_editor(app):
    """The answer grid: the last data editor of the page (the input and kernel editors come first)."""
    editor = app.page.locator("[data-testid='stDataFrame']").last
    editor.scroll_into_view_if_needed()
    return editor


def cell_boxes(app, rows: int, cols: int) -> dict[tuple[int, int], tuple[float, float, float, float]]:
    """(left, top, right, bottom) of each answer cell on screen. The editor is one canvas: its cells lie after the
    row numbers' column, each `side` wide, under a header row (the editor's height less its rows)."""
    box = answer_editor(app).bounding_box()
    side = (box["width"] - 2 - stepper.ANSWER_INDEX) / cols  # 1 px border each side
    header = box["height"] - 2 - rows * ROW_HEIGHT
    left, top = box["x"] + 1 + stepper.ANSWER_INDEX, box["y"] + 1 + header
    return {(i, j): (left + j * side, top + i * ROW_HEIGHT, left + (j + 1) * side, top + (i + 1) * ROW_HEIGHT)
            for i in range(rows) for j in range(cols)}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s['width']}x{s['height']}")
def test_every_answer_box_of_a_3x5_output_is_on_screen_and_takes_the_right_numbers(app, size):
    app.page.set_viewport_size(size)
    app.open("convolution", **LINK)
    expect(app.page.get_by_text("worked out by hand (3 × 5)")).to_be_visible()
    expected = truth()
    editor = answer_editor(app)
    scroll = editor.locator(".dvn-scroller").evaluate("s => [s.scrollWidth, s.clientWidth]")
    assert scroll[0] <= scroll[1], scroll  # no column hidden behind a sideways scroll (before: 431 in 373 px)
    boxes = cell_boxes(app, *expected.shape)
    assert all(0 <= left and right <= size["width"] for left, _, right, _ in boxes.values()), boxes
    for i, j in boxes:
        open_cell(app, expected.shape, i, j).fill(f"{expected[i, j]:g}")
        app.page.keyboard.press("Enter")
        app.wait()
        said = app.page.locator(f"[data-grid='answer'] td[data-cell='{i},{j}']")
        expect(said).to_have_text(f"{expected[i, j]:g}")  # the number landed in its own cell
        expect(said).to_have_class("right")
    expect(app.page.get_by_text("15 right, 0 wrong, 0 blank. All correct!")).to_be_visible()
    app.assert_clean()
