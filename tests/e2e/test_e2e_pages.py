"""Every page that exists opens in a real browser with its heading and without an error."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit
from streamlit_browser import existing_pages

PAGES = existing_pages()


@pytest.mark.parametrize("stem, title", PAGES, ids=[s or "home" for s, _ in PAGES])
def test_page_opens_with_a_heading_and_no_error(app, stem, title):
    app.open(stem)
    heading = app.page.locator("h1").first
    assert heading.is_visible() and heading.inner_text().strip()
    nav = app.page.locator("[data-testid='stSidebar'] [data-testid='stPageLink']")
    assert nav.get_by_role("link", name=title, exact=True).is_visible()  # listed in the sidebar
    app.assert_clean()


def test_the_sidebar_lists_every_page_and_moves_between_them(app):
    last_stem, last_title = PAGES[-1]
    app.open(last_stem, teacher="0")
    nav = app.page.locator("[data-testid='stSidebar'] [data-testid='stPageLink']")
    assert nav.get_by_role("link").count() == len(PAGES)
    assert app.query() == {"teacher": "0"}  # the lesson keeps its link's words in the address
    nav.get_by_role("link", name=PAGES[0][1], exact=True).click()
    app.page.wait_for_url(lambda url: url.rstrip("/").count("/") == 2)  # back at http://host:port/
    app.wait()
    assert app.query() == {}  # the sidebar's links leave the last page's settings behind
    assert app.page.locator("h1").first.is_visible()
    app.assert_clean()


def test_a_running_page_shows_a_still_hourglass_instead_of_the_running_figure(app):
    """Streamlit's figure is redrawn 5 times a second in every browser while a page runs; the app's style stills it."""
    static = Path(streamlit.__file__).parent / "static"
    bundle = "".join(f.read_text(errors="ignore") for f in static.rglob("index*.js"))
    for test_id in ("stStatusWidget", "stStatusWidgetRunningIcon"):  # what the style targets is still Streamlit's
        assert f"`{test_id}`" in bundle or f'"{test_id}"' in bundle, test_id
    app.open()
    widget = app.page.evaluate("""() => {  // the widget as Streamlit draws it during a run, on a real page
        const w = document.createElement("div"); w.dataset.testid = "stStatusWidget";
        w.innerHTML = '<div data-testid="stStatusWidgetRunningIcon"></div><button>Stop</button>';
        document.querySelector("header").appendChild(w);
        const icon = w.firstChild;
        return [getComputedStyle(w, "::before").content, getComputedStyle(icon).display];
    }""")
    assert widget == ['"⏳"', "none"]
    app.assert_clean()
