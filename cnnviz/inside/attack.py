"""Adversarial examples: the smallest pushes, in pixel units, that change what a network answers.

Built on Captum's `captum.robust` FGSM and PGD (Meta's maintained interpretability library). Captum bounds its
inputs by one range, so the attack runs on the un-normalised picture in [0, 1] through a wrapper that normalises
it on the way into the model: ε is then in pixel units (8/255 is eight grey levels) and the result is a picture a
camera could have taken. The model is never changed: eval mode for the attack, every training flag put back, and
Captum asks autograd only for the input's gradient, so no parameter gets a `.grad`.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from captum.robust import FGSM, PGD
from torch import nn

from cnnviz.inside import features

__all__ = ["fgsm", "pgd", "to_pixels", "to_inputs", "growth"]


def _shape(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """(1, C, 1, 1) of per-channel `values` on `like`'s device."""
    return torch.tensor(list(values), dtype=like.dtype, device=like.device).view(1, -1, 1, 1)


def to_pixels(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """The model's normalised input (1, C, H, W) as the picture it came from, in [0, 1]."""
    return x * _shape(std, x) + _shape(mean, x)


def to_inputs(pixels: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """A picture in [0, 1] (1, C, H, W) as the model's normalised input."""
    return (pixels - _shape(mean, pixels)) / _shape(std, pixels)


def _on_pixels(model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model as a function of the un-normalised picture."""
    return lambda pixels: model(to_inputs(pixels, mean, std))


def _batch(x: torch.Tensor) -> torch.Tensor:
    """(C, H, W) or (N, C, H, W) -> (N, C, H, W), detached."""
    return (x.unsqueeze(0) if x.dim() == 3 else x).detach()


def _target(target: int | torch.Tensor, n: int) -> torch.Tensor:
    """One class per image, (N,) int64."""
    return torch.as_tensor(target, dtype=torch.long).expand(n) if torch.as_tensor(target).dim() == 0 \
        else torch.as_tensor(target, dtype=torch.long)


def _loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Each image's cross-entropy, (N,): Captum's default, -log of the output, expects probabilities, not logits."""
    return F.cross_entropy(logits, target, reduction="none")


def _check(eps: float) -> None:
    if not 0 <= eps <= 1:
        raise ValueError(f"ε is in pixel units between 0 and 1 (8/255 ≈ 0.031), got {eps}")


def fgsm(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, eps: float, mean: Sequence[float],
         std: Sequence[float], targeted: bool = False) -> torch.Tensor:
    """Fast gradient sign method: one step of size ε along the sign of the loss's gradient.

    Args:
        x: the model's normalised input, (C, H, W) or a batch (N, C, H, W).
        target: the true class (pushed away from), or with `targeted` the class to push towards; for a batch,
            one class per image (N,) or one for all.
        eps: the step in pixel units of the un-normalised image.
    Returns:
        The adversarial input, normalised and shaped like `x`; un-normalised it lies within ε of the original
        in every pixel and inside [0, 1].
    """
    _check(eps)
    pixels = to_pixels(_batch(x), mean, std)
    with features.evaluating(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Input Tensor 0 did not already require gradients")
        attack = FGSM(_on_pixels(model, mean, std), _loss, lower_bound=0.0, upper_bound=1.0)
        moved = attack.perturb(pixels, eps, _target(target, len(pixels)), targeted=targeted)
    return to_inputs(moved.detach(), mean, std).view_as(x)


def pgd(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, eps: float, mean: Sequence[float],
        std: Sequence[float], steps: int = 10, targeted: bool = False, step_size: float | None = None) -> torch.Tensor:
    """Projected gradient descent: `steps` FGSM steps of `step_size` (default 2.5 ε / steps), each projected back
    into the ε-ball (L∞) around the original and into [0, 1]. Arguments and result as in `fgsm`."""
    _check(eps)
    pixels = to_pixels(_batch(x), mean, std)
    # each PGD step starts from a fresh tensor, which Captum marks as needing a gradient and warns about
    with features.evaluating(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Input Tensor 0 did not already require gradients")
        attack = PGD(_on_pixels(model, mean, std), _loss, lower_bound=0.0, upper_bound=1.0)
        moved = attack.perturb(pixels, eps, step_size or 2.5 * eps / max(steps, 1), steps, _target(target, len(pixels)),
                               targeted=targeted)
    return to_inputs(moved.detach(), mean, std).view_as(x)


def growth(model: nn.Module, x: torch.Tensor, adv: torch.Tensor) -> dict[str, float]:
    """How the push grows on its way through the network: the relative change ||a(adv) - a(x)|| / ||a(x)|| of the
    input ("input") and of every conv and linear layer's output, in order. A push of a few percent at the input
    ends as a change of the same size as the answer itself."""
    modules = dict(model.named_modules())
    layers = [n for n in features.leaf_layers(model) if isinstance(modules[n], (nn.Conv2d, nn.Linear))]
    both = torch.cat([_batch(x), _batch(adv)])  # (2, C, H, W)
    outputs = {"input": both, **features.extract(model, both, layers)}
    return {name: float((a[1] - a[0]).norm() / a[0].norm().clamp_min(1e-12)) for name, a in outputs.items()}
