"""What it learned, in a real browser: pick a channel from the layer's tiles, open a favourite image in Inside a
model, and click a point of the projector to open its image."""
from __future__ import annotations

import re


def test_a_tile_picks_its_channel_and_a_favourite_image_opens_inside(app):
    app.open("channels", model="mnist_cnn", layer="conv1", steps="32")
    app.page.get_by_role("button", name="channel 4", exact=True).click()
    app.wait()
    assert app.query().get("ch") == "4"
    assert app.page.get_by_role("heading", name="Channel 4 of layer conv1").is_visible()
    caption = app.page.get_by_text(re.compile(r"^-?[\d.]+ · test #\d+ \(\d\)$")).first.inner_text()
    index = re.search(r"#(\d+)", caption)[1]
    app.page.get_by_role("button", name="Inside").first.click()
    app.page.wait_for_url(re.compile(r"/inside\?"))
    app.wait()
    assert app.query().get("img") == f"test:mnist:{index}" and app.query().get("model") == "mnist_cnn"
    app.assert_clean()


def test_clicking_a_point_of_the_projector_shows_its_image_and_opens_it_inside(app):
    app.open("projector", model="mnist_cnn", method="pca")
    chart = app.page.locator("[data-testid='stVegaLiteChart']").nth(1)  # the trained model's map
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    picked = app.page.get_by_text(re.compile(r"^1 image picked"))
    # points are dense in the middle of the map: try spots around it until one is a point
    for dx, dy in [(x, y) for r in range(0, 120, 6) for x, y in ((r, 0), (-r, 0), (0, r), (0, -r), (r, r))]:
        app.page.mouse.click(box["x"] + box["width"] * 0.35 + dx, box["y"] + box["height"] * 0.5 + dy)
        app.wait()
        if picked.count():
            break
    assert picked.count(), "no point of the map could be clicked"
    app.page.get_by_role("button", name="🔬").first.click()
    app.page.wait_for_url(re.compile(r"/inside\?"))
    app.wait()
    assert app.query().get("img", "").startswith("test:mnist:")
    app.assert_clean()


def test_dragging_over_a_region_of_the_map_shows_its_images(app):
    app.open("projector", model="mnist_cnn", method="pca")
    chart = app.page.locator("[data-testid='stVegaLiteChart']").nth(1)
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    x, y = box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.3
    app.page.mouse.move(x, y)
    app.page.mouse.down()
    app.page.mouse.move(x + box["width"] * 0.3, y + box["height"] * 0.4, steps=8)
    app.page.mouse.up()
    app.wait()
    heading = app.page.get_by_text(re.compile(r"^\d+ images? picked"))
    heading.wait_for()
    picked = int(heading.inner_text().split()[0])
    assert picked > 1
    assert app.page.get_by_role("button", name="🔬").count() == min(picked, 24)
    app.assert_clean()
