"""How fragile a trained network is: its accuracy on a fixed test subset as the attack's ε grows, cached on disk
per checkpoint like its predictions (`evaluation.through_cache`)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnnviz import paths
from cnnviz.datasets import explore
from cnnviz.datasets.data import ImageSet
from cnnviz.inside import attack
from cnnviz.results.evaluation import Loader, Progress, cache_file, through_cache

__all__ = ["EPSILONS", "accuracy_under_attack", "cached_accuracy_under_attack"]

EPSILONS = (0, 1, 2, 4, 8, 16)  # in 255ths: from no push to twice the usual 8/255


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
    file = paths.cache_dir() / "robustness" / f"{cache_file(checkpoint, data).stem}-{method}.npy"

    def read() -> np.ndarray | None:
        try:
            found = np.load(file)
        except (OSError, ValueError, EOFError):
            return None
        return found if found.shape == (len(EPSILONS),) else None

    def compute() -> np.ndarray:
        model, meta = load(Path(checkpoint))
        model.eval()
        return accuracy_under_attack(model, data, meta["mean"], meta["std"], EPSILONS, method, progress=progress)

    def write(result: np.ndarray) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.stem}.tmp{os.getpid()}.npy")
        np.save(tmp, result)
        os.replace(tmp, file)

    return through_cache(read, compute, write, progress)
