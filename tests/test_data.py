"""Data loading: real MNIST/CIFAR-10 layouts, ImageFolder trees, the uint8 cache and the offline error."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz.datasets import data
from tests.conftest import needs_data

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # from the data set's README


def _tree(root: Path) -> dict[str, list[np.ndarray]]:
    """A tiny ImageFolder tree with mixed sizes and modes; returns the pixels written per class."""
    rng = np.random.default_rng(0)
    written: dict[str, list[np.ndarray]] = {}
    for cls in ("cat", "ant"):
        (root / "toys" / "train" / cls).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (8, 6, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "toys" / "train" / cls / f"{i}.png")
            written.setdefault(cls, []).append(pixels)
    Image.new("L", (12, 16), 200).save(root / "toys" / "train" / "cat" / "9.png")  # other size and mode
    return written


def test_image_folder_decodes_exact_pixels_and_sorted_classes(tmp_path: Path) -> None:
    written = _tree(tmp_path)
    ds = data.load("toys", "train", root=tmp_path)
    assert ds.classes == ["ant", "cat"]
    assert ds.images.shape == (7, 3, 8, 6) and ds.images.dtype == torch.uint8
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    np.testing.assert_array_equal(ds.images[0].permute(1, 2, 0).numpy(), written["ant"][0])
    assert (ds.images[6] == 200).all()  # grey image converted to RGB and resized to the first image's size


def test_image_folder_cache_is_written_in_the_cache_folder_and_reused(tmp_path: Path, monkeypatch) -> None:
    _tree(tmp_path / "data")
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "cache"))
    first = data.load("toys", "train", root=tmp_path / "data")
    assert len(list((tmp_path / "cache").glob("toys-train-*.pt"))) == 1
    assert not [p for p in (tmp_path / "data").rglob("*") if p.suffix != ".png" and p.is_file()]  # data untouched
    Image.new("RGB", (6, 8)).save(tmp_path / "data" / "toys" / "train" / "ant" / "0.png")  # an edit keeps the cache
    again = data.load("toys", "train", root=tmp_path / "data")
    assert torch.equal(first.images, again.images)
    Image.new("RGB", (6, 8)).save(tmp_path / "data" / "toys" / "train" / "ant" / "new.png")  # a new file: decode
    assert len(data.load("toys", "train", root=tmp_path / "data")) == len(first) + 1


@pytest.mark.parametrize("name", ["/elsewhere", "../elsewhere", "toys/../../elsewhere", ".hidden", "", "a" * 65])
def test_a_name_outside_the_data_folder_is_refused_before_anything_is_read(tmp_path: Path, name: str) -> None:
    outside = tmp_path / "elsewhere"
    _tree(outside)  # outside/toys/train/<class>/*.png: a tree of the right shape, outside the data folder
    (tmp_path / "data" / "inner").mkdir(parents=True)
    before = sorted(tmp_path.rglob("*"))
    name = name.replace("/elsewhere", str(outside / "toys")) if name == "/elsewhere" else name
    with pytest.raises(data.DatasetUnavailable, match="not a data set here"):
        data.load(name, "train", root=tmp_path / "data" / "inner")
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


def test_known_lists_the_torchvision_sets_and_the_folders_there_are(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert data.known(tmp_path) == ["mnist", "cifar10", "toys"]


def test_missing_data_set_names_it_the_folder_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load("cifar10", "test", root=tmp_path, download=False)
    message = str(err.value)
    assert "cifar10" in message and str(tmp_path) in message and "CNNVIZ_DATA_DIR" in message


def test_unknown_split_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        data.load("mnist", "validation", root=tmp_path)


def test_channel_stats_match_numpy() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (5, 3, 4, 4), dtype=np.uint8)
    ds = data.ImageSet("x", "train", torch.from_numpy(pixels), torch.zeros(5, dtype=torch.long), ["a"])
    mean, std = ds.channel_stats()
    expected = pixels.transpose(1, 0, 2, 3).reshape(3, -1) / 255
    np.testing.assert_allclose(mean, expected.mean(1), atol=1e-6)
    np.testing.assert_allclose(std, expected.std(1), atol=1e-5)


@needs_data("mnist")
def test_real_mnist_matches_its_readme() -> None:
    test = data.load("mnist", "test")
    assert test.images.shape == (10000, 1, 28, 28)
    assert test.class_counts() == MNIST_TEST_COUNTS
    assert test.pil(0).mode == "L"


@needs_data("cifar10")
def test_real_cifar_is_cached_outside_the_read_only_data(tmp_path: Path) -> None:
    test = data.load("cifar10", "test")
    assert test.images.shape == (10000, 3, 32, 32)
    assert test.class_counts() == [1000] * 10
    assert test.classes == list(data.CIFAR10_CLASSES)
    start = time.perf_counter()
    data.load("cifar10", "test")
    assert time.perf_counter() - start < 2.0  # served from the uint8 cache, not re-decoded
    assert "cifar10" in data.available()
