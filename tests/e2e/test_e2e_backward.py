"""The backward pass in a real browser: the keys step it, the jump goes to ∂L/∂x, one SGD step shows its chart."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def test_the_backward_pass_steps_by_key_and_jumps_to_dl_dx(app):
    app.open("backward")
    cur = app.page.locator("[data-grid='grad_w'] td.cur")
    expect(cur).to_have_attribute("data-cell", "0,0")
    app.page.keyboard.press("ArrowRight")
    app.wait()
    assert app.query().get("step") == "1"
    expect(cur).to_have_attribute("data-cell", "0,1")
    expect(app.page.locator("[data-working='1']").first).to_contain_text("∂L/∂w[0, 1] =")

    app.page.get_by_role("radio", name="∂L/∂x", exact=True).click()
    app.wait()
    assert app.query().get("step") == "10"  # 9 weights and the bias come first
    expect(app.page.locator("[data-grid='grad_x'] td.cur")).to_have_attribute("data-cell", "0,0")
    expect(app.page.get_by_role("link", name=re.compile("transposed convolution"))).to_be_visible()
    app.page.keyboard.press("ArrowRight")  # the keys go on stepping after the jump
    app.wait()
    assert app.query().get("step") == "11"
    app.assert_clean()


def test_a_big_learning_rate_overshoots_on_the_chart(app):
    app.open("backward", lr="0.5")
    expect(app.page.get_by_text(re.compile("The step overshot"))).to_be_visible()
    chart = app.page.locator("[data-testid='stVegaLiteChart']")
    chart.scroll_into_view_if_needed()
    expect(chart.locator("canvas, svg").first).to_be_visible()
    app.assert_clean()
