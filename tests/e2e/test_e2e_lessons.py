"""Each lesson's main interaction in a real browser: step, upload and look inside, train and stop, open a cell."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from streamlit_browser import existing_pages

PAGES = dict(existing_pages())


def needs(stem: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(stem not in PAGES, reason=f"app/lessons/{stem}.py is not written yet")


def click_next(app) -> None:
    app.page.get_by_role("button", name=re.compile(r"^Next")).click()
    app.wait()


@pytest.mark.parametrize("stem", [s for s in ("pooling", "transposed") if s in PAGES] or
                         [pytest.param("pooling", marks=pytest.mark.skip(reason="no stepped lesson but convolution"))])
def test_stepping_the_other_stepped_lessons(app, stem):
    app.open(stem)
    assert "step" not in app.query()  # the first step is the default, which a link need not spell out
    click_next(app)
    expect(app.page).to_have_url(re.compile(r"[?&]step=1(&|$)"))
    expect(app.page.get_by_role("button", name=re.compile(r"Previous"))).to_be_enabled()
    app.assert_clean()


@pytest.mark.parametrize("stem", [s for s in ("convolution", "pooling", "transposed") if s in PAGES])
def test_the_keyboard_steps_every_stepped_lesson(app, stem):
    app.open(stem)
    for key, step in (("ArrowRight", "1"), ("ArrowRight", "2"), ("ArrowLeft", "1"), ("Home", "0")):
        app.page.keyboard.press(key)
        app.wait()
        assert app.query().get("step", "0") == step, (key, app.query())
    app.page.get_by_role("button", name=re.compile(r"^Next")).click()  # focus on a button: arrows still step
    app.wait()
    app.page.keyboard.press("ArrowRight")
    app.wait()
    assert app.query().get("step") == "2"
    app.page.evaluate("document.activeElement.blur()")  # focus back on the page: Space plays
    app.page.keyboard.press(" ")
    expect(app.page.get_by_role("button", name=re.compile(r"^Pause"))).to_be_visible()
    app.page.keyboard.press(" ")
    expect(app.page.get_by_role("button", name=re.compile(r"^Play"))).to_be_visible()
    app.assert_clean()


def test_predicting_a_convolution_cell_reveals_it_once_locked_in(app):
    app.open("convolution", quiz="1")
    expect(app.page.locator("[data-grid='output'] td.cur")).to_have_text("?")  # the cell waits for an answer
    app.page.get_by_label(re.compile(r"Output cell \(0, 0\)")).fill("20")
    app.page.get_by_role("button", name=re.compile("Lock in")).click()
    app.wait()
    expect(app.page.get_by_text(re.compile(r"You said 20; cell \(0, 0\) is 24"))).to_be_visible()
    expect(app.page.locator("[data-grid='output'] td.cur")).to_have_text("24")
    app.assert_clean()


PHONE = {"width": 390, "height": 844}  # a student's phone, on the hosted copy


@pytest.mark.parametrize("stem, params", [("convolution", {"pad": "2", "rows": "3", "cols": "8"}), ("transposed", {})])
def test_a_phone_shows_every_grid_whole(app, stem, params):
    if stem not in PAGES:
        pytest.skip(f"app/lessons/{stem}.py is not written yet")
    app.open(stem, **params)
    grids = app.page.locator("table.cv-grid")
    widths = "ts => ts.map(t => t.getBoundingClientRect().width)"
    projector = grids.evaluate_all(widths)
    assert max(projector) > PHONE["width"]  # the widest grid needs to shrink to fit a phone
    app.page.set_viewport_size(PHONE)
    app.wait()
    rights = grids.evaluate_all("ts => ts.map(t => t.getBoundingClientRect().right)")
    assert max(rights) <= PHONE["width"], rights  # before, 10 cells of 44 px ran off a 390 px screen
    phone = grids.evaluate_all(widths)
    assert all(p <= w + 0.5 for p, w in zip(phone, projector))  # smaller where needed, never bigger
    cells = app.page.locator("table.cv-grid td").evaluate_all("ds => ds.map(d => d.getBoundingClientRect().width)")
    assert min(cells) >= 24  # still a number a finger can point at
    app.assert_clean()


def digit_png() -> bytes:
    """A dark 7 written on light paper, 300x300, as a phone photo of a handwritten digit would look."""
    image = Image.new("RGB", (300, 300), (235, 232, 225))
    pen = ImageDraw.Draw(image)
    pen.line([(80, 70), (220, 70), (130, 240)], fill=(30, 30, 40), width=22)
    noise = np.random.default_rng(0).integers(-6, 7, (300, 300, 3))
    pixels = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


@needs("inside")
def test_inside_a_model_reads_an_uploaded_photo_and_shows_where_it_looks(app):
    app.open("inside", model="mnist_cnn")
    app.page.get_by_text("📤 Upload", exact=True).click()
    app.wait()
    app.page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(
        {"name": "my-seven.png", "mimeType": "image/png", "buffer": digit_png()})
    app.wait()
    expect(app.page.get_by_text("300×300 pixels", exact=False).first).to_be_visible()
    says = app.page.get_by_text(re.compile(r"network says")).first
    expect(says).to_be_visible()
    assert "upload" not in str(app.query()) and "my-seven" not in app.page.url  # uploads stay out of links
    app.shot("inside_upload_feature_maps")
    expect(app.page.get_by_text("What the model sees", exact=True).first).to_be_visible()  # under its picture
    assert app.page.locator("[data-testid='stImage'] img").count() >= 3  # the input, the model's view, layer grids
    grids = app.page.locator(".st-key-layer_maps [data-testid='stImageContainer']")
    assert grids.count() >= 4 and grids.last.evaluate("e => getComputedStyle(e).contentVisibility") == "auto"
    grids.last.scroll_into_view_if_needed()  # painted once near the screen, and as big as its picture
    expect(grids.last.locator("img")).to_be_visible()
    assert grids.last.locator("img").evaluate("i => i.complete && i.naturalWidth > 0 && i.clientHeight > 20")

    app.page.get_by_role("radio", name=re.compile("Where it looks")).click()
    app.wait()
    expect(app.page.get_by_text(re.compile(r"Grad-CAM for")).first).to_be_visible()
    assert app.query()["view"] == "gradcam"

    app.page.locator("[data-testid='stSidebar'] [data-testid='stPageLink']").get_by_role("link", name="Pooling").click()
    app.page.wait_for_url(re.compile(r"/pooling"))  # the other page is in the history before Back is pressed
    app.wait()
    app.page.go_back()  # Back to the lesson: the photo, which no link holds, is still the one looked at
    expect(app.page.get_by_text(re.compile(r"Grad-CAM for")).first).to_be_visible()
    expect(app.page.get_by_text("300×300 pixels", exact=False).first).to_be_visible()
    app.assert_clean()


@needs("train")
def test_a_short_training_run_starts_shows_progress_and_stops(app):
    app.open("train", data="mnist", epochs="3", limit="2000", batch="32", sched="none")
    app.page.get_by_role("button", name=re.compile("Start training")).click()
    main = app.page.locator("[data-testid='stMain']")  # not the toolbar's own "Stop" (it stops a script run)
    stop = main.get_by_role("button", name=re.compile(r"Stop( training)?$"))
    expect(stop).to_be_visible(timeout=60_000)
    expect(app.page.get_by_text(re.compile(r"Epoch \d of 3|Starting")).first).to_be_visible(timeout=60_000)
    app.shot("train_running")
    stop.click()
    expect(app.page.get_by_text(re.compile(r"Stopped during epoch \d|Finished \d epoch")).first).to_be_visible(
        timeout=90_000)
    app.wait()
    expect(app.page.get_by_text("Test accuracy").first).to_be_visible()
    expect(app.page.get_by_role("button", name=re.compile("Start training"))).to_be_enabled()
    app.assert_clean()


@needs("evaluate")
def test_clicking_a_confusion_matrix_cell_opens_its_images(app):
    app.open("evaluate", model="mnist_cnn")
    cells = app.page.locator("[data-testid='stVegaLiteChart'] [role='graphics-symbol'][aria-label*='count:']")
    expect(cells.first).to_be_attached()
    mistakes = []  # (count, true, predicted, index) of every off-diagonal rect
    for i in range(cells.count()):
        label = cells.nth(i).get_attribute("aria-label") or ""
        m = re.search(r"count: ([\d,]+); true: (\w+); predicted: (\w+)", label)
        box = cells.nth(i).bounding_box()
        if m and m.group(2) != m.group(3) and box and box["width"] > 20:  # rects, not the text marks on them
            mistakes.append((int(m.group(1).replace(",", "")), m.group(2), m.group(3), i))
    mistakes.sort(reverse=True)
    assert len(mistakes) >= 2 and mistakes[1][0] > 0
    shown = tuple(app.page.get_by_role("combobox", name=n, exact=True).first.input_value()
                  for n in ("True class", "Predicted class"))  # the square pre-selected: the first of the most frequent
    count, true, predicted, index = next(m for m in mistakes if m[1:3] != shown)
    cells.nth(index).click(position={"x": 4, "y": 4})  # a corner: the count written on the cell covers its middle
    app.wait()
    expect(app.page).to_have_url(re.compile(rf"[?&]true={true}&pred={predicted}(&|$)|[?&]pred={predicted}&.*true={true}"))
    expect(app.page.get_by_text(re.compile(rf"{count:,} test images? of {true} taken for {predicted}"))).to_be_visible()
    app.shot("evaluate_cell_opened")
    inside = app.page.get_by_role("button", name=re.compile("Inside")).first
    expect(inside).to_be_visible()
    app.assert_clean()
