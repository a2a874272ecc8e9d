"""Training, validation and test splits: a seeded hold-out of the training set, and the normalisation from the rest."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from cnnviz.datasets.data import ImageSet


@dataclass
class Splits:
    """Training, validation and test tensors plus the normalisation computed from the training part."""

    train: ImageSet
    val: ImageSet | None
    test: ImageSet
    mean: list[float]
    std: list[float]


def hold_out(train: ImageSet, test: ImageSet, val_fraction: float, seed: int, train_limit: int = 0,
             test_limit: int = 0, normalize: str = "dataset") -> Splits:
    """Hold out a seeded `val_fraction` of `train` and compute the normalisation from the rest.

    `train_limit` and `test_limit` keep that many images (0: all); `normalize` is "dataset" (the training part's
    per-channel mean and std) or "half" (0.5 and 0.5).
    """
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(train), generator=gen)
    if train_limit:
        order = order[:train_limit]
    n_val = int(len(order) * val_fraction)
    val = train.subset(order[:n_val]) if n_val else None
    train = train.subset(order[n_val:])
    if test_limit and test is not None:
        test = test.subset(torch.arange(min(test_limit, len(test))))
    if normalize == "half":
        mean, std = [0.5] * train.shape[0], [0.5] * train.shape[0]
    else:
        mean, std = train.channel_stats()
    return Splits(train, val, test, mean, std)
