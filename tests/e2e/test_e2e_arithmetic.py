"""The Conv arithmetic page in a real browser, on a projector and on a phone: the layer table's Output column shows
a shape whole, the syntax of a network description is in plain view, and a square input stays square."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

PROJECTOR = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}  # a student's phone, as in test_e2e_lessons.py
SCREENS = {"projector": PROJECTOR, "phone": PHONE}
NET_512 = "conv 1 k5\npool max 2\nconv 1 k3"  # 1 × 512 × 512 → 508 → 254 → 252

# The grid is drawn on a canvas: its column borders are found in the pixels of the header's top row, and the text's
# width is measured in the grid's own font (its cells have --gdg-cell-horizontal-padding on each side).
COLUMN_FIT = """(grid, [column, text]) => {
  const canvas = grid.querySelector('canvas[data-testid=data-grid-canvas]');
  const scale = canvas.width / canvas.getBoundingClientRect().width;
  const row = canvas.getContext('2d').getImageData(0, Math.round(3 * scale), canvas.width, 1).data;
  const borders = [];
  for (let x = 1; x < canvas.width; x++) {
    const step = Math.abs(row[4 * x] - row[8]) + Math.abs(row[4 * x + 1] - row[9]) + Math.abs(row[4 * x + 2] - row[10]);
    if (step > 12 && (!borders.length || x / scale - borders[borders.length - 1] > 2)) borders.push(x / scale);
  }
  const style = getComputedStyle(grid.querySelector('.stDataFrameGlideDataEditor'));
  const measure = document.createElement('canvas').getContext('2d');
  measure.font = style.getPropertyValue('--gdg-base-font-style') + ' ' + style.getPropertyValue('--gdg-font-family');
  const padding = parseFloat(style.getPropertyValue('--gdg-cell-horizontal-padding'));
  return {left: column ? borders[column - 1] : 0, right: borders[column], shown: canvas.getBoundingClientRect().width,
          needs: measure.measureText(text).width + 2 * padding};
}"""


@pytest.mark.parametrize("screen", SCREENS)
def test_the_output_column_shows_a_shape_whole_and_the_syntax_is_in_plain_view(app, screen):
    app.page.set_viewport_size(SCREENS[screen])
    app.open("arithmetic", part="table", shape="1x512x512", net=NET_512)
    grid = app.page.locator("[data-testid='stDataFrame']").first
    expect(grid.locator("td", has_text="1 × 252 × 252")).to_have_count(1)  # the grid's cells, for screen readers
    grid.scroll_into_view_if_needed()
    app.page.wait_for_timeout(300)
    fit = grid.evaluate(COLUMN_FIT, [2, "1 × 252 × 252"])  # the third column: Layer, Type, Output shape
    assert fit["right"] - fit["left"] >= fit["needs"], fit  # the widest shape is not cut off
    assert fit["right"] <= fit["shown"], fit  # and its column is on screen without scrolling the grid

    rules = app.page.get_by_text("How to write a network")
    expect(rules).to_be_visible()  # no expander to open
    expect(app.page.get_by_text("PyTorch code works too")).to_be_visible()
    expect(app.page.locator("[data-testid='stExpander']")).to_have_count(0)
    box = app.page.get_by_label("One layer per line").bounding_box()
    help_box = rules.bounding_box()
    if screen == "projector":  # beside the box
        assert help_box["x"] >= box["x"] + box["width"] and help_box["y"] < box["y"] + box["height"], (box, help_box)
    else:  # below it
        assert help_box["y"] >= box["y"] + box["height"], (box, help_box)
    app.assert_clean()


def test_a_pasted_line_that_does_not_read_is_named_in_words(app):
    app.open("arithmetic", part="table", shape="1x8x8", net="nn.Conv2d(1, 8, 3)\nconv 8 k3 x9")
    error = app.page.locator("[data-testid='stAlertContentError']")
    expect(error).to_contain_text("cnnviz cannot read this description")
    expect(error).to_contain_text('Line 2 ("conv 8 k3 x9")')
    app.assert_clean()


def test_a_square_input_stays_square_and_the_chain_reaches_252(app):
    app.open("arithmetic", h="512", p="0", chain="conv k5 p0 s1 d1;maxpool k2 p0 s2 d1", k="3")
    expect(app.page.get_by_text("Output: 252 × 252 (from 254 × 254)")).to_be_visible()
    height = app.page.get_by_role("spinbutton", name="Input height")
    height.fill("64")
    height.press("Enter")
    app.wait()
    expect(app.page.get_by_role("spinbutton", name="Input width")).to_have_value("64")
    assert app.query().get("w") == "64"
    app.assert_clean()
