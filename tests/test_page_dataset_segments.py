"""The digit canvases in the Dataset explorer: the explorer's tables of hand-made canvases checked by hand and
against torch, then the page under AppTest on the real canvases and without MNIST."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from cnnviz.datasets import explore, segments
from tests.conftest import ROOT, needs_data

PAGE = "lessons/dataset.py"  # relative to app/main.py
NAME = "Digit canvases (M2NIST-style, for segmentation)"


def tiny() -> segments.Canvases:
    """Two 2 x 3 canvases: the first holds digits 7 and 0, the second digit 2 alone."""
    images = torch.tensor([[[[0, 200, 255], [10, 0, 130]]], [[[0, 0, 0], [255, 140, 0]]]], dtype=torch.uint8)
    masks = torch.tensor([[[0, 8, 8], [0, 0, 1]], [[0, 0, 0], [3, 3, 0]]])  # label d + 1 for digit d
    labels = torch.tensor([[7, 0, -1], [2, -1, -1]])
    boxes = torch.tensor([[[0, 0], [0, 0], [-1, -1]], [[0, 0], [-1, -1], [-1, -1]]])
    return segments.Canvases("train", images, masks, labels, boxes, torch.where(labels >= 0, 0, -1))


def test_pixel_shares_count_every_class_of_every_split() -> None:
    shares = explore.pixel_shares({"train": tiny()}).set_index("class")
    # 12 pixels: background 7, digit 7 two, digit 0 one, digit 2 two; every other digit none
    assert shares.loc["background", "share"] == pytest.approx(7 / 12)
    assert shares.loc[["7", "0", "2"], "pixels"].tolist() == [2, 1, 2]
    assert shares["pixels"].sum() == 12 and shares.loc[["1", "9"], "share"].tolist() == [0, 0]


def test_digits_per_canvas_is_a_class_counts_table() -> None:
    counts = explore.digits_per_canvas({"train": tiny(), "test": tiny()})
    assert list(counts.columns) == ["split", "class", "class_index", "count"]
    train = counts[counts["split"] == "train"]
    assert train["class"].tolist() == ["1 digit", "2 digits", "3 digits"]
    assert train["count"].tolist() == [1, 1, 0]


def test_pixel_stats_match_torch() -> None:
    images = torch.randint(0, 256, (5, 1, 7, 9), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    x = images.double() / 255
    assert explore.pixel_stats(images) == pytest.approx((float(x.mean()), float(x.std(unbiased=False))), abs=1e-12)
    assert explore.pixel_stats(tiny().images) == pytest.approx((990 / 255 / 12, float((tiny().images.double() / 255)
                                                                                     .std(unbiased=False))))


@pytest.mark.parametrize("view", explore.VIEWS)
def test_canvas_picture_shows_the_canvas_its_mask_or_both(view: str) -> None:
    canvases = tiny()
    picture = explore.canvas_picture(canvases, 0, view, scale=3)
    assert picture.size == (9, 6)  # (width, height), three times the canvas
    pixels = np.asarray(picture)[::3, ::3]  # one screen pixel of each canvas pixel
    grey = canvases.images[0, 0].numpy()
    expected = {"image": np.repeat(grey[..., None], 3, -1), "mask": segments.PALETTE[canvases.masks[0].numpy()],
                "both": np.asarray(segments.overlay(canvases.images[0], canvases.masks[0]))}[view]
    assert (pixels == expected).all()
    if view == "mask":
        assert pixels[0, 1].tolist() == [127, 127, 127]  # digit 7 (label 8): tab10's grey
        assert pixels[1, 2].tolist() == [31, 119, 180]  # digit 0 (label 1): tab10's blue


def test_canvas_picture_refuses_an_unknown_view() -> None:
    with pytest.raises(ValueError, match="view must be one of"):
        explore.canvas_picture(tiny(), 0, "edges")


def test_random_canvases_are_distinct_seeded_and_capped() -> None:
    drawn = explore.random_canvases(100, 12, seed=5)
    assert len(set(drawn.tolist())) == 12 and drawn.max() < 100
    assert drawn.tolist() == explore.random_canvases(100, 12, seed=5).tolist()
    assert sorted(explore.random_canvases(3, 12).tolist()) == [0, 1, 2]


def test_the_explorer_names_the_zoo_data_set() -> None:
    import models

    assert models.ZOO["unet"].dataset == explore.SEGMENTATION


# ---- the page ---------------------------------------------------------------------------------------------------
def app(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=240)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.switch_page(PAGE)


def captions(at: AppTest) -> list[str]:
    """The caption under each canvas shown, in order."""
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


@pytest.fixture
def no_canvases():
    """The page caches the canvases for every session; a test without MNIST must not find them made."""
    from app import state

    for f in (state.canvases, state.canvas_tables):
        f.clear()
    yield
    for f in (state.canvases, state.canvas_tables):
        f.clear()


def test_without_mnist_the_canvases_say_what_they_need(tmp_path, monkeypatch, no_canvases) -> None:
    from tests.test_page_dataset import make_toy

    make_toy(tmp_path)  # a data folder with an image set but no MNIST
    monkeypatch.setenv("CNNVIZ_DATA_DIR", str(tmp_path))
    at = app({"ds": "m2nist"}).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="ds").value == "m2nist"
    message = at.error[0].value
    assert "made here from MNIST" in message and "CNNVIZ_DATA_DIR" in message and str(tmp_path) in message
    assert not at.get("image") and not at.dataframe


@needs_data("mnist")
@pytest.mark.data
def test_the_canvases_page_shows_what_the_canvases_hold() -> None:
    at = app({"ds": "m2nist"}).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="ds").options[-1] == NAME
    train, test = segments.load("train"), segments.load("test")
    assert any(m.value == f"**train**: {len(train):,} canvases · **test**: {len(test):,} canvases, each 84 × 64 grey "
               "pixels" for m in at.markdown)
    assert (len(train), len(test)) == (10_000, 2_000)

    background = float((train.masks == 0).double().mean())  # counted here, not by class_shares
    assert 0.95 < background < 0.97
    assert f"right on {background:.1%} of the pixels" in at.info[0].value
    assert f"background is {float((test.masks == 0).double().mean()):.1%}" in " ".join(c.value for c in at.caption)
    x = train.images.double() / 255
    stats = at.dataframe[0].value
    assert stats["mean"].iloc[0] == pytest.approx(float(x.mean()), abs=1e-6)
    assert stats["std"].iloc[0] == pytest.approx(float(x.std()), abs=1e-6)
    assert stats["mean"].iloc[0] == pytest.approx(0.0382, abs=1e-4)  # what models/train_unet.py normalises with

    # twelve canvases of sample 0, each captioned with the digits pasted on it, and the colours they are drawn in
    assert captions(at) == expected_captions(train, seed=0)
    legend = next(h.proto.body for h in at.get("html") if "background" in h.proto.body)
    for name, colour in zip(segments.CLASSES, segments.PALETTE):
        assert f"rgb{tuple(int(c) for c in colour)}" in legend and f"</span>{name}</span>" in legend

    assert [o for r in at.radio if r.key == "split" for o in r.options] == ["train", "test"]  # no validation part
    at.segmented_control(key="show").set_value("mask").run()
    at.radio(key="split").set_value("test").run()
    assert not at.exception, at.exception
    assert (at.query_params["ds"], at.query_params["show"], at.query_params["split"]) == ("m2nist", "mask", "test")
    assert captions(at) == expected_captions(test, seed=0)
    next(b for b in at.button if "New random" in b.label).click().run()
    assert at.query_params["seed"] == "1" and captions(at) == expected_captions(test, seed=1)


def expected_captions(canvases: segments.Canvases, seed: int) -> list[str]:
    """The captions of sample `seed`: its canvases drawn here with NumPy, their digits read from the labels."""
    chosen = np.random.default_rng(seed).choice(len(canvases), size=12, replace=False)
    digits = [canvases.labels[i][canvases.labels[i] >= 0].tolist() for i in chosen]
    return [f"digit{'s' if len(d) > 1 else ''} {', '.join(map(str, d))}" for d in digits]
