"""Why a network answers: how much each input pixel contributed to one class score.

Built on Captum (Meta's maintained interpretability library). The model is never changed: eval mode for the
computation, every training flag put back, and Captum asks autograd only for gradients of the input.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from captum.attr import IntegratedGradients
from torch import nn

from cnnviz.inside import features

__all__ = ["black", "integrated_gradients"]


def black(x: torch.Tensor, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> torch.Tensor:
    """A black picture (every pixel 0 before normalisation) in the model's input space, shaped like `x`."""
    if mean is None or std is None:
        return torch.zeros_like(x)
    shape = (-1, 1, 1)
    m = torch.tensor(list(mean), dtype=x.dtype).view(shape)
    s = torch.tensor(list(std), dtype=x.dtype).view(shape)
    return (-m / s).expand_as(x).clone()


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: int, baseline: torch.Tensor | None = None,
                         steps: int = 64, *, mean: Sequence[float] | None = None,
                         std: Sequence[float] | None = None) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al. 2017) of class `target`'s score (before softmax).

    Args:
        x: the model's normalised input, (C, H, W) or (1, C, H, W).
        baseline: the picture the path starts from, in the same space; None means black, which needs the model's
            normalisation `mean` and `std` (without them, zeros of the input space).
        steps: points on the path (Gauss-Legendre); with 64 the attributions' sum is within a few percent of
            f(x)[target] - f(baseline)[target] (completeness).
    Returns:
        Attributions shaped (C, H, W).
    """
    x1 = x.unsqueeze(0) if x.dim() == 3 else x  # (1, C, H, W)
    start = black(x1[0], mean, std)[None] if baseline is None else (
        baseline.unsqueeze(0) if baseline.dim() == 3 else baseline)
    with features.evaluating(model):
        found = IntegratedGradients(model).attribute(x1.detach(), start.detach(), target=int(target), n_steps=steps)
    return found.detach()[0]
