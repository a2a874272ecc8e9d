"""The digit canvases of the Dataset explorer on a phone: the canvases load, two to a row inside the screen, the
eleven class colours are named beside them, and the mask toggle redraws them and goes into the link."""
from __future__ import annotations

import pytest
from streamlit_browser import existing_pages

from cnnviz.datasets import segments
from tests.conftest import needs_data

pytestmark = [pytest.mark.skipif("dataset" not in dict(existing_pages()), reason="no Dataset explorer page"),
              needs_data("mnist")]
PHONE = {"width": 390, "height": 844}  # a student's phone, as in test_e2e_lessons.py
TILES = ".st-key-canvas-tiles img"
BOXES = "es => es.map(e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })"
LOADED = "es => es.map(e => e.complete && e.naturalWidth > 0)"


def test_a_phone_shows_the_canvases_and_their_class_colours(app):
    app.page.set_viewport_size(PHONE)
    app.open("dataset", ds="m2nist")
    tiles = app.page.locator(TILES)
    tiles.first.scroll_into_view_if_needed()
    app.page.wait_for_function(f"() => [...document.querySelectorAll('{TILES}')].every(e => e.complete)")
    assert tiles.evaluate_all(LOADED) == [True] * 12
    boxes = tiles.evaluate_all(BOXES)
    assert max(right for _, _, right, _ in boxes) <= PHONE["width"]
    assert sum(abs(top - boxes[0][1]) < 1 for _, top, _, _ in boxes) == 2  # two canvases a row
    assert min(right - left for left, _, right, _ in boxes) >= 2 * segments.WIDTH - 20  # about twice their size

    legend = app.page.locator("[data-testid='stHtml']").filter(has_text="background").first
    assert legend.is_visible()
    chips = legend.locator("span > span")  # the colour squares, one per class
    assert chips.count() == len(segments.CLASSES)
    words = legend.inner_text().split()
    assert words == list(segments.CLASSES)
    before = tiles.first.get_attribute("src")

    app.page.locator(".st-key-show").get_by_text("Mask", exact=True).click()
    app.wait()
    assert app.query()["show"] == "mask"
    assert tiles.count() == 12 and tiles.first.get_attribute("src") != before  # the same canvas, now its mask
    assert not app.page.get_by_text("How many images of each class?").count()  # no classification sections
    app.assert_clean()
