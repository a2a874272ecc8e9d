"""A model's predictions on a test set, computed once (cached on disk by checkpoint content) and read as
metrics, a confusion matrix, galleries of images and a comparison of two models."""
from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz import paths
from cnnviz.datasets.data import ImageSet
from cnnviz.inside import features
from cnnviz.results import export

Progress = Callable[[float], None]
T = TypeVar("T")
Loader = Callable[[Path], tuple[nn.Module, dict[str, Any]]]  # checkpoint path -> (model, meta with mean, std)
CHUNK = 1000  # images per progress step
GALLERIES = {
    "misclassified": "Misclassified",
    "correct": "Correct",
    "confident_mistakes": "Most confident mistakes",
    "unsure_correct": "Least confident correct answers",
}


@dataclass(frozen=True)
class Predictions:
    """What one model said about every image of one data split."""

    dataset: str
    split: str
    classes: list[str]
    labels: np.ndarray  # (N,) int64 true classes
    probs: np.ndarray   # (N, K) float32 softmax probabilities
    loss: float         # mean cross-entropy

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def preds(self) -> np.ndarray:
        """Predicted class of each image, (N,)."""
        return self.probs.argmax(1)

    @property
    def confidence(self) -> np.ndarray:
        """Probability the model gave its predicted class, (N,)."""
        return self.probs.max(1)

    @property
    def correct(self) -> np.ndarray:
        """True where the prediction is right, (N,) bool."""
        return self.preds == self.labels

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if len(self) else float("nan")


def head(data: ImageSet, limit: int | None) -> ImageSet:
    """The first `limit` images of `data` (all of them when `limit` is 0 or None); indices stay the split's."""
    if not limit or limit >= len(data):
        return data
    return data.subset(torch.arange(limit))


def spread(data: ImageSet, limit: int) -> tuple[ImageSet, int]:
    """Every k-th image, about `limit` of them, and k: a fixed subset with every class in it even when the split
    is stored class by class (CIFAR-10's folders: its first 2,000 test images are only planes and cars).
    Image i of the subset is image i * k of `data`."""
    stride = max(1, len(data) // limit) if limit else 1
    return data.subset(torch.arange(0, len(data), stride)[:limit or None]), stride


def env_limit() -> int:
    """$CNNVIZ_EVAL_LIMIT: evaluate only the first this-many test images (0 or unset: all). Used by tests."""
    try:
        return max(0, int(os.environ.get("CNNVIZ_EVAL_LIMIT", "0")))
    except ValueError:
        return 0


def predict(model: nn.Module, data: ImageSet, mean: list[float], std: list[float], batch_size: int = 500,
            progress: Progress | None = None) -> Predictions:
    """Run `model` over all of `data` in chunks (through `features.logits`), reporting the fraction done."""
    chunks = []
    for start in range(0, len(data), CHUNK):
        chunks.append(features.logits(model, data.images[start:start + CHUNK], mean, std, batch_size))
        if progress:
            progress(min(1.0, (start + CHUNK) / len(data)))
    logits = torch.cat(chunks) if chunks else torch.empty(0, len(data.classes))  # (N, K)
    loss = F.cross_entropy(logits, data.labels).item() if len(data) else float("nan")
    return Predictions(data.name, data.split, list(data.classes), data.labels.numpy().astype(np.int64),
                       logits.softmax(1).numpy().astype(np.float32), loss)


def checkpoint_hash(path: str | Path) -> str:
    """sha256 of the checkpoint file's bytes: retraining (new weights) gives a new key."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_file(checkpoint: str | Path, data: ImageSet) -> Path:
    """Where the predictions of `checkpoint` on `data` are kept: keyed by file content, data set, split, size."""
    labels = hashlib.sha1(data.labels.numpy().tobytes()).hexdigest()[:8]
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in data.name)
    key = f"{name}-{data.split}-n{len(data)}-{labels}-{checkpoint_hash(checkpoint)[:20]}"
    return paths.cache_dir() / "predictions" / f"{key}.npz"


def cached_predict(checkpoint: str | Path, data: ImageSet, load: Loader, batch_size: int = 500,
                   progress: Progress | None = None) -> Predictions:
    """Predictions of the checkpoint file on `data`, from the disk cache or computed once and stored.

    Args:
        checkpoint: the checkpoint file; its content (not its name or date) keys the cache.
        load: turns the path into (model, meta); meta holds the normalisation 'mean' and 'std'.
            Called only when the cache has no entry.
        progress: called with the fraction done while predicting.
    """
    file = cache_file(checkpoint, data)

    def compute() -> Predictions:
        model, meta = load(Path(checkpoint))
        return predict(model, data, meta["mean"], meta["std"], batch_size, progress)

    return through_cache(lambda: _read(file, data), compute, lambda p: _write(file, p), progress)


def through_cache(read: Callable[[], T | None], compute: Callable[[], T], write: Callable[[T], None],
                  progress: Progress | None = None) -> T:
    """What `read` finds (and `progress` hears it is done), else `compute()`, kept with `write`: every disk cache
    of a checkpoint's results goes this way."""
    hit = read()
    if hit is not None:
        if progress:
            progress(1.0)
        return hit
    result = compute()
    write(result)
    return result


def _read(file: Path, data: ImageSet) -> Predictions | None:
    """A cached entry, or None when it is missing, unreadable or not for these labels."""
    try:
        with np.load(file) as blob:
            labels, probs = blob["labels"], blob["probs"]
            loss, classes = float(blob["loss"]), [str(c) for c in blob["classes"]]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # missing, stale or half-written
        return None
    if not np.array_equal(labels, data.labels.numpy()):
        return None
    return Predictions(data.name, data.split, classes, labels.astype(np.int64), probs, loss)


def _write(file: Path, p: Predictions) -> None:
    """Save through a temporary file so a killed process never leaves half an entry."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.stem}.tmp{os.getpid()}.npz")
    np.savez(tmp, labels=p.labels, probs=p.probs, loss=np.float64(p.loss), classes=np.array(p.classes))
    os.replace(tmp, file)


# ---- tables --------------------------------------------------------------------------------------------------

def confusion(p: Predictions, normalise: bool = False) -> np.ndarray:
    """(K, K) matrix, rows the true class and columns the predicted one: counts, or each row's shares."""
    k = len(p.classes)
    counts = np.bincount(p.labels * k + p.preds, minlength=k * k).reshape(k, k)
    return export.row_shares(counts) if normalise else counts


def confusion_table(counts: np.ndarray | list[list[int]], classes: list[str]) -> pd.DataFrame:
    """A confusion matrix in long form for a heat map: true, predicted, their indices, count, share of the row."""
    counts = np.asarray(counts, dtype=np.int64)
    shares = export.row_shares(counts)
    k = len(classes)
    rows = [(classes[t], classes[q], t, q, int(counts[t, q]), float(shares[t, q]))
            for t in range(k) for q in range(k)]
    return pd.DataFrame(rows, columns=["true", "predicted", "true_index", "predicted_index", "count", "share"])


def confusion_grid(counts: np.ndarray | list[list[int]], classes: list[str]) -> pd.DataFrame:
    """A confusion matrix as a spreadsheet shows it: a row per true class, a column of counts per prediction."""
    frame = pd.DataFrame(np.asarray(counts, dtype=np.int64), columns=list(classes))
    frame.insert(0, "true \\ predicted", list(classes))
    return frame


def per_class_table(counts: np.ndarray | list[list[int]], classes: list[str]) -> pd.DataFrame:
    """class, correct, total, accuracy from a confusion matrix, worst first (a class with no images: NaN)."""
    counts = np.asarray(counts, dtype=np.int64)
    total, right = counts.sum(1), np.diag(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(total > 0, right / np.maximum(total, 1), np.nan)
    frame = pd.DataFrame({"class": list(classes), "correct": right, "total": total, "accuracy": accuracy})
    return frame.sort_values(["accuracy", "class"], kind="stable").reset_index(drop=True)


def top_confusions(counts: np.ndarray | list[list[int]], classes: list[str], k: int = 5) -> pd.DataFrame:
    """The `k` most frequent mistakes (off-diagonal cells), largest first: true, predicted, count, share."""
    table = confusion_table(counts, classes)
    wrong = table[(table["true_index"] != table["predicted_index"]) & (table["count"] > 0)]
    return wrong.sort_values(["count", "true_index", "predicted_index"], ascending=[False, True, True],
                             kind="stable").head(k).reset_index(drop=True)


def most_confused(counts: np.ndarray | list[list[int]]) -> tuple[int, int]:
    """(true, predicted) indices of the most frequent mistake (`top_confusions`' first); without any mistake the
    first cell off the diagonal, (0, 1)."""
    k = len(counts)
    top = top_confusions(counts, [str(i) for i in range(k)], 1)
    if len(top):
        return int(top["true_index"].iloc[0]), int(top["predicted_index"].iloc[0])
    return 0, min(1, k - 1)


def confusion_frame(p: Predictions) -> pd.DataFrame:
    """`confusion_table` of the predictions."""
    return confusion_table(confusion(p), p.classes)


def per_class_accuracy(p: Predictions) -> pd.DataFrame:
    """`per_class_table` of the predictions: each true class's share of images predicted right."""
    return per_class_table(confusion(p), p.classes)


# ---- galleries: each a table of test-set indices with what the model said ---------------------------------

def _frame(p: Predictions, indices: np.ndarray) -> pd.DataFrame:
    preds, conf = p.preds, p.confidence
    return pd.DataFrame({
        "index": indices.astype(np.int64),
        "true": [p.classes[i] for i in p.labels[indices]],
        "predicted": [p.classes[i] for i in preds[indices]],
        "confidence": conf[indices].astype(float),
        "correct": preds[indices] == p.labels[indices],
    })


def _by_confidence(p: Predictions, indices: np.ndarray, descending: bool) -> np.ndarray:
    """`indices` ordered by confidence (ties by index, so the order is reproducible)."""
    conf = p.confidence[indices]
    order = np.lexsort((indices, -conf if descending else conf))
    return indices[order]


def cell(p: Predictions, true: int, predicted: int, limit: int | None = None) -> pd.DataFrame:
    """Exactly the images of true class `true` predicted as `predicted`, most confident first."""
    indices = np.flatnonzero((p.labels == true) & (p.preds == predicted))
    return _frame(p, _by_confidence(p, indices, descending=True)[:limit])


def gallery(p: Predictions, kind: str, cls: int | None = None, limit: int | None = None) -> pd.DataFrame:
    """Images of one gallery kind, optionally only those whose true class is `cls`.

    Kinds: "misclassified" and "correct" in test-set order; "confident_mistakes" (wrong, highest confidence
    first) and "unsure_correct" (right, lowest confidence first).
    """
    if kind not in GALLERIES:
        raise ValueError(f"gallery kind must be one of {list(GALLERIES)}, not {kind!r}")
    want_correct = kind in ("correct", "unsure_correct")
    mask = p.correct == want_correct
    if cls is not None:
        mask &= p.labels == cls
    indices = np.flatnonzero(mask)
    if kind == "confident_mistakes":
        indices = _by_confidence(p, indices, descending=True)
    elif kind == "unsure_correct":
        indices = _by_confidence(p, indices, descending=False)
    return _frame(p, indices[:limit])


def page_of(frame: pd.DataFrame, page: int, size: int) -> tuple[pd.DataFrame, int, int]:
    """(rows, page, pages) of `frame` in pages of `size` rows; `page` (from 1) is clamped so a stale link works."""
    pages = max(1, -(-len(frame) // size))
    page = min(max(int(page), 1), pages)
    return frame.iloc[(page - 1) * size:page * size], page, pages


# ---- two models on the same images ------------------------------------------------------------------------

OUTCOMES = ("both right", "only A right", "only B right", "both wrong, same answer", "both wrong, different answers")


def _check_same_images(a: Predictions, b: Predictions) -> None:
    if (a.dataset, a.split) != (b.dataset, b.split) or not np.array_equal(a.labels, b.labels):
        raise ValueError(f"the two models were evaluated on different images ({a.dataset}/{a.split}, "
                         f"{len(a)} images vs {b.dataset}/{b.split}, {len(b)} images)")


def agreement(a: Predictions, b: Predictions) -> pd.DataFrame:
    """How many images fall in each outcome (both right, only A, only B, both wrong alike or not)."""
    _check_same_images(a, b)
    ra, rb, same = a.correct, b.correct, a.preds == b.preds
    counts = [ra & rb, ra & ~rb, ~ra & rb, ~ra & ~rb & same, ~ra & ~rb & ~same]
    return pd.DataFrame({"outcome": OUTCOMES, "images": [int(c.sum()) for c in counts]})


def disagreements(a: Predictions, b: Predictions, who: str | None = None, limit: int | None = None
                  ) -> pd.DataFrame:
    """Images on which A and B predict different classes, in test-set order, with who is right.

    Args:
        who: keep only rows where "A", "B" or "neither" is right (None: all).
    """
    _check_same_images(a, b)
    differ = a.preds != b.preds
    right = np.where(a.correct, "A", np.where(b.correct, "B", "neither"))
    mask = differ if who is None else differ & (right == who)
    indices = np.flatnonzero(mask)[:limit]
    return pd.DataFrame({
        "index": indices.astype(np.int64),
        "true": [a.classes[i] for i in a.labels[indices]],
        "A": [a.classes[i] for i in a.preds[indices]],
        "A_confidence": a.confidence[indices].astype(float),
        "B": [b.classes[i] for i in b.preds[indices]],
        "B_confidence": b.confidence[indices].astype(float),
        "right": right[indices],
    })
