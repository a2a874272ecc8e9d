"""How a network arranges the classes: penultimate-layer features of many images, flattened to 2-D points.

The features are the input of the model's last `nn.Linear` (the vector the classifier reads), captured with
`features.capture`. PCA is exact (an SVD, a few lines); t-SNE and the silhouette score come from scikit-learn,
imported inside the functions so that importing this module stays as cheap as importing torch.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from cnnviz.inside import features
from cnnviz.inside.featurevis import OUTPUT

__all__ = ["last_linear", "penultimate", "features_and_scores", "pca", "tsne", "separation"]

Array = np.ndarray | torch.Tensor


def last_linear(model: nn.Module) -> str:
    """Name of the last `nn.Linear` in `named_modules()` order: the classifier whose input is the embedding.

    Raises:
        ValueError: the model has no linear layer.
    """
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer, so it has no penultimate features")
    return names[-1]


def _feeder(model: nn.Module, x: torch.Tensor) -> str:
    """The leaf layer whose output is the last linear layer's input, found from one image's running order.

    `capture` records outputs, not inputs, so the input of the linear layer is taken as the output of the leaf
    that ran just before it (a ReLU, a dropout, a flatten or a pooling layer); one image checks that the
    linear layer applied to it gives exactly what the linear layer gave.

    Raises:
        ValueError: no leaf output feeds the last linear layer unchanged (e.g. a functional op in between).
    """
    linear_name = last_linear(model)
    linear = model.get_submodule(linear_name)
    calls: list[features.Call] = []
    with features.capture(model, features.leaf_layers(model), calls=calls) as out, features.evaluating(model), \
            torch.no_grad():
        model(x[:1])
    order = [c.name for c in calls]
    at = len(order) - 1 - order[::-1].index(linear_name) if linear_name in order else 0
    before = order[at - 1] if at > 0 else None
    with features.model_lock(model), features.evaluating(model), torch.no_grad():  # outside capture: no hook
        fits = before is not None and out[before].numel() == linear.in_features and torch.allclose(
            linear(out[before].flatten(1).to(linear.weight)).cpu(), out[linear_name], rtol=1e-4, atol=1e-5)
    if not fits:
        raise ValueError(f"the input of {linear_name!r} is not the output of the layer before it, so its "
                         "features cannot be captured")
    return before


def features_and_scores(model: nn.Module, x: torch.Tensor, batch_size: int = 500
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, D) penultimate features (the last linear layer's input) and (N, classes) outputs of `x` (N, C, H, W).

    `x` is normalised and run `batch_size` images at a time in eval mode without gradients; the model is left
    as it was.

    Raises:
        ValueError: see `last_linear` and `_feeder`.
    """
    feeder = _feeder(model, x)
    device = next(model.parameters()).device
    feats, scores = [], []
    with features.capture(model, [feeder, OUTPUT]) as out, \
            features.evaluating(model), torch.no_grad():
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size].to(device))
            feats.append(out[feeder].flatten(1))  # (B, D)
            scores.append(out[OUTPUT])            # (B, classes)
    return torch.cat(feats), torch.cat(scores)


def penultimate(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """(N, D) features the classifier reads for normalised images `x` (N, C, H, W): `features_and_scores`' first."""
    return features_and_scores(model, x, batch_size)[0]


def _matrix(points: Array) -> np.ndarray:
    """(N, D) float64 array of tensor or array rows."""
    a = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
    return a.reshape(len(a), -1).astype(np.float64)


def pca(points: Array, dims: int = 2) -> np.ndarray:
    """(N, dims) coordinates of the rows along their `dims` directions of largest variance (exact SVD).

    Each axis's sign is fixed (its largest loading is positive, as scikit-learn does), so the same points
    always give the same picture.
    """
    a = _matrix(points)
    centred = a - a.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)  # rows of vt: directions, largest variance first
    axes = vt[:dims]                                        # (dims, D)
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(1)])[:, None]
    return (centred @ axes.T).astype(np.float32)           # (N, dims)


def tsne(points: Array, seed: int = 0, dims: int = 2, perplexity: float = 30.0) -> np.ndarray:
    """(N, dims) t-SNE map of the rows (scikit-learn, PCA start, Barnes-Hut): neighbours stay neighbours.

    The same points and seed give the same map; starting from PCA, the map hardly depends on the seed (it only
    seeds scikit-learn's randomised SVD), so a model's picture stays put. The perplexity is lowered for small
    sets (it must be < N).
    """
    from sklearn.manifold import TSNE

    a = _matrix(points)
    perplexity = min(perplexity, max(1.0, (len(a) - 1) / 3))
    model = TSNE(n_components=dims, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed)
    return model.fit_transform(a).astype(np.float32)


def separation(points: Array, labels: Sequence[int] | Array) -> float:
    """How well the classes separate: the silhouette score (-1 to 1; near 1 for tight, far-apart classes).

    Raises:
        ValueError: fewer than 2 or as many classes as points (the score is undefined).
    """
    from sklearn.metrics import silhouette_score

    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    return float(silhouette_score(_matrix(points), y))
