"""Teaching new classes on a frozen trunk (cnnviz.training.teach): hold-out, head, checkpoint, validation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import models
from cnnviz.inside import features
from cnnviz.training import teach
from cnnviz.training.runs import list_runs

BASE = "cifar_cnn_plus"
pytestmark = pytest.mark.skipif(not models.ZOO[BASE].checkpoint.is_file(), reason=f"{BASE} not trained yet")


def squares(per_class: int = 12, seed: int = 0, side: int = 40) -> list[teach.Picture]:
    """Red, green and blue noisy squares: three classes a photo network's features tell apart."""
    rng = np.random.default_rng(seed)
    pictures = []
    for c in range(3):
        for _ in range(per_class):
            pixels = rng.uniform(0, 90, (side, side, 3))
            pixels[..., c] += 150
            pictures.append((Image.fromarray(pixels.clip(0, 255).astype(np.uint8)), c))
    return pictures


def taught(pictures: list[teach.Picture] | None = None, **kwargs) -> teach.Taught:
    e = models.ZOO[BASE]
    return teach.teach(pictures or squares(), ["red", "green", "blue"], models.load(BASE), models.transform(BASE),
                       list(e.mean), list(e.std), **kwargs)


@pytest.fixture(scope="module")
def rgb() -> teach.Taught:
    return taught()


def test_tiny_synthetic_classes_reach_their_hold_out_accuracy(rgb: teach.Taught) -> None:
    assert rgb.test_acc >= 0.9 and rgb.train_acc >= 0.9
    assert len(rgb.test) == 9 and len(rgb.train) == 27  # a quarter of each class's 12 held out
    confusion = np.array(rgb.confusion)
    assert confusion.sum() == 9 and confusion.sum(1).tolist() == [3, 3, 3]
    assert np.trace(confusion) / 9 == pytest.approx(rgb.test_acc)


def test_the_model_is_the_base_trunk_and_a_new_head(rgb: teach.Taught) -> None:
    base = models.load(BASE)
    convs = features.conv_layers(rgb.model)
    assert convs and all(c.startswith("trunk.") for c in convs)  # the real conv layers, for Grad-CAM and the maps
    assert rgb.model.head.out_features == 3
    trunk = rgb.model.trunk.state_dict()
    shared = {k: v for k, v in base.state_dict().items() if k in trunk}
    assert len(shared) == len(trunk) and all(torch.equal(trunk[k], v) for k, v in shared.items())  # frozen


def test_the_answers_equal_the_model_run_on_the_held_out_pictures(rgb: teach.Taught) -> None:
    e = models.ZOO[BASE]
    held = rgb.split("test")
    logits = features.logits(rgb.model, held.images, list(e.mean), list(e.std))
    answers = logits.argmax(1)
    oracle = np.zeros((3, 3), dtype=int)
    for t, q in zip(held.labels.tolist(), answers.tolist()):
        oracle[t, q] += 1
    assert oracle.tolist() == rgb.confusion
    assert float(nn.functional.cross_entropy(logits, held.labels)) == pytest.approx(rgb.test_loss, rel=1e-4)


def test_the_hold_out_is_stratified_seeded_and_never_a_whole_class() -> None:
    labels = torch.tensor([0] * 2 + [1] * 5 + [2] * 20)
    train, test = teach.stratified_split(labels, 0.25, seed=3)
    assert torch.bincount(labels[test]).tolist() == [1, 1, 5]  # round(0.5) -> at least one; round(1.25); 5
    assert torch.bincount(labels[train]).tolist() == [1, 4, 15]
    assert sorted(torch.cat([train, test]).tolist()) == list(range(27))
    again = teach.stratified_split(labels, 0.25, seed=3)
    assert torch.equal(again[1], test) and not torch.equal(teach.stratified_split(labels, 0.25, seed=4)[1], test)


def test_the_saved_checkpoint_reloads_and_answers_the_same(rgb: teach.Taught) -> None:
    e = models.ZOO[BASE]
    run, saved = teach.save(rgb, BASE, e.input_shape, list(e.mean), list(e.std), owner="abc", title="rgb")
    model, meta = models.load_file(run.checkpoint)
    assert meta["arch"] == "transfer" and meta["arch_args"] == {"base": BASE, "classes": 3}
    assert meta["classes"] == ["red", "green", "blue"] and meta["dataset"] == teach.MINE + run.name
    assert saved.pictures.name == meta["dataset"]
    spec = models.spec(str(run.checkpoint), meta)
    assert spec.input_shape == e.input_shape and spec.mean == e.mean and spec.untrained().head.out_features == 3
    x = torch.stack([models.transform(BASE)(p) for p, _ in squares(3, seed=9)])
    assert torch.allclose(features.probabilities(model, x), features.probabilities(rgb.model, x), atol=1e-6)
    assert [r.info()["owner"] for r in list_runs()] == ["abc"]


def test_another_base_works_too() -> None:
    e = models.ZOO["cifar_cnn"]
    got = teach.teach(squares(6), ["r", "g", "b"], models.load("cifar_cnn"), models.transform("cifar_cnn"),
                      list(e.mean), list(e.std))
    assert got.model.head.in_features == 64 and got.test_acc >= 0.9


def test_progress_is_reported_up_to_done() -> None:
    heard: list[float] = []
    taught(squares(4), progress=heard.append)
    assert heard == sorted(heard) and heard[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("names, counts, says", [
    (["only"], [3], "between 2 and 5"),
    (["a", "b", "c", "d", "e", "f"], [2] * 6, "between 2 and 5"),
    (["a", " "], [2, 2], "needs a name"),
    (["Cat", "cat "], [2, 2], "same name"),
    (["a", "b", "c"], [2, 1, 2], "b has fewer"),
    (["a", "b", "c"], [2, 0, 0], "b, c have fewer"),
])
def test_what_cannot_be_taught_is_refused_with_a_reason(names, counts, says) -> None:
    pictures = [(Image.new("RGB", (8, 8)), c) for c, n in enumerate(counts) for _ in range(n)]
    with pytest.raises(ValueError, match=says):
        teach.check(names, pictures)
    with pytest.raises(ValueError, match=says):
        teach.teach(pictures, names, nn.Sequential(nn.Flatten(), nn.Linear(192, 2)), lambda p: torch.zeros(3, 8, 8),
                    [0.0] * 3, [1.0] * 3)
