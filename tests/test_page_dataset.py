"""The Dataset explorer under AppTest: a small ImageFolder set made here, MNIST when present, and no data."""
from __future__ import annotations

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, needs_data

PAGE = "lessons/dataset.py"  # relative to app/main.py
# class -> (RGB colour of every pixel, training images, test images)
TOY = {"apple": ((255, 0, 0), 20, 4), "kiwi": ((0, 255, 0), 10, 3), "sky": ((0, 0, 255), 30, 5)}


@pytest.fixture
def fresh_caches():
    """The explorer caches splits by data set name; each test starts and ends without them."""
    from app import state

    for f in (state.dataset, state.explore_splits):
        f.clear()
    yield
    for f in (state.dataset, state.explore_splits):
        f.clear()


def app(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=180)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.switch_page(PAGE)


def make_toy(root) -> None:
    for name, (colour, n_train, n_test) in TOY.items():
        for split, n in (("train", n_train), ("test", n_test)):
            folder = root / "toy" / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (8, 8), colour).save(folder / f"{i}.png")


def test_an_image_folder_set(tmp_path, monkeypatch, fresh_caches) -> None:
    make_toy(tmp_path)
    monkeypatch.setenv("CNNVIZ_DATA_DIR", str(tmp_path))
    at = app().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="ds").options == ["toy", "Digit canvases (M2NIST-style, for segmentation)"]  # made here
    # 60 training images, 10% (6) held out for validation, 12 test images
    assert any(m.value == "**train**: 54 images · **validation**: 6 images · **test**: 12 images" for m in at.markdown)
    assert any("unbalanced" in w.value for w in at.warning)  # 30 sky against 10 kiwi
    stats = at.dataframe[0].value.set_index("channel")
    # every image is one flat colour (apple red, kiwi green, sky blue), so a channel's mean over the training
    # part is the share of its class there; that part leaves out the seeded 10% that training holds out
    import torch

    from cnnviz.datasets import data

    labels = data.load("toy", "train").labels
    kept = torch.randperm(60, generator=torch.Generator().manual_seed(0))[6:]
    share = (torch.bincount(labels[kept], minlength=3).double() / 54).tolist()
    assert stats["mean"].tolist() == pytest.approx(share, abs=1e-6)
    assert stats["std"].tolist() == pytest.approx([(m * (1 - m)) ** 0.5 for m in share], abs=1e-4)
    assert len(at.get("image")) == 4  # one per class, random rows, normalisation grid, legend
    assert [b.label for b in at.download_button] == ["⬇ Channel statistics (CSV)"]

    at.selectbox(key="cls").set_value("kiwi").run()
    at.slider(key="per_class").set_value(5).run()
    at.radio(key="split").set_value("test").run()
    assert not at.exception, at.exception
    assert (at.query_params["cls"], at.query_params["per_class"], at.query_params["split"]) == ("kiwi", "5", "test")


def test_new_random_images_change_the_seed_in_the_link(tmp_path, monkeypatch, fresh_caches) -> None:
    make_toy(tmp_path)
    monkeypatch.setenv("CNNVIZ_DATA_DIR", str(tmp_path))
    at = app({"seed": "4"}).run()
    assert at.session_state["seed"] == 4
    next(b for b in at.button if "New random" in b.label).click().run()
    assert at.session_state["seed"] == 5 and at.query_params["seed"] == "5"


def test_no_data_says_how_to_get_it(tmp_path, monkeypatch, fresh_caches) -> None:
    monkeypatch.setenv("CNNVIZ_DATA_DIR", str(tmp_path))
    at = app().run()
    assert not at.exception, at.exception
    assert any("CNNVIZ_DATA_DIR" in i.value for i in at.info)


@needs_data("mnist")
@pytest.mark.data
def test_mnist(fresh_caches) -> None:
    at = app({"ds": "mnist"}).run()
    assert not at.exception, at.exception
    assert any(m.value == "**train**: 54,000 images · **validation**: 6,000 images · **test**: 10,000 images"
               for m in at.markdown)
    stats = at.dataframe[0].value
    assert stats["channel"].tolist() == ["grey"]
    assert stats["mean"].iloc[0] == pytest.approx(0.1307, abs=1e-3)
    assert not at.warning  # MNIST's classes are balanced enough
