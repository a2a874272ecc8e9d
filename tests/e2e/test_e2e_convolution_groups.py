"""Stepping a depthwise convolution in a real browser: a teacher's link fits one projector screen (1366 × 768) as the
plain stepper does, and a phone (390 × 844) shows it without sideways scrolling."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_e2e_projector import SCREEN, inside_screen

PHONE = {"width": 390, "height": 844}
DEPTHWISE = {"chans": "3", "outs": "3", "groups": "3", "och": "2"}
SIDEWAYS = """() => { const m = document.querySelector('[data-testid=stMain]');
  return {scroll: m.scrollWidth, client: m.clientWidth}; }"""


@pytest.mark.parametrize("params", [{"pad": "1", "step": "7"}, {"pad": "1", "step": "7", "rows": "7", "cols": "7"}])
def test_a_teacher_link_to_a_depthwise_step_fits_one_projector_screen(app, params):
    app.page.set_viewport_size(SCREEN)
    app.open("convolution", teacher="1", **DEPTHWISE, **params)
    for selector in ("[data-grid='input1']", "[data-grid='kernel1']", "[data-grid='output']",
                     "[data-grid='output0']", "[data-grid='output2']", "[data-working]", ".st-key-och",
                     ".st-key-step_next button", ".st-key-step_prev button"):
        assert inside_screen(app, selector) == [], selector
    expect(app.page.locator("[data-grid='input0']")).to_have_count(0)  # the group's one input channel, no other
    expect(app.page.get_by_text("Output channel 2 reads input channel 2 only")).to_be_visible()
    expect(app.page.locator("[data-grid='output'] td.cur")).to_have_count(1)
    app.page.locator(".st-key-och").get_by_text("3", exact=True).click()  # step the third output channel
    app.wait()
    assert app.query().get("och") == "3"
    expect(app.page.locator("[data-grid='input2']")).to_have_count(1)
    expect(app.page.locator("[data-grid='input1']")).to_have_count(0)
    assert inside_screen(app, "[data-working]") == []
    app.assert_clean()


def test_a_grouped_step_on_a_phone_has_no_sideways_scroll(app):
    app.page.set_viewport_size(PHONE)
    app.open("convolution", chans="4", outs="2", groups="2", och="2", step="5")
    expect(app.page.get_by_text("group 2 of 2")).to_be_visible()
    for name in ("input2", "input3", "output", "output0"):
        grid = app.page.locator(f"[data-grid='{name}']")
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (name, box)
    fit = app.page.evaluate(SIDEWAYS)
    assert fit["scroll"] <= fit["client"], fit
    app.assert_clean()
