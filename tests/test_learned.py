"""cnnviz.results.learned: the disk caches of top examples and embeddings, keyed by the checkpoint's bytes."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.datasets import explore
from cnnviz.datasets.data import ImageSet
from cnnviz.inside import embedding, featurevis
from cnnviz.results import learned

MEAN, STD = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]


def tiny_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(3, 4, 3, padding=1), relu=nn.ReLU(), pool=nn.MaxPool2d(2), flatten=nn.Flatten(),
        fc1=nn.Linear(4 * 4 * 4, 6), relu2=nn.ReLU(), fc2=nn.Linear(6, 3))).eval()


def image_set(n: int = 37) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 3
    return ImageSet("tiny", "test", images, labels, ["a", "b", "c"])


class Loader:
    """Counts its calls; the checkpoint path is only a key, the model is always the tiny one."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path: Path) -> tuple[nn.Module, dict]:
        self.calls += 1
        return tiny_net(), {"mean": MEAN, "std": STD}


@pytest.fixture
def checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "cache"))
    file = tmp_path / "model.pt"
    file.write_bytes(b"weights v1")
    return file


def assert_same(a: featurevis.TopExamples, b: featurevis.TopExamples) -> None:
    assert a.layer == b.layer and a.lowest == b.lowest
    for field in ("values", "indices", "positions"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field


def test_layer_examples_are_top_examples_of_the_normalised_set_in_any_batch_size() -> None:
    data = image_set()
    x = explore.normalise(data.images, MEAN, STD)
    high, low = learned.layer_examples(tiny_net(), data, "conv", MEAN, STD, k=5, batch_size=8)
    assert_same(high, featurevis.top_examples(tiny_net(), "conv", x, k=5))
    assert_same(low, featurevis.top_examples(tiny_net(), "conv", x, k=5, lowest=True))


def test_a_cache_hit_returns_equal_arrays_without_loading_the_model(checkpoint: Path) -> None:
    data, load, seen = image_set(), Loader(), []
    first = learned.cached_layer_examples(checkpoint, data, "conv", load, k=4, batch_size=10, progress=seen.append)
    assert load.calls == 1 and learned.examples_file(checkpoint, data, "conv", 4).is_file()
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 4  # one step per batch, then done
    again = learned.cached_layer_examples(checkpoint, data, "conv", load, k=4)
    assert load.calls == 1
    for a, b in zip(first, again):
        assert_same(a, b)
    other = learned.cached_layer_examples(checkpoint, data, featurevis.OUTPUT, load, k=4)  # another layer, k
    assert load.calls == 2 and other[0].values.shape == (3, 4)


@pytest.mark.parametrize("damage", [lambda b: b"not an npz", lambda b: b[: len(b) // 2], lambda b: b""])
def test_a_damaged_cache_file_is_recomputed(checkpoint: Path, damage) -> None:
    data, load = image_set(), Loader()
    first = learned.cached_layer_examples(checkpoint, data, "conv", load, k=3)
    file = learned.examples_file(checkpoint, data, "conv", 3)
    file.write_bytes(damage(file.read_bytes()))
    again = learned.cached_layer_examples(checkpoint, data, "conv", load, k=3)
    assert load.calls == 2
    for a, b in zip(first, again):
        assert_same(a, b)
    assert learned.cached_layer_examples(checkpoint, data, "conv", load, k=3) and load.calls == 2  # rewritten


def test_the_key_changes_with_the_checkpoint_bytes_not_its_name(checkpoint: Path) -> None:
    data = image_set()
    before = learned.examples_file(checkpoint, data, "conv", 9), learned.embedding_file(checkpoint, data, 0)
    copy = checkpoint.with_name("renamed.pt")
    copy.write_bytes(checkpoint.read_bytes())
    assert (learned.examples_file(copy, data, "conv", 9), learned.embedding_file(copy, data, 0)) == before
    checkpoint.write_bytes(b"weights v2")  # retrained
    after = learned.examples_file(checkpoint, data, "conv", 9), learned.embedding_file(checkpoint, data, 0)
    assert after[0] != before[0] and after[1] != before[1]
    assert learned.examples_file(checkpoint, data, "fc2", 9) != after[0]
    assert learned.embedding_file(checkpoint, data, 1) != after[1]


def test_embedding_holds_projections_answers_and_separations(checkpoint: Path) -> None:
    data, load, seen = image_set(40), Loader(), []
    got = learned.cached_embedding(checkpoint, data, load, progress=seen.append)
    x = explore.normalise(data.images, MEAN, STD)
    feats = embedding.penultimate(tiny_net(), x)
    with torch.no_grad():
        preds = tiny_net()(x).argmax(1).numpy()
    np.testing.assert_allclose(got.pca, embedding.pca(feats), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got.tsne, embedding.tsne(feats, 0))
    np.testing.assert_array_equal(got.labels, data.labels.numpy())
    np.testing.assert_array_equal(got.preds, preds)
    assert got.separation == pytest.approx({"features": embedding.separation(feats, data.labels),
                                            "pca": embedding.separation(got.pca, data.labels),
                                            "tsne": embedding.separation(got.tsne, data.labels)})
    assert seen == [learned.FEATURES_SHARE, 1.0]
    again = learned.cached_embedding(checkpoint, data, load)
    assert load.calls == 1
    for field in ("pca", "tsne", "labels", "preds"):
        np.testing.assert_array_equal(getattr(again, field), getattr(got, field))
    assert again.separation == got.separation


def test_a_damaged_embedding_is_recomputed(checkpoint: Path) -> None:
    data, load = image_set(30), Loader()
    first = learned.cached_embedding(checkpoint, data, load)
    file = learned.embedding_file(checkpoint, data, 0)
    file.write_bytes(file.read_bytes()[:100])
    again = learned.cached_embedding(checkpoint, data, load)
    assert load.calls == 2
    np.testing.assert_array_equal(again.tsne, first.tsne)
