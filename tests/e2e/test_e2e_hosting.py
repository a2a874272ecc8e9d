"""A hosted copy gives a closed tab's memory back: its upload is freed once the session's TTL has passed."""
from __future__ import annotations

import io
import re
import time
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
import streamlit_browser as sb
from PIL import Image

TTL_S = 2  # server.disconnectedSessionTTL for this test's own server (the classroom setting is 120 s)


@pytest.fixture(scope="module")
def short_ttl_server(browser) -> Iterator[sb.Server]:
    srv = sb.Server(sb.ARTIFACTS / "server_short_ttl.log",
                    env={"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(TTL_S), "CNNVIZ_DOWNLOAD": "0"})
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.stop()


def held_bytes(url: str, kind: str) -> int:
    """What Streamlit's own metrics say it holds for `kind` (e.g. UploadedFileManager)."""
    with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(int(float(m)) for m in re.findall(rf'cache_memory_bytes{{cache_type="{kind}"[^}}]*}} (\S+)', text))


def noise_png(side: int = 1200) -> bytes:
    """A photo-sized PNG that does not compress (about 4 MB)."""
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_a_closed_tab_frees_its_upload(browser, short_ttl_server):
    srv = short_ttl_server
    context = browser.new_context(viewport=sb.VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(sb.RUN_TIMEOUT_MS)
    sb.open_page(page, srv.url, "inside", model="mnist_cnn")
    page.get_by_text("📤 Upload", exact=True).click()
    sb.wait_for_app(page)
    photo = noise_png()
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(
        {"name": "big.png", "mimeType": "image/png", "buffer": photo})
    sb.wait_for_app(page)
    assert held_bytes(srv.url, "UploadedFileManager") >= len(photo)
    context.close()  # the student closes the tab
    deadline = time.monotonic() + TTL_S + 15
    while time.monotonic() < deadline and held_bytes(srv.url, "UploadedFileManager"):
        time.sleep(0.5)
    assert held_bytes(srv.url, "UploadedFileManager") == 0, "the closed tab's upload is still held"
    assert "Traceback" not in srv.log()
