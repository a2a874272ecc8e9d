"""Accessibility: axe-core on every page in the browser, on a projector and on a phone: no critical or serious
violation. The results per page land in artifacts/e2e/axe/<page>-<screen>.json."""
from __future__ import annotations

import json

import pytest
import streamlit_browser as sb
from axe_playwright_python.sync_playwright import Axe

PAGES = sb.existing_pages()
SCREENS = {"projector": sb.VIEWPORT, "phone": {"width": 390, "height": 844}}
BLOCKING = ("critical", "serious")


def violations(page) -> list[dict]:
    """axe-core's violations on the page as it stands, with their nodes."""
    page.wait_for_timeout(1_000)  # let late elements (charts, images) settle
    return Axe().run(page).response["violations"]


@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize(("path", "title"), PAGES, ids=[p or "home" for p, _ in PAGES])
def test_no_critical_or_serious_violation(browser, server, path, title, screen):
    context = browser.new_context(viewport=SCREENS[screen])
    try:
        page = context.new_page()
        page.set_default_timeout(sb.RUN_TIMEOUT_MS)
        sb.open_page(page, server.url, path)
        found = violations(page)
        folder = sb.ARTIFACTS / "axe"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{path or 'home'}-{screen}.json").write_text(json.dumps(found, indent=1))
        blocking = [f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}×, e.g. {v['nodes'][0]['html'][:160]})"
                    for v in found if v["impact"] in BLOCKING]
        assert not blocking, "\n".join(blocking)
    finally:
        context.close()
