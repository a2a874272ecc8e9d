"""Teach a trained network new classes: a student's few pictures per class, a frozen trunk, a new linear head.

Transfer learning in seconds on a CPU: every picture goes once through the trunk of a trained zoo network (all of
it but its last linear layer), then only a new linear layer is fitted on those cached features. The result is an
ordinary classifier (`transfer_net`: the real conv layers, then the new head), so every page can look inside it.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from cnnviz.datasets.data import ImageSet
from cnnviz.inside import features
from cnnviz.training import checkpoint
from cnnviz.training.runs import Run

MIN_CLASSES, MAX_CLASSES = 2, 5
MIN_PICTURES = 2       # per class: one to learn from, one to test on
HOLD_OUT = 0.25        # share of each class's pictures kept for testing (at least one)
STEPS = 300            # full-batch Adam steps on the cached features
LR = 0.05              # Adam's learning rate
WEIGHT_DECAY = 1e-2    # L2 on the head's weights (not its bias): a few pictures are easily separated by huge weights
MINE = "mine:"         # a taught model's data set name: "mine:<run name>", pictures the teaching session holds

Picture = tuple[Image.Image, int]  # (a picture, the index of its class)
Transform = Callable[[Image.Image], torch.Tensor]  # PIL -> the base's normalised (C, H, W) input


@dataclass
class Taught:
    """A taught model, the pictures it learned from (at the base's input size) and how well it does."""

    model: nn.Sequential        # trunk + head, eval mode, CPU
    pictures: ImageSet          # every picture, (N, C, H, W) uint8
    train: torch.Tensor         # indices into `pictures` it learned from
    test: torch.Tensor          # indices it was tested on (the hold-out)
    train_acc: float
    test_acc: float
    test_loss: float            # mean cross-entropy on the hold-out
    confusion: list[list[int]]  # hold-out counts, rows the true class, columns the answer
    seconds: float              # embedding and fitting

    def split(self, part: str) -> ImageSet:
        """The pictures of `part`: "train", "test" (the hold-out) or "all"."""
        if part == "all":
            return self.pictures
        chosen = self.pictures.subset({"train": self.train, "test": self.test}[part])
        return ImageSet(chosen.name, part, chosen.images, chosen.labels, chosen.classes)


def check(names: list[str], pictures: list[Picture]) -> None:
    """Refuse what cannot be taught, saying what to do.

    Raises:
        ValueError: fewer than 2 or more than 5 classes, an empty or repeated name, a class under 2 pictures.
    """
    if not MIN_CLASSES <= len(names) <= MAX_CLASSES:
        raise ValueError(f"Teach between {MIN_CLASSES} and {MAX_CLASSES} classes, not {len(names)}.")
    cleaned = [name.strip() for name in names]
    if not all(cleaned):
        raise ValueError("Every class needs a name: fill in the empty one.")
    if len({name.casefold() for name in cleaned}) < len(cleaned):
        raise ValueError("Two classes have the same name: give each class its own.")
    counts = torch.bincount(torch.tensor([c for _, c in pictures], dtype=torch.long), minlength=len(names))
    if len(counts) > len(names):
        raise ValueError(f"A picture is labelled class {len(counts) - 1}, but there are only {len(names)} classes.")
    short = [cleaned[c] for c in range(len(names)) if counts[c] < MIN_PICTURES]
    if short:
        raise ValueError(f"Give every class at least {MIN_PICTURES} pictures (one to learn from, one to test on): "
                         f"{', '.join(short)} {'has' if len(short) == 1 else 'have'} fewer.")


def stratified_split(labels: torch.Tensor, share: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) indices: about `share` of each class held out, at least one, never all of it; seeded."""
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        n_test = min(max(1, round(share * len(members))), len(members) - 1)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def transfer_net(base: nn.Module, classes: int) -> nn.Sequential:
    """`base` (a classifier, taken over) without its last linear layer, as "trunk", then a new linear "head"."""
    last = [name for name, m in base.named_children() if isinstance(m, nn.Linear)]
    if not last:
        raise ValueError(f"{type(base).__name__} has no linear layer at its top level to replace.")
    width = getattr(base, last[-1]).in_features
    if isinstance(base, nn.Sequential):  # keep what comes before the old head, drop it and what follows it
        kept = list(base.named_children())
        trunk: nn.Module = nn.Sequential(OrderedDict(kept[:[n for n, _ in kept].index(last[-1])]))
    else:  # a network with its own forward (torchvision's ResNet): its head becomes the identity
        setattr(base, last[-1], nn.Identity())
        trunk = base
    return nn.Sequential(OrderedDict(trunk=trunk, head=nn.Linear(width, classes)))


def as_pixels(pictures: list[Picture], transform: Transform, mean: list[float], std: list[float]) -> torch.Tensor:
    """The pictures as the base sees them (its own crop and resize), stored as uint8 (N, C, H, W)."""
    m, s = torch.tensor(mean).view(-1, 1, 1), torch.tensor(std).view(-1, 1, 1)
    x = torch.stack([transform(image) for image, _ in pictures])  # (N, C, H, W), normalised
    return ((x * s + m) * 255).round().clamp(0, 255).to(torch.uint8)


def fit_head(head: nn.Linear, feats: torch.Tensor, labels: torch.Tensor, steps: int = STEPS,
             on_step: Callable[[int], None] | None = None) -> None:
    """Fit `head` on cached features (N, D) from zero: full-batch Adam, deterministic (no random draw)."""
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    scale = feats.abs().mean().clamp_min(1e-6)  # features of any size: the step is relative to theirs
    opt = torch.optim.Adam([{"params": [head.weight], "weight_decay": WEIGHT_DECAY},
                            {"params": [head.bias], "weight_decay": 0.0}], lr=LR / float(scale))
    for step in range(1, steps + 1):
        opt.zero_grad()
        F.cross_entropy(head(feats), labels).backward()
        opt.step()
        if on_step and (step % 25 == 0 or step == steps):
            on_step(step)


def teach(pictures: list[Picture], names: list[str], base: nn.Module, transform: Transform, mean: list[float],
          std: list[float], share: float = HOLD_OUT, seed: int = 0, steps: int = STEPS, name: str = "mine",
          progress: Callable[[float], None] | None = None) -> Taught:
    """Teach `names` from `pictures` on the frozen trunk of `base`; the model is tested on a held-out share.

    Args:
        pictures: (PIL image, class index) pairs, at least 2 per class.
        base: a trained classifier; it is taken over (pass a fresh copy, never a model other sessions share).
        transform, mean, std: the base's own input transform and normalisation.
        name: the data set name the pictures carry (`MINE` + run name once saved).
        progress: hears the fraction done.

    Raises:
        ValueError: see `check`.
    """
    check(names, pictures)
    start = time.perf_counter()
    labels = torch.tensor([c for _, c in pictures], dtype=torch.long)  # (N,)
    images = as_pixels(pictures, transform, mean, std)
    data = ImageSet(name, "all", images, labels, [n.strip() for n in names])
    train, test = stratified_split(labels, share, seed)
    model = transfer_net(base, len(names)).eval()
    for p in model.trunk.parameters():
        p.requires_grad_(False)
    feats = features.logits(model.trunk, images, mean, std)  # (N, D): the trunk runs once
    if progress:
        progress(0.2)
    fit_head(model.head, feats[train], labels[train], steps,
             (lambda step: progress(0.2 + 0.8 * step / steps)) if progress else None)
    with torch.no_grad():
        logits = model.head(feats)  # (N, K)
    answers = logits.argmax(1)
    k = len(names)
    confusion = torch.bincount(labels[test] * k + answers[test], minlength=k * k).view(k, k)
    return Taught(model, data, train, test, float((answers[train] == labels[train]).float().mean()),
                  float((answers[test] == labels[test]).float().mean()),
                  float(F.cross_entropy(logits[test], labels[test])), confusion.tolist(),
                  time.perf_counter() - start)


def meta(taught: Taught, base: str, input_shape: tuple[int, int, int], mean: list[float], std: list[float],
         dataset: str) -> dict[str, Any]:
    """The checkpoint meta that rebuilds the model (arch "transfer") and its model card."""
    k = len(taught.pictures.classes)
    return {"arch": "transfer", "arch_args": {"base": base, "classes": k}, "classes": list(taught.pictures.classes),
            "input_shape": list(input_shape), "mean": list(mean), "std": list(std), "dataset": dataset,
            "task": "classification",
            "card": {"metrics": {"train_acc": taught.train_acc, "test_acc": taught.test_acc,
                                 "test_loss": taught.test_loss},
                     "confusion": taught.confusion, "classes": list(taught.pictures.classes), "base": base,
                     "pictures": taught.pictures.class_counts(), "held_out": len(taught.test),
                     "seconds": taught.seconds}}


def save(taught: Taught, base: str, input_shape: tuple[int, int, int], mean: list[float], std: list[float],
         owner: str | None, title: str = "taught") -> tuple[Run, Taught]:
    """(a new run holding the taught model's checkpoint, owned by `owner`: a browser's run key, so only that
    browser's model pickers list it; the taught model with its pictures named after the run: MINE + its name)."""
    run = Run.create(title)
    dataset = MINE + run.name
    pictures = taught.pictures
    taught = replace(taught, pictures=ImageSet(dataset, "all", pictures.images, pictures.labels, pictures.classes))
    checkpoint.save(run.checkpoint, taught.model, meta(taught, base, input_shape, mean, std, dataset))
    run.update(owner=owner, status="finished", config={"model": f"{base} + new head", "dataset": "your pictures"},
               metrics={"train_acc": taught.train_acc, "test_acc": taught.test_acc, "test_loss": taught.test_loss},
               seconds=taught.seconds)
    return run, taught
