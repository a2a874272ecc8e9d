"""Every page that exists opens in a real browser with its heading and without an error."""
from __future__ import annotations

import pytest

from streamlit_browser import existing_pages

PAGES = existing_pages()


@pytest.mark.parametrize("stem, title", PAGES, ids=[s or "home" for s, _ in PAGES])
def test_page_opens_with_a_heading_and_no_error(app, stem, title):
    app.open(stem)
    heading = app.page.locator("h1").first
    assert heading.is_visible() and heading.inner_text().strip()
    nav = app.page.locator("[data-testid='stSidebarNav']")
    assert nav.get_by_text(title, exact=True).is_visible()  # listed in the sidebar
    app.assert_clean()


def test_the_sidebar_lists_every_page_and_moves_between_them(app):
    app.open()
    links = app.page.locator("[data-testid='stSidebarNav'] a")
    assert links.count() == len(PAGES)
    last_stem, last_title = PAGES[-1]
    app.page.locator("[data-testid='stSidebarNav']").get_by_text(last_title, exact=True).click()
    app.page.wait_for_url(f"**/{last_stem}*")
    app.wait()
    assert app.page.locator("h1").first.is_visible()
    app.assert_clean()
