"""The digit-canvas generator, checked pixel by pixel against canvases rebuilt here from its own digit list."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from cnnviz.datasets import data, segments
from cnnviz.datasets.data import DatasetUnavailable, ImageSet
from tests.conftest import needs_data


def fake_digits(count: int = 200, seed: int = 0) -> ImageSet:
    """MNIST-shaped noise: every grey level (127 and 128 included) can sit anywhere in a box, edges too."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (count, 1, 28, 28), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (count,), generator=g)
    return ImageSet("fake", "train", images, labels, list(data.MNIST_CLASSES))


@pytest.fixture(scope="module")
def digits() -> ImageSet:
    return fake_digits()


@pytest.fixture(scope="module")
def canvases(digits: ImageSet) -> segments.Canvases:
    return segments.make(digits, 300, seed=3)


def test_shapes_dtypes_and_ranges(canvases: segments.Canvases) -> None:
    assert len(canvases) == 300
    assert canvases.images.shape == (300, 1, 64, 84) and canvases.images.dtype == torch.uint8
    assert canvases.masks.shape == (300, 64, 84) and canvases.masks.dtype == torch.int64
    assert canvases.masks.min() >= 0 and canvases.masks.max() <= 10
    assert canvases.classes == ("background", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
    assert set(canvases.counts.tolist()) == {1, 2, 3}


def test_boxes_lie_inside_and_never_overlap(canvases: segments.Canvases) -> None:
    for i in range(len(canvases)):
        boxes = canvases.digits(i)
        assert len(boxes) == canvases.counts[i]
        for _, (top, left, bottom, right) in boxes:
            assert 0 <= top and bottom <= 64 and 0 <= left and right <= 84 and (bottom - top, right - left) == (28, 28)
        for (_, a), (_, b) in itertools.combinations(boxes, 2):
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (i, a, b)
    unused = canvases.labels < 0
    assert (canvases.sources[unused] == -1).all() and (canvases.boxes[unused] == -1).all()


def test_pixels_and_labels_follow_the_pasted_digits(digits: ImageSet, canvases: segments.Canvases) -> None:
    for i in range(len(canvases)):
        image = np.zeros((64, 84), dtype=np.uint8)
        strokes: list[tuple[int, np.ndarray]] = []  # (digit, where its stroke is on the canvas)
        for slot in range(int(canvases.counts[i])):
            source, (top, left) = int(canvases.sources[i, slot]), canvases.boxes[i, slot].tolist()
            label = int(digits.labels[source])
            assert canvases.labels[i, slot] == label
            pasted = np.zeros((64, 84), dtype=np.uint8)
            pasted[top:top + 28, left:left + 28] = digits.images[source, 0].numpy()
            image = np.maximum(image, pasted)
            strokes.append((label, pasted >= 128))
        mask = canvases.masks[i].numpy()
        assert (canvases.images[i, 0].numpy() == image).all()
        for y, x in zip(*np.nonzero(mask)):  # a labelled pixel is a stroke of a digit of that label
            assert any(s[y, x] and d == mask[y, x] - 1 for d, s in strokes), (i, y, x)
        for k, (d, stroke) in enumerate(strokes):  # a stroke no other digit's stroke covers carries its label
            others = np.zeros_like(stroke)
            for j, (_, s) in enumerate(strokes):
                if j != k:
                    others |= s
            assert (mask[stroke & ~others] == d + 1).all()
        assert (mask[~np.any([s for _, s in strokes], axis=0)] == 0).all()


def test_the_same_seed_makes_the_same_set_and_another_seed_another(digits: ImageSet) -> None:
    a, b, c = segments.make(digits, 50, seed=1), segments.make(digits, 50, seed=1), segments.make(digits, 50, seed=2)
    for field in ("images", "masks", "labels", "boxes", "sources"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.images, c.images) and not torch.equal(a.boxes, c.boxes)


def test_class_shares_count_pixels_and_sum_to_one(canvases: segments.Canvases) -> None:
    shares = segments.class_shares(canvases.masks)
    masks = canvases.masks.numpy()
    assert shares.shape == (11,) and shares.sum() == pytest.approx(1.0)
    assert shares == pytest.approx([(masks == k).mean() for k in range(11)])


@needs_data("mnist")
@pytest.mark.data
@pytest.mark.parametrize("split", ["train", "test"])
def test_each_split_pastes_its_own_mnist_digits(split: str) -> None:
    canvases, mnist = segments.load(split, count=40, seed=5), data.load("mnist", split)
    assert canvases.split == split and len(canvases) == 40
    for i in range(len(canvases)):
        for slot in range(int(canvases.counts[i])):
            source, (top, left) = int(canvases.sources[i, slot]), canvases.boxes[i, slot].tolist()
            assert torch.equal(canvases.images[i, 0, top:top + 28, left:left + 28], mnist.images[source, 0])
            assert canvases.labels[i, slot] == mnist.labels[source]
    assert canvases.sources.max() >= 10_000 if split == "train" else canvases.sources.max() < 10_000


def test_missing_mnist_raises_the_data_modules_error(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_DOWNLOAD", "0")
    with pytest.raises(DatasetUnavailable, match="mnist"):
        segments.load("test", count=5, root=tmp_path)
