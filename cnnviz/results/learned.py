"""What a checkpoint has learned, computed once and kept on disk keyed by the checkpoint's content (like
`evaluation.cached_predict`): the most and least exciting test images of every channel of a layer, and the
2-D embedding (PCA and t-SNE of the penultimate features) of a test subset."""
from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnnviz import paths
from cnnviz.datasets import explore
from cnnviz.datasets.data import ImageSet
from cnnviz.inside import embedding, featurevis
from cnnviz.inside.featurevis import TopExamples
from cnnviz.results.evaluation import Loader, Progress, cache_file, through_cache

__all__ = ["Embedding", "layer_examples", "examples_file", "cached_layer_examples", "embed", "embedding_file",
           "cached_embedding"]

SEPARATIONS = ("features", "pca", "tsne")  # the points an Embedding's silhouette scores are measured on
FEATURES_SHARE = 0.3  # of an embedding's progress bar: the forward pass; t-SNE takes the rest
_UNREADABLE = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile)  # a missing, damaged or stale entry


@dataclass(frozen=True)
class Embedding:
    """Where a model puts each image of a data subset, in 2-D, with what it said about it."""

    pca: np.ndarray            # (N, 2) float32
    tsne: np.ndarray           # (N, 2) float32
    labels: np.ndarray         # (N,) int64 true classes
    preds: np.ndarray          # (N,) int64 predicted classes
    separation: dict[str, float]  # silhouette score by class of the "features", the "pca" and the "tsne" points


def _batches(data: ImageSet, mean: list[float], std: list[float], batch_size: int, progress: Progress | None
             ) -> Iterator[torch.Tensor]:
    """Normalised (B, C, H, W) batches of `data` in order, reporting the fraction done after each."""
    for start in range(0, len(data), batch_size):
        yield explore.normalise(data.images[start:start + batch_size], mean, std)
        if progress:
            progress(min(1.0, (start + batch_size) / len(data)))


def _key(checkpoint: str | Path, data: ImageSet) -> str:
    """The prediction cache's key (checkpoint content, data set, split, size, labels), shared by these caches."""
    return cache_file(checkpoint, data).stem


def _save(file: Path, **arrays: np.ndarray) -> None:
    """Save through a temporary file so a killed process never leaves half an entry."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.stem}.tmp{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, file)


# ---- top examples ---------------------------------------------------------------------------------------------

def layer_examples(model: nn.Module, data: ImageSet, layer: str, mean: list[float], std: list[float], k: int = 9,
                   batch_size: int = 500, progress: Progress | None = None) -> tuple[TopExamples, TopExamples]:
    """(most, least) exciting images of every channel of `layer` over all of `data` (indices into `data`)."""
    return featurevis.scan(model, layer, _batches(data, mean, std, batch_size, progress), k)


def examples_file(checkpoint: str | Path, data: ImageSet, layer: str, k: int) -> Path:
    """Where the top examples of `layer` of `checkpoint` on `data` are kept."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in layer) or "output"
    return paths.cache_dir() / "learned" / f"{_key(checkpoint, data)}-{name}-k{k}.npz"


def cached_layer_examples(checkpoint: str | Path, data: ImageSet, layer: str, load: Loader, k: int = 9,
                          batch_size: int = 500, progress: Progress | None = None
                          ) -> tuple[TopExamples, TopExamples]:
    """`layer_examples` of the checkpoint file on `data`, from the disk cache or computed once and stored.

    Args:
        checkpoint: the checkpoint file; its content (not its name or date) keys the cache.
        load: turns the path into (model, meta with 'mean' and 'std'); called only when the cache has no entry.
        progress: called with the fraction done while computing.
    """
    file = examples_file(checkpoint, data, layer, k)

    def compute() -> tuple[TopExamples, TopExamples]:
        model, meta = load(Path(checkpoint))
        return layer_examples(model, data, layer, meta["mean"], meta["std"], k, batch_size, progress)

    def write(pair: tuple[TopExamples, TopExamples]) -> None:
        _save(file, **{f"{side}_{field}": getattr(top, field).numpy() for side, top in zip(("high", "low"), pair)
                       for field in ("values", "indices", "positions")})

    return through_cache(lambda: _read_examples(file, layer), compute, write, progress)


def _read_examples(file: Path, layer: str) -> tuple[TopExamples, TopExamples] | None:
    """A cached pair of TopExamples, or None when the entry is missing or unreadable."""
    try:
        with np.load(file) as blob:
            return tuple(TopExamples(layer, *(torch.from_numpy(blob[f"{side}_{field}"])
                                              for field in ("values", "indices", "positions")), side == "low")
                         for side in ("high", "low"))
    except _UNREADABLE:
        return None


# ---- embedding --------------------------------------------------------------------------------------------------

def embed(model: nn.Module, data: ImageSet, mean: list[float], std: list[float], seed: int = 0,
          batch_size: int = 500, progress: Progress | None = None) -> Embedding:
    """PCA and t-SNE (seeded) of the penultimate features of every image of `data`, with the model's answers."""
    points, scores = embedding.features_and_scores(model, explore.normalise(data.images, mean, std), batch_size)
    if progress:
        progress(FEATURES_SHARE)
    labels = data.labels.numpy().astype(np.int64)
    flat, mapped = embedding.pca(points), embedding.tsne(points, seed)
    separation = {name: embedding.separation(p, labels) for name, p in zip(SEPARATIONS, (points, flat, mapped))}
    if progress:
        progress(1.0)
    return Embedding(flat, mapped, labels, scores.argmax(1).numpy().astype(np.int64), separation)


def embedding_file(checkpoint: str | Path, data: ImageSet, seed: int) -> Path:
    """Where the embedding of `data` by `checkpoint` (t-SNE seed `seed`) is kept."""
    return paths.cache_dir() / "learned" / f"{_key(checkpoint, data)}-embedding-s{seed}.npz"


def cached_embedding(checkpoint: str | Path, data: ImageSet, load: Loader, seed: int = 0, batch_size: int = 500,
                     progress: Progress | None = None) -> Embedding:
    """`embed` of the checkpoint file on `data` (e.g. the first 1,000 test images), cached on disk.

    Args:
        checkpoint: the checkpoint file; its content keys the cache.
        load: turns the path into (model, meta with 'mean' and 'std'); called only when the cache has no entry.
        progress: called with the fraction done while computing.
    """
    file = embedding_file(checkpoint, data, seed)

    def compute() -> Embedding:
        model, meta = load(Path(checkpoint))
        return embed(model, data, meta["mean"], meta["std"], seed, batch_size, progress)

    def write(e: Embedding) -> None:
        _save(file, pca=e.pca, tsne=e.tsne, labels=e.labels, preds=e.preds,
              separation=np.array([e.separation[k] for k in SEPARATIONS]))

    return through_cache(lambda: _read_embedding(file, data), compute, write, progress)


def _read_embedding(file: Path, data: ImageSet) -> Embedding | None:
    """A cached embedding, or None when it is missing, unreadable or not for these labels."""
    try:
        with np.load(file) as blob:
            pca, tsne, labels, preds, sep = (blob[k] for k in ("pca", "tsne", "labels", "preds", "separation"))
    except _UNREADABLE:
        return None
    if not np.array_equal(labels, data.labels.numpy()) or len(pca) != len(labels) or len(tsne) != len(labels):
        return None
    return Embedding(pca, tsne, labels.astype(np.int64), preds, dict(zip(SEPARATIONS, map(float, sep))))
