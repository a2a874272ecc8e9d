"""Evaluation on a model whose every prediction is arranged by hand, the disk cache, and a real checkpoint."""
from __future__ import annotations

import io
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import models
from cnnviz.datasets.data import ImageSet
from cnnviz.results import evaluation, export
from cnnviz.training import checkpoint, train
from tests.conftest import needs_data

CLASSES = ["cat", "dog", "fox"]
# (true class, A's prediction, A's margin in tenths, B's prediction, B's margin in tenths) per test image
ARRANGED = [
    (0, 0, 30, 0, 20),   # 0 both right
    (0, 1, 20, 0, 10),   # 1 A wrong, B right
    (0, 0, 5, 2, 30),    # 2 A right (unsure), B wrong
    (1, 1, 25, 1, 25),   # 3 both right
    (1, 2, 40, 2, 10),   # 4 both wrong, same answer; A's most confident mistake
    (1, 1, 10, 0, 15),   # 5 A right, B wrong
    (2, 2, 15, 2, 5),    # 6 both right
    (2, 0, 10, 1, 20),   # 7 both wrong, different answers
    (2, 2, 35, 2, 30),   # 8 both right
    (0, 1, 30, 1, 30),   # 9 both wrong, same answer
]


class Arranged(nn.Module):
    """Reads its answer from the image: pixel (slot, 0) is the class, pixel (slot, 1) ten times the margin.

    Logits are margin * one_hot(class) + bias, so the confidence is e^m / (e^m + K - 1) while bias is zero.
    """

    def __init__(self, slot: int = 0) -> None:
        super().__init__()
        self.slot = slot
        self.bias = nn.Parameter(torch.zeros(len(CLASSES)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 1, 2, 2) = pixel / 255 (mean 0, std 1)
        pixels = (x[:, 0, self.slot] * 255).round()  # (B, 2)
        cls, margin = pixels[:, 0].long(), pixels[:, 1] / 10
        return nn.functional.one_hot(cls, len(CLASSES)).float() * margin[:, None] + self.bias


def arranged_data() -> ImageSet:
    images = torch.zeros(len(ARRANGED), 1, 2, 2, dtype=torch.uint8)
    for i, (_, a, ma, b, mb) in enumerate(ARRANGED):
        images[i, 0] = torch.tensor([[a, ma], [b, mb]])
    labels = torch.tensor([row[0] for row in ARRANGED])
    return ImageSet("arranged", "test", images, labels, CLASSES)


def conf(margin_tenths: int) -> float:
    m = margin_tenths / 10
    return math.exp(m) / (math.exp(m) + len(CLASSES) - 1)


MEAN, STD = [0.0], [1.0]


@pytest.fixture
def pa() -> evaluation.Predictions:
    return evaluation.predict(Arranged(0), arranged_data(), MEAN, STD)


@pytest.fixture
def pb() -> evaluation.Predictions:
    return evaluation.predict(Arranged(1), arranged_data(), MEAN, STD)


def indices(frame) -> list[int]:
    return frame["index"].tolist()


def test_predictions_follow_the_arrangement(pa: evaluation.Predictions) -> None:
    assert pa.preds.tolist() == [row[1] for row in ARRANGED]
    assert pa.confidence == pytest.approx([conf(row[2]) for row in ARRANGED], rel=1e-5)
    assert pa.accuracy == pytest.approx(6 / 10)
    # cross-entropy by hand: -log p(true), p(true) = conf when right, 1 / (e^m + 2) when wrong
    by_hand = np.mean([-math.log(conf(m)) if t == a else -math.log(1 / (math.exp(m / 10) + 2))
                       for t, a, m, _, _ in ARRANGED])
    assert pa.loss == pytest.approx(by_hand, rel=1e-5)
    loss, acc, preds = train.evaluate(Arranged(0), arranged_data(), MEAN, STD)
    assert (pa.loss, pa.accuracy) == pytest.approx((loss, acc), rel=1e-6)
    assert pa.preds.tolist() == preds.tolist()


def test_confusion_matrix_and_per_class_accuracy(pa: evaluation.Predictions) -> None:
    assert evaluation.confusion(pa).tolist() == [[2, 2, 0], [0, 2, 1], [1, 0, 2]]
    shares = evaluation.confusion(pa, normalise=True)
    assert np.allclose(shares, [[0.5, 0.5, 0], [0, 2 / 3, 1 / 3], [1 / 3, 0, 2 / 3]])
    frame = evaluation.confusion_frame(pa)
    assert len(frame) == 9 and frame["count"].sum() == 10
    row = frame[(frame["true"] == "dog") & (frame["predicted"] == "fox")].iloc[0]
    assert (row["count"], row["share"]) == (1, pytest.approx(1 / 3))
    per_class = evaluation.per_class_accuracy(pa)
    assert per_class["class"].tolist() == ["cat", "dog", "fox"]  # worst first; dog and fox tie, by name
    assert per_class["accuracy"].tolist() == pytest.approx([0.5, 2 / 3, 2 / 3])
    assert per_class["total"].tolist() == [4, 3, 3]


def test_confusion_grid_reads_back_from_its_csv(pa: evaluation.Predictions) -> None:
    grid = pd.read_csv(io.BytesIO(export.csv(evaluation.confusion_grid(evaluation.confusion(pa), CLASSES))))
    assert list(grid.columns) == ["true \\ predicted", *CLASSES] and grid.iloc[:, 0].tolist() == CLASSES
    by_hand = [[sum(row[0] == t and row[1] == q for row in ARRANGED) for q in range(3)] for t in range(3)]
    assert grid[CLASSES].to_numpy().tolist() == by_hand


def test_top_confusions_are_the_largest_off_diagonal_cells(pa) -> None:
    top = evaluation.top_confusions(evaluation.confusion(pa), CLASSES, k=2)
    assert list(zip(top["true"], top["predicted"], top["count"])) == [("cat", "dog", 2), ("dog", "fox", 1)]
    assert top["share"].tolist() == pytest.approx([0.5, 1 / 3])
    assert len(evaluation.top_confusions(evaluation.confusion(pa), CLASSES, k=10)) == 3  # only non-empty cells


@pytest.mark.parametrize("counts, expected", [
    ([[5, 1, 0], [0, 4, 3], [3, 0, 2]], (1, 2)),  # 3 images of class 1 taken for 2: the largest mistake
    ([[5, 0, 2], [2, 4, 0], [0, 0, 2]], (0, 2)),  # a tie of 2 and 2: the first in row order
    ([[9, 0], [0, 9]], (0, 1)),                   # no mistake at all: the first cell off the diagonal
    ([[4]], (0, 0)),                              # one class: its only cell
])
def test_most_confused_is_the_most_frequent_mistake(counts, expected) -> None:
    assert evaluation.most_confused(counts) == expected


def test_per_class_table_agrees_with_the_model_card_helper() -> None:
    from models.cards import per_class_accuracy

    card = models.card("mnist_cnn")
    if not card:
        pytest.skip("mnist_cnn checkpoint not trained yet")
    table = evaluation.per_class_table(card["confusion"], card["classes"]).set_index("class")
    assert table.loc[card["classes"], "accuracy"].tolist() == pytest.approx(per_class_accuracy(card["confusion"]))


def test_a_class_without_images_has_no_accuracy() -> None:
    data = arranged_data()
    keep = [i for i, row in enumerate(ARRANGED) if row[0] != 2]
    p = evaluation.predict(Arranged(0), data.subset(keep), MEAN, STD)
    per_class = evaluation.per_class_accuracy(p).set_index("class")
    assert np.isnan(per_class.loc["fox", "accuracy"]) and per_class.loc["fox", "total"] == 0
    assert evaluation.confusion(p, normalise=True)[2].tolist() == [0, 0, 0]


@pytest.mark.parametrize("true, predicted, expected", [
    (0, 1, [9, 1]),        # two cats called dogs, the more confident (margin 3.0) first
    (0, 0, [0, 2]),
    (1, 2, [4]),
    (2, 0, [7]),
    (1, 0, []),
])
def test_a_confusion_cell_holds_exactly_its_images(pa, true, predicted, expected) -> None:
    frame = evaluation.cell(pa, true, predicted)
    assert indices(frame) == expected
    assert set(frame["true"]) <= {CLASSES[true]} and set(frame["predicted"]) <= {CLASSES[predicted]}
    assert frame["confidence"].tolist() == pytest.approx([conf(ARRANGED[i][2]) for i in expected], rel=1e-5)


@pytest.mark.parametrize("kind, cls, limit, expected", [
    ("misclassified", None, None, [1, 4, 7, 9]),
    ("misclassified", 0, None, [1, 9]),
    ("misclassified", 1, None, [4]),
    ("correct", None, None, [0, 2, 3, 5, 6, 8]),
    ("correct", 2, None, [6, 8]),
    ("confident_mistakes", None, None, [4, 9, 1, 7]),
    ("confident_mistakes", None, 2, [4, 9]),
    ("confident_mistakes", 2, None, [7]),
    ("unsure_correct", None, None, [2, 5, 6, 3, 0, 8]),
    ("unsure_correct", 1, 1, [5]),
])
def test_galleries_hold_exactly_the_expected_images(pa, kind, cls, limit, expected) -> None:
    frame = evaluation.gallery(pa, kind, cls, limit)
    assert indices(frame) == expected
    assert frame["correct"].tolist() == [ARRANGED[i][0] == ARRANGED[i][1] for i in expected]


@pytest.mark.parametrize("page, expected, expected_page", [
    (1, [0, 1, 2, 3], 1),
    (2, [4, 5, 6, 7], 2),
    (3, [8, 9], 3),        # the last page holds the rest
    (4, [8, 9], 3),        # past the end (an edited link): the last page
    (0, [0, 1, 2, 3], 1),
    (-5, [0, 1, 2, 3], 1),
])
def test_a_page_holds_its_rows(page, expected, expected_page) -> None:
    rows, shown, pages = evaluation.page_of(pd.DataFrame({"index": range(10)}), page, 4)
    assert (indices(rows), shown, pages) == (expected, expected_page, 3)


def test_pages_continue_where_the_last_one_stopped(pa) -> None:
    whole = evaluation.gallery(pa, "unsure_correct")
    pages = [evaluation.page_of(whole, n, 4)[0] for n in (1, 2)]
    assert indices(pd.concat(pages)) == indices(whole) and len(pages[1]) == 2
    assert evaluation.page_of(whole.head(0), 7, 4)[1:] == (1, 1)  # no images: one empty page


def test_unknown_gallery_kind_is_refused(pa) -> None:
    with pytest.raises(ValueError, match="gallery kind"):
        evaluation.gallery(pa, "best")


def test_two_models_side_by_side(pa, pb) -> None:
    table = evaluation.agreement(pa, pb).set_index("outcome")["images"]
    assert table.to_dict() == {"both right": 4, "only A right": 2, "only B right": 1,
                               "both wrong, same answer": 2, "both wrong, different answers": 1}
    every = evaluation.disagreements(pa, pb)
    assert indices(every) == [1, 2, 5, 7]
    assert every["right"].tolist() == ["B", "A", "A", "neither"]
    assert every["B"].tolist() == ["cat", "fox", "cat", "dog"]
    assert indices(evaluation.disagreements(pa, pb, who="A")) == [2, 5]
    assert indices(evaluation.disagreements(pa, pb, who="B")) == [1]
    assert indices(evaluation.disagreements(pa, pb, who="neither")) == [7]


def test_comparing_different_test_sets_is_refused(pa) -> None:
    other = evaluation.predict(Arranged(1), evaluation.head(arranged_data(), 5), MEAN, STD)
    with pytest.raises(ValueError, match="different images"):
        evaluation.agreement(pa, other)


def test_progress_reports_each_chunk(monkeypatch) -> None:
    monkeypatch.setattr(evaluation, "CHUNK", 4)
    seen: list[float] = []
    evaluation.predict(Arranged(0), arranged_data(), MEAN, STD, progress=seen.append)
    assert seen == [0.4, 0.8, 1.0]


def _save(model: nn.Module, path: Path) -> Path:
    return checkpoint.save(path, model, {"arch": "arranged", "mean": MEAN, "std": STD})


def _loader(calls: list[Path]):
    def load(path: Path) -> tuple[nn.Module, dict]:
        calls.append(path)
        state, meta = checkpoint.load(path)
        return checkpoint.restore(Arranged(0), state, "arranged"), meta
    return load


def test_disk_cache_is_keyed_by_checkpoint_content(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "cache"))
    data, calls = arranged_data(), []
    ckpt = _save(Arranged(0), tmp_path / "model.pt")

    first = evaluation.cached_predict(ckpt, data, _loader(calls))
    second = evaluation.cached_predict(ckpt, data, _loader(calls))
    assert len(calls) == 1, "the second evaluation must come from the disk cache without loading the model"
    assert np.array_equal(first.probs, second.probs) and first.loss == second.loss
    assert (second.classes, second.dataset, second.split) == (CLASSES, "arranged", "test")

    os.utime(ckpt, (1, 1))  # a new date, same bytes
    copy = shutil.copy(ckpt, tmp_path / "copy.pt")  # another name, same bytes
    evaluation.cached_predict(ckpt, data, _loader(calls))
    evaluation.cached_predict(copy, data, _loader(calls))
    assert len(calls) == 1

    retrained = Arranged(0)
    with torch.no_grad():
        retrained.bias[2] = 100.0  # now every image is called "fox"
    _save(retrained, ckpt)
    third = evaluation.cached_predict(ckpt, data, _loader(calls))
    assert len(calls) == 2, "a changed checkpoint must be evaluated again"
    assert third.preds.tolist() == [2] * len(ARRANGED)

    evaluation.cached_predict(ckpt, evaluation.head(data, 4), _loader(calls))
    assert len(calls) == 3, "another subset of the test set is another cache entry"


def test_damaged_cache_entry_is_recomputed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path))
    data, calls = arranged_data(), []
    ckpt = _save(Arranged(0), tmp_path / "model.pt")
    evaluation.cache_file(ckpt, data).parent.mkdir(parents=True)
    evaluation.cache_file(ckpt, data).write_bytes(b"not an npz")
    p = evaluation.cached_predict(ckpt, data, _loader(calls))
    assert len(calls) == 1 and p.preds.tolist() == [row[1] for row in ARRANGED]


def test_head_keeps_the_first_images() -> None:
    data = arranged_data()
    assert evaluation.head(data, 0) is data and evaluation.head(data, 99) is data
    assert evaluation.head(data, 3).labels.tolist() == [0, 0, 0]


@needs_data("mnist")
@pytest.mark.data
def test_shipped_mnist_checkpoint_matches_the_training_engine(tmp_path, monkeypatch) -> None:
    import models
    from cnnviz.datasets import data

    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path))
    entry = models.ZOO["mnist_cnn"]
    if not entry.checkpoint.is_file():
        pytest.skip("mnist_cnn checkpoint not trained yet")
    test = evaluation.head(data.load("mnist", "test"), 500)
    p = evaluation.cached_predict(entry.checkpoint, test, models.load_file)
    model, meta = models.load_file(entry.checkpoint)
    loss, acc, preds = train.evaluate(model, test, meta["mean"], meta["std"])
    assert p.loss == pytest.approx(loss, rel=1e-5) and p.accuracy == pytest.approx(acc)
    assert np.array_equal(p.preds, preds.numpy())
    assert p.accuracy > 0.9
    assert evaluation.confusion(p).sum() == 500


def test_spread_takes_every_kth_image_so_a_split_stored_class_by_class_keeps_every_class() -> None:
    images = torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1)
    by_class = ImageSet("toy", "test", images, torch.arange(100) // 10, [str(c) for c in range(10)])
    subset, stride = evaluation.spread(by_class, 20)
    assert stride == 5 and len(subset) == 20
    assert subset.images.flatten().tolist() == list(range(0, 100, 5))  # image i is image i * stride
    assert sorted(set(subset.labels.tolist())) == list(range(10))  # the first 20 would hold two classes
    everything, stride = evaluation.spread(by_class, 500)
    assert stride == 1 and torch.equal(everything.images, images)


def test_a_truncated_prediction_cache_is_recomputed_not_a_crash(tmp_path: Path) -> None:
    images = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    data = ImageSet("toy", "test", images, torch.tensor([0, 1, 0, 1]), ["a", "b"])
    p = evaluation.Predictions("toy", "test", ["a", "b"], np.array([0, 1, 0, 1]), np.full((4, 2), 0.5), 0.7)
    file = tmp_path / "p.npz"
    evaluation._write(file, p)
    file.write_bytes(file.read_bytes()[:60])  # a zip cut off in the middle
    assert evaluation._read(file, data) is None
