"""A student's runs survive a reload of the page, and stay invisible to another browser."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def test_a_run_is_listed_again_after_a_reload_and_not_in_another_browser(app, browser, server):
    app.open("train", data="mnist", epochs="1", limit="500", batch="64", sched="none")
    app.page.get_by_role("button", name=re.compile("Start training")).click()
    expect(app.page.get_by_text(re.compile(r"Finished 1 epoch")).first).to_be_visible(timeout=120_000)
    app.wait()
    key = next(c["value"] for c in app.context.cookies() if c["name"] == "cnnviz_runs")
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    app.open("inside")  # a fresh session of the same browser: the cookie brings the run back
    app.page.get_by_role("combobox", name="Model").click()
    runs = app.page.get_by_role("option", name=re.compile(r"^Your run"))
    expect(runs.first).to_be_visible()
    mine = runs.count()
    app.page.keyboard.press("Escape")
    other = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = other.new_page()
        page.goto(f"{server.url}/inside")
        page.get_by_role("combobox", name="Model").click(timeout=90_000)
        expect(page.get_by_role("option").first).to_be_visible()
        assert mine >= 1 and page.get_by_role("option", name=re.compile(r"^Your run")).count() == 0
    finally:
        other.close()
    app.assert_clean()
