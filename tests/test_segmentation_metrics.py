"""Pixel metrics against hand-computed values on tiny masks and against scikit-learn on random ones."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics
from torch import nn

from cnnviz.datasets import segments
from cnnviz.results import segmentation
from tests.test_segments import fake_digits

# true        pred
# 0 1 1       0 1 2
# 2 2 0       2 0 0
TRUE = torch.tensor([[[0, 1, 1], [2, 2, 0]]])
PRED = torch.tensor([[[0, 1, 2], [2, 0, 0]]])


def test_hand_built_masks() -> None:
    s = segmentation.scores(PRED, TRUE, classes=4)
    # rows true, columns predicted: true 0 -> 0, 0; true 1 -> 1, 2; true 2 -> 2, 0
    assert s.confusion.tolist() == [[2, 0, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    # class 0: 2 hits, union {(0,0), (1,1), (1,2)} = 3; class 1: 1 hit, union 2; class 2: 1 hit, union
    # {(0,2), (1,0), (1,1)} = 3; class 3 is in neither map
    assert s.iou[:3] == pytest.approx([2 / 3, 1 / 2, 1 / 3]) and math.isnan(s.iou[3])
    assert s.mean_iou == pytest.approx((1 / 2 + 1 / 3) / 2)  # digits 1 and 2 only: background and 3 left out
    # foreground: 4 true digit pixels, 3 predicted, all 3 right: TP 3, FP 0, FN 1 (pixel (1,1)) -> 6 / 7
    assert s.foreground_f1 == pytest.approx(6 / 7)
    assert s.pixel_accuracy == pytest.approx(4 / 6)  # (0,0), (0,1), (1,0), (1,2)


def test_a_perfect_map_and_a_map_without_digits() -> None:
    perfect = segmentation.scores(TRUE, TRUE, classes=4)
    assert perfect.iou[:3] == pytest.approx([1, 1, 1]) and perfect.mean_iou == 1
    assert perfect.foreground_f1 == 1 and perfect.pixel_accuracy == 1
    empty = segmentation.scores(torch.zeros(1, 2, 3, dtype=torch.long), torch.zeros(1, 2, 3, dtype=torch.long), 4)
    assert empty.iou[0] == 1 and np.isnan(empty.iou[1:]).all()
    assert math.isnan(empty.mean_iou) and math.isnan(empty.foreground_f1) and empty.pixel_accuracy == 1


@pytest.mark.parametrize("seed", range(5))
def test_random_masks_agree_with_scikit_learn(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    true = torch.randint(0, 11, (4, 10, 12), generator=g)
    pred = torch.where(torch.rand(4, 10, 12, generator=g) < 0.6, true, torch.randint(0, 11, (4, 10, 12), generator=g))
    t, p = true.numpy().ravel(), pred.numpy().ravel()
    s = segmentation.scores(pred, true, classes=11)
    assert (s.confusion == metrics.confusion_matrix(t, p, labels=range(11))).all()
    jaccard = metrics.jaccard_score(t, p, labels=range(11), average=None)
    assert s.iou == pytest.approx(jaccard)
    assert s.mean_iou == pytest.approx(jaccard[1:].mean())
    assert s.foreground_f1 == pytest.approx(metrics.f1_score(t > 0, p > 0))
    assert s.pixel_accuracy == pytest.approx(metrics.accuracy_score(t, p))


@pytest.fixture(scope="module")
def canvases() -> segments.Canvases:
    return segments.make(fake_digits(), 20, seed=0)


def test_evaluate_a_model_that_always_says_background(canvases: segments.Canvases) -> None:
    model = nn.Conv2d(1, 11, 1)
    nn.init.zeros_(model.weight)
    with torch.no_grad():
        model.bias.copy_(torch.arange(11, 0, -1.0))  # class 0 scores highest everywhere
    model.train()
    s = segmentation.evaluate(model, canvases, mean=[0.04], std=[0.18], batch_size=7)
    assert model.training  # put back as it was
    assert s.pixel_accuracy == pytest.approx(segments.class_shares(canvases.masks)[0])
    assert s.foreground_f1 == 0 and s.mean_iou == 0


def test_evaluate_in_batches_equals_one_pass_in_eval_mode(canvases: segments.Canvases) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 11, 3, padding=1), nn.BatchNorm2d(11), nn.Conv2d(11, 11, 1))
    model.train()
    s = segmentation.evaluate(model, canvases, mean=[0.04], std=[0.18], batch_size=6)
    model.eval()
    with torch.no_grad():
        pred = model((canvases.images.float() / 255 - 0.04) / 0.18).argmax(1)
    assert (s.confusion == segmentation.scores(pred, canvases.masks, 11).confusion).all()
