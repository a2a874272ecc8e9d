"""Training the U-Net on the digit canvases: what differs from classification when every pixel has a label.

The canvases travel through the same loop as images do: an ImageSet whose labels are the masks (N, H, W), so the
seeded hold-out, the batches and the per-pixel cross-entropy (`F.cross_entropy` on (B, K, H, W) logits) need no
second loop. Only measuring differs: pixel accuracy, mean IoU and foreground F1 from cnnviz.training.pixels.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.datasets import segments
from cnnviz.datasets.data import ImageSet
from cnnviz.inside import features
from cnnviz.training import pixels

DATASET = "m2nist"
ARCH = "unet"
INPUT_SHAPE = (1, segments.HEIGHT, segments.WIDTH)  # (C, H, W)
AUGMENTATIONS = ("jitter",)  # brightness and contrast only: flip, crop and rotate would move pixels off their labels
METRICS = ("loss", "acc", "mean_iou", "foreground_f1")  # what `measure` gives for each split; acc = pixel accuracy
UPSAMPLE = ("transposed", "nearest")
ACTIVATIONS = ("relu", "elu")


def as_imageset(canvases: segments.Canvases) -> ImageSet:
    """Canvases as an ImageSet whose labels are the masks (N, H, W), so splits and batches take pixels and labels
    together."""
    return ImageSet(DATASET, canvases.split, canvases.images, canvases.masks, list(canvases.classes))


def per_pixel(part: ImageSet) -> bool:
    """Whether `part` labels every pixel (N, H, W) rather than every image (N,)."""
    return part.labels.dim() == 3


def arch_args(config: Any) -> dict[str, Any]:
    """The U-Net's variant settings of `config`, as `models.unet.build` takes them."""
    return {"upsample": config.upsample, "activation": config.activation, "skips": config.skips}


def meta(config: Any) -> dict[str, Any]:
    """Checkpoint metadata that lets `models.load_file` rebuild the U-Net `config` trains (fit adds mean and std)."""
    return {"arch": ARCH, "arch_args": arch_args(config), "title": title(config), "dataset": DATASET,
            "task": "segmentation", "input_shape": list(INPUT_SHAPE), "classes": list(segments.CLASSES),
            "pretrained": False}


def title(config: Any) -> str:
    """The variant in words: U-Net (transposed conv, ReLU, skips)."""
    up = {"transposed": "transposed conv", "nearest": "nearest + conv"}[config.upsample]
    act = {"relu": "ReLU", "elu": "ELU"}[config.activation]
    return f"U-Net ({up}, {act}, {'skips' if config.skips else 'no skips'})"


def measure(model: nn.Module, part: ImageSet, mean: list[float], std: list[float], device: torch.device | None = None,
            batch_size: int = 64) -> tuple[dict[str, float], torch.Tensor]:
    """({loss, acc, mean_iou, foreground_f1}, the (K, K) pixel confusion) of `model` on `part`; changes nothing.

    Batch by batch: the logits of 2,000 canvases would take 470 MB at once.
    """
    classes = len(part.classes)
    counts = torch.zeros(classes, classes, dtype=torch.int64)
    total = 0.0
    for start in range(0, len(part), batch_size):
        logits = features.logits(model, part.images[start:start + batch_size], mean, std, batch_size, device)
        masks = part.labels[start:start + batch_size].cpu()                     # (B, H, W)
        total += F.cross_entropy(logits, masks, reduction="sum").item()         # logits (B, K, H, W)
        counts += pixels.confusion(logits.argmax(1), masks, classes)
    scores = pixels.from_counts(counts.numpy())
    return ({"loss": total / part.labels.numel(), "acc": scores.pixel_accuracy, "mean_iou": scores.mean_iou,
             "foreground_f1": scores.foreground_f1}, counts)
