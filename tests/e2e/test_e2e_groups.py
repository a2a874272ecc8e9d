"""Conv arithmetic's grouped & separable part in a real browser, on a projector and on a phone: the settings, the
table, both bar charts and the wiring picture fit the screen's width, and impossible groups are refused in words."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

SCREENS = {"projector": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
WIDEST = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const shown = main.querySelectorAll('.cv-wire, [data-testid=stVegaLiteChart], [data-testid=stDataFrame]');
  const right = Math.max(...[...shown].map(e => e.getBoundingClientRect().right));
  return {scroll: main.scrollWidth, client: main.clientWidth, right};
}"""


@pytest.mark.parametrize("screen", SCREENS)
def test_everything_fits_the_screen_without_sideways_scrolling(app, screen):
    size = SCREENS[screen]
    app.page.set_viewport_size(size)
    app.open("arithmetic", part="groups", gkind="separable", gout="5")
    page = app.page
    grid = page.locator("[data-testid='stDataFrame']")
    expect(grid.locator("td", has_text="Depthwise-separable 3 × 3")).to_have_count(1)
    if screen == "projector":  # the settings and the whole table are on the first screen
        box = grid.bounding_box()
        assert box["y"] + box["height"] <= size["height"], box
    expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(2)
    expect(page.get_by_text("about 8–9× fewer mult-adds")).to_be_visible()
    for kind in ("Plain", "Separable"):  # the kinds side by side, none scrolled out of sight
        button = page.get_by_role("radio", name=kind, exact=True).bounding_box()
        assert button["x"] >= 0 and button["x"] + button["width"] <= size["width"], (kind, button)
    picture = page.locator(".cv-wire")
    picture.scroll_into_view_if_needed()
    expect(picture).to_be_visible()
    expect(picture.locator(".cv-box.on.chosen")).to_have_count(1)
    assert picture.bounding_box()["height"] > 150  # three rows of channels and the bands between them
    expect(page.get_by_text("Output channel 5 reads all 32 input channels in two steps")).to_be_visible()
    fit = page.evaluate(WIDEST)
    assert fit["scroll"] <= fit["client"] and fit["right"] <= size["width"], fit  # nothing pushes the page sideways
    app.assert_clean()


def test_groups_that_do_not_divide_are_refused_and_a_button_puts_it_right(app):
    app.page.set_viewport_size(SCREENS["phone"])
    app.open("arithmetic", part="groups")
    groups = app.page.get_by_role("spinbutton", name="Groups g")
    groups.fill("3")
    groups.press("Enter")
    app.wait()
    error = app.page.locator("[data-testid='stAlertContentError']")
    expect(error).to_contain_text("3 groups cannot split the input channels C_in = 32 and the output channels")
    app.assert_clean()
    app.page.get_by_role("button", name="g = 8").click()
    app.wait()
    expect(error).to_have_count(0)
    expect(app.page.locator("[data-testid='stDataFrame']").locator("td", has_text="Grouped (g = 8)")).to_have_count(1)
    assert app.query().get("g") == "8"
    app.assert_clean()
