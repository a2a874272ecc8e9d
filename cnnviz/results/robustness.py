"""How fragile a trained network is: its accuracy on a fixed test subset as an attack's ε grows, or as everyday
changes (rotation, shift, occlusion) grow, cached on disk per checkpoint like its predictions
(`evaluation.through_cache`)."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from cnnviz import paths
from cnnviz.datasets import explore
from cnnviz.datasets.data import ImageSet
from cnnviz.inside import attack, features
from cnnviz.results.evaluation import Loader, Progress, cache_file, through_cache

__all__ = ["EPSILONS", "accuracy_under_attack", "cached_accuracy_under_attack", "CHANGES", "UNITS", "changed",
           "accuracy_under_change", "cached_accuracy_under_change"]

EPSILONS = (0, 1, 2, 4, 8, 16)  # in 255ths: from no push to twice the usual 8/255
CHANGES = {"rotation": (0, 15, 30, 45, 60, 90, 180), "shift": (0, 2, 4, 6, 8, 12), "occlusion": (0, 4, 8, 12, 16, 20)}
UNITS = {"rotation": "degrees", "shift": "pixels", "occlusion": "pixels (the black square's side)"}
COMPASS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))  # (dy, dx) of a shift


def accuracy_under_attack(model: nn.Module, data: ImageSet, mean: Sequence[float], std: Sequence[float],
                          epsilons: Sequence[int] = EPSILONS, method: str = "pgd", batch_size: int = 100,
                          progress: Progress | None = None) -> np.ndarray:
    """Accuracy on `data` after an untargeted attack at each ε (in 255ths), one float per ε."""
    push = attack.pgd if method == "pgd" else attack.fgsm
    right = np.zeros(len(epsilons))
    batches = range(0, len(data), batch_size)
    for n, start in enumerate(batches):
        x = explore.normalise(data.images[start:start + batch_size], mean, std)  # (B, C, H, W)
        y = data.labels[start:start + batch_size]
        for i, eps in enumerate(epsilons):
            moved = push(model, x, y, eps / 255, mean, std) if eps else x
            with torch.no_grad():
                right[i] += (model(moved).argmax(1) == y).sum().item()
        if progress:
            progress((n + 1) / len(batches))
    return right / len(data)


def cached_accuracy_under_attack(checkpoint: str | Path, data: ImageSet, load: Loader, method: str = "pgd",
                                 progress: Progress | None = None) -> np.ndarray:
    """`accuracy_under_attack` at EPSILONS of the checkpoint file on `data`, computed once and kept on disk."""
    def compute(model: nn.Module, meta: dict) -> np.ndarray:
        return accuracy_under_attack(model, data, meta["mean"], meta["std"], EPSILONS, method, progress=progress)

    return _cached(checkpoint, data, load, method, len(EPSILONS), compute, progress)


def rotated(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Each picture (B, C, H, W) turned `degrees` anticlockwise about its centre, corners black (bilinear, as a
    camera's picture would be resampled; nearest would add jagged edges a camera never makes)."""
    # fill=None is grid_sample's zero padding, already black outside; fill=0 would dim the edge pixels a second time
    return TF.rotate(images, degrees, interpolation=InterpolationMode.BILINEAR)


def shifted(images: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """Each picture moved `size` pixels towards one of the 8 compass directions (its own, drawn from `gen`), the
    uncovered edge black (all of it once `size` reaches the picture's side)."""
    out = torch.zeros_like(images)
    h, w = images.shape[-2:]
    for i, d in enumerate(torch.randint(0, len(COMPASS), (len(images),), generator=gen).tolist()):
        dy, dx = COMPASS[d][0] * min(size, h), COMPASS[d][1] * min(size, w)  # a longer move would slice past it
        out[i, :, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            images[i, :, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def occluded(images: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """Each picture with a black `size`-pixel square painted at its own place (drawn from `gen`), inside it (cut to
    the picture where it is bigger)."""
    out = images.clone()
    h, w = images.shape[-2:]
    tall, wide = min(size, h), min(size, w)
    tops = torch.randint(0, h - tall + 1, (len(images),), generator=gen).tolist()
    lefts = torch.randint(0, w - wide + 1, (len(images),), generator=gen).tolist()
    for i, (top, left) in enumerate(zip(tops, lefts)):
        out[i, :, top:top + tall, left:left + wide] = 0
    return out


def changed(images: torch.Tensor, kind: str, size: int, seed: int = 0) -> torch.Tensor:
    """Pictures (B, C, H, W) in [0, 1] rotated by `size` degrees, shifted by or occluded with `size` pixels; the
    same `seed` gives the same directions and places. Size 0 leaves them as they are."""
    if kind not in CHANGES:
        raise ValueError(f"unknown change {kind!r}: pick one of {', '.join(CHANGES)}")
    if size == 0:
        return images.clone()
    gen = torch.Generator().manual_seed(seed)
    if kind == "rotation":
        return rotated(images, size)
    return shifted(images, size, gen) if kind == "shift" else occluded(images, size, gen)


def accuracy_under_change(model: nn.Module, data: ImageSet, mean: Sequence[float], std: Sequence[float], kind: str,
                          sizes: Sequence[int] | None = None, batch_size: int = 100,
                          progress: Progress | None = None) -> np.ndarray:
    """Accuracy on `data` with every picture changed by `kind` at each size (default CHANGES[kind])."""
    sizes = CHANGES[kind] if sizes is None else sizes
    right = np.zeros(len(sizes))
    batches = range(0, len(data), batch_size)
    with features.evaluating(model), torch.no_grad():
        for n, start in enumerate(batches):
            pixels = data.images[start:start + batch_size].float() / 255  # (B, C, H, W) in [0, 1]
            y = data.labels[start:start + batch_size]
            for i, size in enumerate(sizes):  # seed=start: each batch its own draws, the same at every size
                x = attack.to_inputs(changed(pixels, kind, size, seed=start), mean, std)
                right[i] += (model(x).argmax(1) == y).sum().item()
            if progress:
                progress((n + 1) / len(batches))
    return right / len(data)


def cached_accuracy_under_change(checkpoint: str | Path, data: ImageSet, load: Loader, kind: str,
                                 progress: Progress | None = None) -> np.ndarray:
    """`accuracy_under_change` at CHANGES[kind] of the checkpoint file on `data`, computed once and kept on disk."""
    def compute(model: nn.Module, meta: dict) -> np.ndarray:
        return accuracy_under_change(model, data, meta["mean"], meta["std"], kind, progress=progress)

    return _cached(checkpoint, data, load, kind, len(CHANGES[kind]), compute, progress)


def _cached(checkpoint: str | Path, data: ImageSet, load: Loader, name: str, length: int,
            compute: Callable[[nn.Module, dict], np.ndarray], progress: Progress | None) -> np.ndarray:
    """`compute(model, meta)` of the checkpoint, kept on disk as `robustness/<checkpoint and data>-<name>.npy`."""
    file = paths.cache_dir() / "robustness" / f"{cache_file(checkpoint, data).stem}-{name}.npy"

    def read() -> np.ndarray | None:
        try:
            found = np.load(file)
        except (OSError, ValueError, EOFError):
            return None
        return found if found.shape == (length,) else None

    def fresh() -> np.ndarray:
        model, meta = load(Path(checkpoint))
        model.eval()
        return compute(model, meta)

    def write(result: np.ndarray) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.stem}.tmp{os.getpid()}.npy")
        np.save(tmp, result)
        os.replace(tmp, file)

    return through_cache(read, fresh, write, progress)
