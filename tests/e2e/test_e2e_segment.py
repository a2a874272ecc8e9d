"""The segmentation lesson in a real browser: a test canvas, digits drawn on the pad, an upload, and a phone."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

import models

pytestmark = pytest.mark.skipif(not models.ZOO["unet"].checkpoint.is_file(), reason="the U-Net is not trained yet")


def digits_png() -> bytes:
    """A photo-like picture of '1 7' in dark pen on white paper, a little noisy."""
    paper = Image.new("L", (420, 320), 250)
    pen = ImageDraw.Draw(paper)
    pen.line([(120, 90), (120, 230)], fill=20, width=16)                       # a 1
    pen.line([(220, 90), (300, 90), (250, 230)], fill=20, width=16)            # a 7
    noise = np.random.default_rng(0).integers(-8, 9, (320, 420))
    out = io.BytesIO()
    Image.fromarray(np.clip(np.asarray(paper, dtype=np.int16) + noise, 0, 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_a_test_canvas_drawn_digits_and_an_upload_are_all_labelled(app):
    app.open("segment", canvas="12")
    expect(app.page.get_by_text(re.compile(r"What it sees in test canvas 12 \(digits"))).to_be_visible()
    expect(app.page.get_by_text(re.compile(r"wrong pixels in red: \d+ of 5,376"))).to_be_visible()
    expect(app.page.get_by_text(re.compile(r"Mean IoU on this canvas: \d+%"))).to_be_visible()

    app.page.get_by_text(re.compile("Draw digits")).click()
    app.wait()
    pad = app.page.locator("[data-testid='stBidiComponentIsolated'] canvas").last  # in the pad's shadow root
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.25
    app.page.mouse.move(x, y)
    app.page.mouse.down()
    app.page.mouse.move(x, y + box["height"] * 0.5, steps=10)  # a 1, half the pad tall
    app.page.mouse.up()
    app.wait()
    expect(app.page.get_by_text("What it sees in your drawing")).to_be_visible()
    expect(app.page.get_by_text(re.compile("no answer key"))).to_be_visible()

    app.page.get_by_text(re.compile("Upload a picture")).first.click()
    app.wait()
    app.page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(
        {"name": "one-seven.png", "mimeType": "image/png", "buffer": digits_png()})
    app.wait()
    expect(app.page.get_by_text(re.compile("What it sees in your picture"))).to_be_visible()
    assert "one-seven" not in app.page.url  # uploads stay out of links
    app.assert_clean()


def test_on_a_phone_the_pictures_and_the_link_back_to_the_transposed_lesson_fit(app):
    app.page.set_viewport_size({"width": 390, "height": 844})
    app.open("segment", canvas="5")
    pictures = app.page.locator("[data-testid='stImage'] img")
    expect(pictures.first).to_be_visible()
    assert pictures.first.evaluate("i => i.getBoundingClientRect().right") <= 390
    link = app.page.get_by_role("link", name=re.compile("How a transposed convolution paints"))
    link.scroll_into_view_if_needed()
    expect(link).to_be_visible()
    wide = app.page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollWidth")
    assert wide <= 392, wide  # nothing pushes the page sideways
    app.assert_clean()
