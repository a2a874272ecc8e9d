"""Evaluate a model on a phone and back from Inside a model: the matrix's numbers stay in their squares, a gallery
row holds several images, and Back lands on the square, page and place the student left."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from streamlit_browser import existing_pages

pytestmark = pytest.mark.skipif("evaluate" not in dict(existing_pages()), reason="no Evaluate page")
PHONE = {"width": 390, "height": 844}  # a student's phone, as in test_e2e_lessons.py
MAIN = "[data-testid='stMain']"  # Streamlit scrolls the page inside this, not the window
BOXES = "es => es.map(e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })"


def matrix(app):
    """The confusion matrix chart: the one whose squares name a predicted class."""
    return app.page.locator("[data-testid='stVegaLiteChart']").filter(
        has=app.page.locator("[aria-label*='predicted:']")).first


def test_a_phone_keeps_each_number_of_the_matrix_in_its_square(app):
    app.page.set_viewport_size(PHONE)
    app.open("evaluate", model="mnist_cnn")
    chart = matrix(app)
    squares = chart.locator("g.mark-rect.role-mark").first.locator("path").evaluate_all(BOXES)
    texts = chart.locator("g.mark-text.role-mark text")  # the numbers on the squares, not the axes' labels
    numbers = texts.evaluate_all(BOXES)
    sizes = texts.evaluate_all("ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize))")
    assert len(numbers) == len(squares) == 100  # MNIST: 10 x 10 squares, each with its number
    width = min(r - left for left, _, r, _ in squares)
    assert max(r - left for left, _, r, _ in numbers) <= width - 2  # before: "1,130" was wider than its square
    assert min(sizes) >= 9  # still readable, not hidden
    rows: dict[int, list] = {}
    for box in numbers:
        rows.setdefault(round((box[1] + box[3]) / 2), []).append(box)
    for row in rows.values():
        row.sort()
        assert all(a[2] <= b[0] for a, b in zip(row, row[1:])), row  # neighbours apart
    app.assert_clean()


def test_a_phone_shows_several_gallery_images_a_row(app):
    app.page.set_viewport_size(PHONE)
    app.open("evaluate", model="mnist_cnn", kind="correct")
    images = app.page.locator(".st-key-gallery-tiles img").evaluate_all(BOXES)
    assert len(images) == 24
    assert sum(abs(top - images[0][1]) < 1 for _, top, _, _ in images) >= 3  # before: one image a row
    assert images[-1][3] - images[0][1] < 2500  # 24 images; before, about 12,500 px of one-image rows
    assert max(right for _, _, right, _ in images) <= PHONE["width"]
    app.assert_clean()


def test_back_from_inside_lands_on_the_same_square_page_and_place(app):
    app.open("evaluate", model="mnist_cnn")
    chart = matrix(app)
    chart.locator("[role='graphics-symbol'][aria-label*='true: 1; predicted: 1']").first.click(
        position={"x": 4, "y": 4})  # a corner: the count written on the square covers its middle
    app.wait()
    box = app.page.locator(".st-key-cpage input")
    box.fill("2")
    box.press("Enter")
    app.wait()
    expect(app.page.get_by_text(re.compile(r"^page 2 of \d+"))).to_be_visible()
    left = app.query()
    assert (left["true"], left["pred"], left["cpage"]) == ("1", "1", "2")

    app.page.locator(".st-key-cell-tiles").scroll_into_view_if_needed()
    app.page.mouse.move(680, 400)
    app.page.mouse.wheel(0, 300)  # the student's own scroll, to somewhere in the middle of the square's images
    app.page.wait_for_timeout(500)
    height = app.page.viewport_size["height"]
    # the "Inside" buttons, not the pictures' own full-screen buttons
    buttons = app.page.locator(".st-key-cell-tiles").get_by_role("button", name=re.compile("Inside"))
    tops = buttons.evaluate_all(BOXES)
    visible = next(i for i, (_, top, _, bottom) in enumerate(tops) if top > 80 and bottom < height)
    scrolled = app.page.locator(MAIN).evaluate("m => m.scrollTop")
    assert scrolled > 500
    buttons.nth(visible).click()  # on screen already: clicking does not scroll
    app.page.wait_for_url(re.compile(r"/inside\?"))
    app.wait()

    app.page.go_back()
    app.page.wait_for_url(re.compile(r"/evaluate\?"))
    app.wait()
    expect(app.page.get_by_text(re.compile(r"^page 2 of \d+"))).to_be_visible()
    assert app.query() == left  # the square and its page, and nothing Inside added
    assert box.input_value() == "2"
    app.page.wait_for_function(f"() => Math.abs(document.querySelector(\"{MAIN}\").scrollTop - {scrolled}) <= 50",
                               timeout=10_000)
    app.assert_clean()
