"""Segmentation results: a model's label maps for canvases, and their pixel metrics on a whole test set.

The metrics themselves (confusion, iou, mean_iou, foreground_f1, pixel_accuracy, scores) live in
cnnviz.training.pixels, which the training loop also uses; they are re-exported here as this module's API.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnviz.datasets.segments import Canvases
from cnnviz.inside import features
from cnnviz.training.pixels import Scores, confusion, foreground_f1, from_counts, iou, mean_iou, pixel_accuracy, scores

__all__ = ["Scores", "confusion", "iou", "mean_iou", "foreground_f1", "pixel_accuracy", "from_counts", "scores",
           "predict", "evaluate"]


def predict(model: nn.Module, images: torch.Tensor, mean: Sequence[float], std: Sequence[float],
            batch_size: int = 64) -> torch.Tensor:
    """The class of every pixel, (N, H, W) int64, for uint8 canvases (N, 1, H, W); the model is left as it was."""
    return features.logits(model, images, list(mean), list(std), batch_size).argmax(1)


def evaluate(model: nn.Module, canvases: Canvases, mean: Sequence[float], std: Sequence[float],
             batch_size: int = 64) -> Scores:
    """Pixel metrics of a segmentation `model` (logits (B, K, H, W)) on `canvases`; the model is left as it was.

    Args:
        model: maps normalised (B, 1, H, W) images to (B, K, H, W) logits; run in eval mode without gradients.
        canvases: the images and true label maps.
        mean, std: the normalisation the model was trained with (pixels scaled to [0, 1]).
        batch_size: canvases per forward pass; predictions are reduced to counts batch by batch.
    """
    classes = len(canvases.classes)
    counts = torch.zeros(classes, classes, dtype=torch.int64)
    for start in range(0, len(canvases), batch_size):
        images = canvases.images[start:start + batch_size]
        pred = predict(model, images, mean, std, batch_size)  # (B, H, W)
        counts += confusion(pred, canvases.masks[start:start + batch_size], classes)
    return from_counts(counts.numpy())
