"""One screen on a projector (1366 × 768): a teacher's link shows the lesson's whole step without scrolling."""
from __future__ import annotations

import pytest

SCREEN = {"width": 1366, "height": 768}


def inside_screen(app, selector: str) -> list[dict]:
    """The bounding boxes of `selector`'s elements that fall outside the first screen (empty when all fit)."""
    boxes = app.page.locator(selector).evaluate_all(
        "es => es.map(e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, "
        "left: r.left, right: r.right, what: e.dataset.grid || e.dataset.testid || e.tagName}; })")
    assert boxes, f"nothing matches {selector}"
    return [b for b in boxes if b["bottom"] > SCREEN["height"] or b["right"] > SCREEN["width"] or b["top"] < 0]


@pytest.mark.parametrize("params", [{"pad": "1", "step": "7"}, {"pad": "1", "step": "7", "rows": "7", "cols": "7"}])
def test_a_teacher_link_to_a_convolution_step_fits_one_projector_screen(app, params):
    app.page.set_viewport_size(SCREEN)
    app.open("convolution", teacher="1", **params)
    for selector in ("[data-grid='input0']", "[data-grid='kernel0']", "[data-grid='output']", "[data-working]",
                     ".st-key-step_next button", ".st-key-step_prev button"):
        assert inside_screen(app, selector) == [], selector
    notes = app.page.locator("[data-grid='input0'] .cv-note")
    assert notes.count() == 9  # every weight under the window, written in its cell
    sizes = notes.evaluate_all("ns => ns.map(n => parseFloat(getComputedStyle(n).fontSize))")
    assert min(sizes) >= 12, sizes
    swatches = app.page.locator(".cv-legend .cv-swatch").evaluate_all(
        "ss => ss.map(s => getComputedStyle(s).backgroundColor)")
    assert len(set(swatches[1:3])) == 2, swatches  # the window and the output cell: two colours
    app.assert_clean()


def test_a_teacher_link_to_grad_cam_shows_it_on_the_first_screen(app):
    app.page.set_viewport_size(SCREEN)
    app.open("inside", model="cifar_cnn", img="sample:cat", view="gradcam", teacher="1", hide="model,img,guess")
    cam = app.page.get_by_role("img", name="Grad-CAM for “cat” at conv3")
    cam.wait_for()
    box = cam.bounding_box()
    assert box["y"] + box["height"] <= SCREEN["height"], box  # before: it started at y = 1,163
    assert app.page.get_by_text("What comes out").count() == 1  # still there, below the view
    app.assert_clean()
