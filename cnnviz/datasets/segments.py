"""An M2NIST-style segmentation set made from MNIST: 1 to 3 digits on a black 64 x 84 canvas, a class per pixel.

Each digit is pasted as its whole 28 x 28 box at a random integer offset, the boxes never overlapping; a pixel's
value is the maximum of what was pasted there, and its label is d + 1 where a pasted digit d has a stroke there
(value >= 128), else 0 (background). The same seed gives the same canvases.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cnnviz.datasets import data, images
from cnnviz.datasets.data import ImageSet

HEIGHT, WIDTH = 64, 84   # canvas size in pixels
BOX = 28                 # an MNIST digit's box, pasted whole
MAX_DIGITS = 3
STROKE = 128             # a pasted pixel at least this bright belongs to its digit
CLASSES = ("background", *data.MNIST_CLASSES)  # label 0 is background, label d + 1 is digit d
COUNTS = {"train": 10_000, "test": 2_000}  # canvases `load` makes when no count is given
SEEDS = {"train": 0, "test": 1}  # the seeds of the sets the shipped U-Nets were trained and tested on
# A colour per class for masks drawn over canvases: black background, then matplotlib's tab10 for digits 0..9.
PALETTE = np.array([(0, 0, 0), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)], dtype=np.uint8)
TRIES = 256              # candidate placements drawn at once per canvas still unplaced (3 digits fit ~2 % of draws)


@dataclass(frozen=True, eq=False)
class Canvases:
    """Canvases, their pixel labels and the digits pasted on them; unused digit slots hold -1."""

    split: str            # the MNIST split the digits came from
    images: torch.Tensor  # (N, 1, 64, 84) uint8
    masks: torch.Tensor   # (N, 64, 84) int64 class per pixel, 0..10
    labels: torch.Tensor  # (N, 3) int64 digit of each slot, -1 when unused
    boxes: torch.Tensor   # (N, 3, 2) int64 (top, left) of each 28 x 28 box, -1 when unused
    sources: torch.Tensor  # (N, 3) int64 index of each digit in its MNIST split, -1 when unused
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return len(self.images)

    @property
    def counts(self) -> torch.Tensor:
        """How many digits each canvas holds, (N,)."""
        return (self.labels >= 0).sum(1)

    def digits(self, index: int) -> list[tuple[int, tuple[int, int, int, int]]]:
        """(digit, (top, left, bottom, right)) of each digit on canvas `index`, for drawing its boxes."""
        return [(int(d), (int(t), int(left), int(t) + BOX, int(left) + BOX))
                for d, (t, left) in zip(self.labels[index], self.boxes[index]) if d >= 0]


def make(digits: ImageSet, count: int, seed: int = 0) -> Canvases:
    """`count` canvases of 1 to 3 digits drawn from `digits` (28 x 28, one channel), all chosen by `seed`."""
    rng = np.random.default_rng(seed)
    n_digits = rng.integers(1, MAX_DIGITS + 1, count)                  # (N,)
    active = np.arange(MAX_DIGITS) < n_digits[:, None]                 # (N, 3)
    sources = np.where(active, rng.integers(0, len(digits), (count, MAX_DIGITS)), -1)
    boxes = np.where(active[..., None], _place(rng, active), -1)       # (N, 3, 2)
    sources_t, boxes_t = torch.from_numpy(sources), torch.from_numpy(boxes)
    labels = torch.where(sources_t >= 0, digits.labels[sources_t.clamp(min=0)], -1)
    images = torch.zeros(count, HEIGHT, WIDTH, dtype=torch.uint8)
    masks = torch.zeros(count, HEIGHT, WIDTH, dtype=torch.int64)
    span = torch.arange(BOX)
    for slot in range(MAX_DIGITS):
        n = torch.from_numpy(np.flatnonzero(active[:, slot]))          # canvases with a digit in this slot
        pasted = digits.images[sources_t[n, slot], 0]                  # (M, 28, 28)
        rows = (boxes_t[n, slot, 0, None] + span)[:, :, None]          # (M, 28, 1)
        cols = (boxes_t[n, slot, 1, None] + span)[:, None, :]          # (M, 1, 28)
        at = (n[:, None, None], rows, cols)
        images[at] = torch.maximum(images[at], pasted)
        masks[at] = torch.where(pasted >= STROKE, labels[n, slot, None, None] + 1, masks[at])
    return Canvases(digits.split, images.unsqueeze(1), masks, labels, boxes_t, sources_t)


def _place(rng: np.random.Generator, active: np.ndarray) -> np.ndarray:
    """(top, left) of each slot's box, (N, 3, 2): uniform over the placements whose active boxes do not overlap."""
    boxes = np.zeros((*active.shape, 2), dtype=np.int64)
    todo = np.arange(len(active))
    while len(todo):
        tops = rng.integers(0, HEIGHT - BOX + 1, (len(todo), TRIES, MAX_DIGITS))
        lefts = rng.integers(0, WIDTH - BOX + 1, (len(todo), TRIES, MAX_DIGITS))
        ok = np.ones(tops.shape[:2], dtype=bool)                       # (R, TRIES)
        for i in range(MAX_DIGITS):
            for j in range(i + 1, MAX_DIGITS):
                both = active[todo, None, i] & active[todo, None, j]
                overlap = (abs(tops[..., i] - tops[..., j]) < BOX) & (abs(lefts[..., i] - lefts[..., j]) < BOX)
                ok &= ~(both & overlap)
        placed = ok.any(1)
        first = ok.argmax(1)[placed]                                   # the first fitting candidate
        rows = todo[placed]
        boxes[rows, :, 0] = tops[placed, first]
        boxes[rows, :, 1] = lefts[placed, first]
        todo = todo[~placed]
    return boxes


def load(split: str = "train", count: int | None = None, seed: int | None = None, root: Path | None = None
         ) -> Canvases:
    """Canvases made from MNIST's `split` digits (training digits for "train", test digits for "test").

    Args:
        split: "train" or "test".
        count: how many canvases; None gives COUNTS[split].
        seed: chooses the digits, how many and where; None gives SEEDS[split].
        root: the data folder; defaults to $CNNVIZ_DATA_DIR.

    Raises:
        DatasetUnavailable: MNIST is neither on disk nor downloadable (the data module's message).
        ValueError: an unknown split.
    """
    digits = data.load("mnist", split, root)
    return make(digits, COUNTS[split] if count is None else count, SEEDS[split] if seed is None else seed)


def class_shares(masks: torch.Tensor) -> np.ndarray:
    """Each class's share of all pixels, (11,): background dominates, which is why accuracy flatters a model."""
    counts = torch.bincount(masks.reshape(-1), minlength=len(CLASSES)).double()
    return (counts / counts.sum()).numpy()


def coloured(mask: torch.Tensor | np.ndarray) -> np.ndarray:
    """(H, W) class labels -> (H, W, 3) uint8 colours from PALETTE."""
    return PALETTE[np.asarray(mask, dtype=np.int64)]


def overlay(image: torch.Tensor | np.ndarray, mask: torch.Tensor | np.ndarray, alpha: float = 0.65) -> Image.Image:
    """A grey canvas (H, W) or (1, H, W) uint8 with its labelled pixels tinted by class; background left grey."""
    grey = np.asarray(image, dtype=np.float32).reshape(np.shape(mask))[..., None].repeat(3, -1)
    labels = np.asarray(mask, dtype=np.int64)
    tinted = np.where((labels > 0)[..., None], (1 - alpha) * grey + alpha * PALETTE[labels], grey)
    return Image.fromarray(tinted.round().astype(np.uint8), "RGB")


def from_picture(image: Image.Image) -> torch.Tensor:
    """Any picture as a canvas (1, 64, 84) uint8: grey, light ink on dark (inverted when mostly light), the
    largest centred part of the canvas's shape, resized; so a drawing or a photo of digits on paper fits."""
    grey = image.convert("L")
    if np.asarray(grey).mean() > 127:  # dark ink on light paper: the canvases are white on black
        grey = Image.eval(grey, lambda v: 255 - v)
    grey = images.centre_crop(grey, WIDTH, HEIGHT).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
    pixels = np.asarray(grey, dtype=np.uint8)
    return torch.from_numpy(pixels.copy()).unsqueeze(0)
