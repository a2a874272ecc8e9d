"""Why a network answers: how much each input pixel contributed to one class score.

Built on Captum (Meta's maintained interpretability library). The model is never changed: eval mode for the
computation, every training flag put back, and Captum asks autograd only for gradients of the input.
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import GuidedBackprop, IntegratedGradients, NoiseTunnel, Occlusion, Saliency
from torch import nn

from cnnviz.inside import cam, features

__all__ = ["black", "blurred", "BASELINES", "starting_picture", "integrated_gradients", "saliency", "smoothgrad",
           "occlusion", "guided_backprop", "grad_cam", "Settings", "settings_for", "METHODS", "methods", "explain",
           "Stage", "rank_correlation", "weighted_layers", "sanity_check", "deletion", "random_ranking", "area"]


def black(x: torch.Tensor, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> torch.Tensor:
    """A black picture (every pixel 0 before normalisation) in the model's input space, shaped like `x`."""
    if mean is None or std is None:
        return torch.zeros_like(x)
    shape = (-1, 1, 1)
    m = torch.tensor(list(mean), dtype=x.dtype).view(shape)
    s = torch.tensor(list(std), dtype=x.dtype).view(shape)
    return (-m / s).expand_as(x).clone()


def blurred(x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """The picture blurred until its shapes are gone (Gaussian, `sigma` px; default a sixth of its side), shaped like
    `x`. Blurring commutes with the per-channel normalisation, so it is done in the model's input space."""
    x1 = _batch(x)
    sigma = sigma or max(x1.shape[-1] / 6, 1.0)
    radius = int(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=x1.dtype)
    k = torch.exp(-(t / sigma) ** 2 / 2)
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(x1.shape[1], 1, 1, 1)  # (C, 1, 1, k): one row kernel per channel
    padded = F.pad(x1, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, k, groups=x1.shape[1])
    out = F.conv2d(rows, k.transpose(2, 3), groups=x1.shape[1])
    return out[0] if x.dim() == 3 else out


BASELINES = {"black": "a black picture", "blurred": "the picture blurred", "mean": "the data set's mean colour"}


def starting_picture(kind: str, x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Integrated gradients' baseline `kind` (a key of BASELINES) for `x`, in the model's input space. The data set's
    mean colour is 0 after normalisation by that same mean."""
    if kind == "black":
        return black(x, mean, std)
    if kind == "blurred":
        return blurred(x)
    if kind == "mean":
        return torch.zeros_like(x)
    raise ValueError(f"unknown baseline {kind!r}: pick one of {', '.join(BASELINES)}")


def _batch(x: torch.Tensor) -> torch.Tensor:
    """(C, H, W) or (1, C, H, W) -> (1, C, H, W), detached."""
    return (x.unsqueeze(0) if x.dim() == 3 else x).detach()


def saliency(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    """Vanilla gradient: |d score_target / d x|, (C, H, W): which pixels the score is most sensitive to."""
    with features.evaluating(model):
        leaf = _batch(x).clone().requires_grad_(True)  # the input is what the gradient is asked of
        return Saliency(model).attribute(leaf, target=int(target), abs=True).detach()[0]


def smoothgrad(model: nn.Module, x: torch.Tensor, target: int, samples: int = 16, noise: float = 0.15,
               seed: int = 0) -> torch.Tensor:
    """SmoothGrad: the vanilla gradient averaged over `samples` noisy copies of `x` (noise: the standard deviation
    in the input's units), (C, H, W). Captum draws the noise from the global generator, so it runs in a forked one
    seeded with `seed`: the same seed gives the same map, and nobody else's random numbers move."""
    with features.evaluating(model), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tunnel = NoiseTunnel(Saliency(model))
        return tunnel.attribute(_batch(x), nt_type="smoothgrad", nt_samples=samples, stdevs=noise,
                                target=int(target), abs=True).detach()[0]


def guided_backprop(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    """Guided backpropagation (Springenberg et al. 2015): the gradient with every ReLU also passing back only
    positive gradients, (C, H, W). Sharp, edge-like maps, kept for the lesson of the sanity check: they change little
    when the network's weights are destroyed. Captum hooks the model's nn.ReLU modules and removes the hooks after."""
    leaf = _batch(x).clone().requires_grad_(True)
    with features.model_lock(model), features.evaluating(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Setting backward hooks on ReLU")  # Captum says it, and removes them
        return GuidedBackprop(model).attribute(leaf, target=int(target)).detach()[0]


def occlusion(model: nn.Module, x: torch.Tensor, target: int, window: int = 4, stride: int = 2,
              baseline: torch.Tensor | None = None, *, mean: Sequence[float] | None = None,
              std: Sequence[float] | None = None) -> torch.Tensor:
    """Occlusion: how much the score falls when a `window`-pixel square is painted over (black by default),
    slid by `stride` pixels; each pixel gets the average fall of the windows that covered it, (C, H, W)."""
    x1 = _batch(x)
    fill = black(x1[0], mean, std)[None] if baseline is None else _batch(baseline)
    channels = x1.shape[1]
    with features.evaluating(model), torch.no_grad():
        found = Occlusion(model).attribute(x1, sliding_window_shapes=(channels, window, window),
                                           strides=(channels, stride, stride), baselines=fill, target=int(target),
                                           perturbations_per_eval=32)
    return found.detach()[0]


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


def grad_cam(model: nn.Module, x: torch.Tensor, target: int, layer: str | None = None) -> torch.Tensor:
    """Grad-CAM (cnnviz.inside.cam, checked against Captum's LayerGradCam) at `layer` (default: the last conv),
    enlarged to the picture: (H, W)."""
    found = cam.grad_cam(model, x, layer, target)
    return torch.from_numpy(cam.upsample(found.heat, *x.shape[-2:]))


Method = Callable[[nn.Module, torch.Tensor, int], torch.Tensor]
METHODS = {"gradient": "Gradient", "smoothgrad": "SmoothGrad", "integrated": "Integrated gradients",
           "occlusion": "Occlusion", "gradcam": "Grad-CAM", "guided": "Guided backprop"}


@dataclass(frozen=True)
class Settings:
    """How hard each method works: more steps, samples and smaller windows are finer and slower."""

    baseline: str = "black"  # integrated gradients' starting picture, a key of BASELINES
    steps: int = 64  # integrated gradients' points on the path
    samples: int = 16  # SmoothGrad's noisy copies
    window: int = 4  # occlusion's square, in pixels
    stride: int = 2  # occlusion's slide, in pixels
    layer: str | None = None  # Grad-CAM's layer; None: the last conv


def settings_for(side: int) -> Settings:
    """Defaults for pictures `side` pixels wide: fine on 28-32 px, and on 224 px (ResNet18) coarse enough that all
    six methods take about forty forward+backward passes."""
    if side <= 64:
        return Settings(window=max(side // 8, 2), stride=max(side // 16, 1))
    return Settings(steps=16, samples=8, window=side // 4, stride=side // 4)


def methods(settings: Settings, mean: Sequence[float], std: Sequence[float]) -> dict[str, Method]:
    """Every method of METHODS as a function of (model, x, target) with these settings."""
    return {
        "gradient": saliency,
        "smoothgrad": lambda m, x, t: smoothgrad(m, x, t, samples=settings.samples),
        "integrated": lambda m, x, t: integrated_gradients(
            m, x, t, starting_picture(settings.baseline, x, mean, std), settings.steps),
        "occlusion": lambda m, x, t: occlusion(m, x, t, settings.window, settings.stride, mean=mean, std=std),
        "gradcam": lambda m, x, t: grad_cam(m, x, t, settings.layer),
        "guided": guided_backprop,
    }


def explain(model: nn.Module, x: torch.Tensor, target: int, settings: Settings, mean: Sequence[float],
            std: Sequence[float], chosen: Sequence[str] = tuple(METHODS)) -> dict[str, torch.Tensor]:
    """The `chosen` methods' maps of one picture for class `target`, each (H, W) >= 0 (channels' magnitudes summed)."""
    every = methods(settings, mean, std)
    return {name: _heat(every[name](model, x, target)) for name in chosen}


@dataclass(frozen=True)
class Stage:
    """One step of the sanity check: the layers randomized so far, each method's map and its rank correlation
    with the trained network's map."""

    randomized: tuple[str, ...]  # named_modules() names, top layer first
    maps: dict[str, torch.Tensor]  # method -> (H, W) map, channels summed in absolute value
    correlation: dict[str, float]  # method -> Spearman rank correlation with stage 0's map


def _heat(found: torch.Tensor) -> torch.Tensor:
    """A (C, H, W) attribution as one (H, W) map: the channels' absolute values summed (a (h, w) map passes)."""
    return found.abs().sum(0) if found.dim() == 3 else found.abs()


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two maps of the same shape (ties broken by position)."""
    ra = a.flatten().argsort().argsort().double()
    rb = b.flatten().argsort().argsort().double()
    return float(torch.corrcoef(torch.stack([ra, rb]))[0, 1])


def weighted_layers(model: nn.Module) -> list[str]:
    """Leaf layers that hold weights, from the output back to the input: the order the sanity check breaks them."""
    return [n for n in reversed(features.leaf_layers(model))
            if any(True for _ in dict(model.named_modules())[n].parameters(recurse=False))]


def sanity_check(model: nn.Module, x: torch.Tensor, target: int, methods: dict[str, Method],
                 seed: int = 0, progress: Callable[[float], None] | None = None) -> list[Stage]:
    """Adebayo et al. 2018: re-initialise the weights from the top layer down, one layer at a time (on a copy: the
    model is untouched), and compare each method's map with the trained one. A method whose map barely changes
    while the network is destroyed explains the picture, not the network."""
    broken = copy.deepcopy(model).eval()
    for p in broken.parameters():
        p.requires_grad_(False)
    layers = weighted_layers(broken)
    named = dict(broken.named_modules())
    stages: list[Stage] = []
    first: dict[str, torch.Tensor] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for done in range(len(layers) + 1):
            if done:
                named[layers[done - 1]].reset_parameters()
            maps = {name: _heat(method(broken, x, target)) for name, method in methods.items()}
            first = first or maps
            stages.append(Stage(tuple(layers[:done]), maps,
                                {name: rank_correlation(first[name], m) for name, m in maps.items()}))
            if progress:
                progress((done + 1) / (len(layers) + 1))
    return stages


def deletion(model: nn.Module, x: torch.Tensor, target: int, heat: torch.Tensor, steps: int = 16,
             fill: torch.Tensor | None = None, *, mean: Sequence[float] | None = None,
             std: Sequence[float] | None = None) -> np.ndarray:
    """The deletion curve (Petsiuk et al. 2018): class `target`'s probability as the pixels the (H, W) `heat` ranks
    most important are painted over first (black by default), with 0, 1/steps, ..., all of them gone: (steps + 1,).
    A faithful map makes it fall fast; compare with `random_ranking`'s curve, since holes alone hurt a network too."""
    x1 = _batch(x)
    paint = black(x1[0], mean, std) if fill is None else _batch(fill)[0]
    order = heat.flatten().argsort(descending=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    cut = torch.tensor([round(k * order.numel() / steps) for k in range(steps + 1)])
    gone = rank.view(heat.shape)[None] < cut.view(-1, 1, 1)  # (steps + 1, H, W): painted at each step
    pictures = torch.where(gone[:, None], paint[None], x1)
    with features.evaluating(model), torch.no_grad():
        return torch.softmax(model(pictures), dim=1)[:, int(target)].numpy()


def random_ranking(heat: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A map that ranks pixels at random, shaped like `heat`: the deletion curve any method must beat."""
    return torch.rand(heat.shape, generator=torch.Generator().manual_seed(seed))


def area(curve: np.ndarray) -> float:
    """Area under a curve sampled evenly on [0, 1] (trapezoids): for deletion, lower is more faithful."""
    c = np.asarray(curve, dtype=np.float64)
    return float(((c[1:] + c[:-1]) / 2).mean())
