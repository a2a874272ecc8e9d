"""Teach it your classes in a browser: pictures uploaded to each class, Train, the hold-out result, no traceback;
on a projector and on a phone."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect
from streamlit_browser import existing_pages

pytestmark = pytest.mark.skipif("teach" not in dict(existing_pages()), reason="no Teach page")
SCREENS = {"projector": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
UPLOADERS = "[data-testid='stFileUploader'] input[type='file']"


def photos(colour: int, count: int = 6) -> list[dict]:
    """`count` noisy PNG photos that are mostly red (0), green (1) or blue (2), as a browser uploads them."""
    rng = np.random.default_rng(colour)
    files = []
    for i in range(count):
        pixels = rng.uniform(0, 90, (120, 160, 3))
        pixels[..., colour] += 150
        out = io.BytesIO()
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(out, "PNG")
        files.append({"name": f"shot-{colour}-{i}.png", "mimeType": "image/png", "buffer": out.getvalue()})
    return files


@pytest.mark.parametrize("screen", list(SCREENS))
def test_uploaded_classes_train_and_show_their_hold_out_accuracy(app, screen):
    app.page.set_viewport_size(SCREENS[screen])
    app.open("teach")
    expect(app.page.get_by_text("Your pictures stay in this tab: close it and they are gone")).to_be_visible()
    for colour in range(3):
        app.page.locator(UPLOADERS).nth(colour).set_input_files(photos(colour))
        app.wait()
    expect(app.page.get_by_text("6 pictures", exact=True)).to_have_count(3)
    app.page.get_by_role("button", name=re.compile("Train")).click()
    app.wait()
    expect(app.page.get_by_text("Hold-out accuracy")).to_be_visible()
    expect(app.page.get_by_text(re.compile("Open it in Inside a model"))).to_be_attached()
    app.assert_clean()
