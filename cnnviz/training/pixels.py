"""Pixel metrics of a segmentation: a confusion matrix over pixels and the IoU, F1 and accuracy read from it.

Here, below the training loop, so training measures each epoch with the same functions the results pages use.

Label maps are (N, H, W) integer tensors with 0 for background and 1..K-1 for the digits. Mean IoU averages the
digit classes only: background covers ~96 % of a canvas, so counting it would flatter every model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class Scores:
    """Every pixel metric of one model on one set of label maps."""

    confusion: np.ndarray   # (K, K) int64 pixel counts, rows true class, columns predicted
    iou: np.ndarray         # (K,) per-class intersection over union, NaN for a class absent from both maps
    mean_iou: float         # over the digit classes 1..K-1 present in either map
    foreground_f1: float    # digit (any class > 0) against background, as one binary decision
    pixel_accuracy: float


def confusion(pred: torch.Tensor, true: torch.Tensor, classes: int) -> torch.Tensor:
    """(K, K) int64 pixel counts: entry [t, p] counts pixels of true class t predicted as p."""
    index = true.reshape(-1).long() * classes + pred.reshape(-1).long()
    return torch.bincount(index, minlength=classes * classes).reshape(classes, classes)


def iou(counts: np.ndarray) -> np.ndarray:
    """Per-class |pred ∩ true| / |pred ∪ true|, (K,); NaN where a class is in neither map (no evidence either way)."""
    counts = np.asarray(counts, dtype=np.float64)
    hits = np.diag(counts)
    union = counts.sum(0) + counts.sum(1) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, hits / union, np.nan)


def mean_iou(counts: np.ndarray) -> float:
    """Mean IoU of the digit classes (background left out) present in either map; NaN when none is."""
    digits = iou(counts)[1:]
    present = digits[~np.isnan(digits)]
    return float(present.mean()) if len(present) else math.nan


def foreground_f1(counts: np.ndarray) -> float:
    """F1 of "digit or background": 2 TP / (2 TP + FP + FN); NaN when neither map has a digit pixel."""
    counts = np.asarray(counts, dtype=np.float64)
    tp = counts[1:, 1:].sum()  # a digit pixel called some digit, right or wrong which
    fp, fn = counts[0, 1:].sum(), counts[1:, 0].sum()
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn > 0 else math.nan


def pixel_accuracy(counts: np.ndarray) -> float:
    """Share of pixels given their true class; NaN for no pixels."""
    counts = np.asarray(counts)
    return float(np.trace(counts) / counts.sum()) if counts.sum() else math.nan


def from_counts(counts: np.ndarray) -> Scores:
    """Every metric read off one pixel confusion matrix."""
    counts = np.asarray(counts, dtype=np.int64)
    return Scores(counts, iou(counts), mean_iou(counts), foreground_f1(counts), pixel_accuracy(counts))


def scores(pred: torch.Tensor, true: torch.Tensor, classes: int) -> Scores:
    """Every metric of predicted label maps `pred` against `true`, both (N, H, W)."""
    return from_counts(confusion(pred, true, classes).numpy())


