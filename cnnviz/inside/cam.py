"""Where the network looks: Grad-CAM and the raw activations of a conv layer, overlaid on the image.

Written by hand (about 40 lines) because the method is short enough to read in full, which is the point in a
teaching tool, and because it shares the app's one hook mechanism and per-model lock; tests/test_cam_captum.py
holds it equal to Captum's LayerGradCam (to 1e-5 of the map's peak) on every trained zoo model.

Grad-CAM (Selvaraju et al., 2017) for class c at layer A with K channels:
    alpha_k = mean over (i, j) of d score_c / d A_k(i, j)       (how much channel k matters for c)
    cam     = ReLU(sum_k alpha_k A_k)                            (where the evidence for c sits)

The model is never changed: no parameter gets a gradient (`torch.autograd.grad` asks only for dScore/dA,
and `requires_grad` of the parameters is left as it is, even False on a cached model, because the input
carries the gradient), every module's training flag is restored and `features.capture` removes its hook.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.inside import features, render

__all__ = ["Cam", "grad_cam", "default_layer", "mean_activation", "upsample", "overlay"]


@dataclass(frozen=True)
class Cam:
    """One Grad-CAM result for one image."""

    layer: str
    target: int  # the class explained
    heat: np.ndarray  # (h, w) float32 >= 0, at the layer's resolution, not normalised
    activations: np.ndarray  # (K, h, w) the layer's output
    weights: np.ndarray  # (K,) alpha_k, the channel weights
    probabilities: np.ndarray  # (classes,) softmax of the model's output


def default_layer(model: nn.Module, shapes: dict[str, tuple[int, ...]] | None = None, min_side: int = 4) -> str:
    """The last conv layer; with `shapes` (layer -> output shape), the last one whose maps are >= min_side.

    A 32x32 image reaches torchvision's ResNet18's last conv as 1x1 (the zoo's, upsampled first, as 2x2): one cell
    can show *what*, not *where*.
    """
    convs = features.conv_layers(model)
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer, so there is nothing to map")
    if shapes:
        roomy = [n for n in convs if n in shapes and min(shapes[n][-2:]) >= min_side]
        if roomy:
            return roomy[-1]
    return convs[-1]


def grad_cam(model: nn.Module, x: torch.Tensor, layer: str | None = None, target: int | None = None) -> Cam:
    """Grad-CAM of one image at `layer` (default: the last conv) for class `target` (default: the predicted one).

    Args:
        model: a classifier returning (1, classes) scores; left unchanged.
        x: one image, (C, H, W) or (1, C, H, W), normalised as the model expects.
        layer: a `named_modules()` name whose output is (1, K, h, w).
        target: the class index to explain.

    Raises:
        KeyError: no layer of that name.
        ValueError: the layer's output is not a (1, K, h, w) map, or the target is out of range.
    """
    x = x.unsqueeze(0) if x.dim() == 3 else x
    layer = layer or features.last_conv(model)
    with features.capture(model, [layer], keep_graph=True) as kept, features.evaluating(model), torch.enable_grad():
        scores = model(x.detach().clone().requires_grad_(True))  # (1, classes)
        a = kept.get(layer)
        if a is None or a.dim() != 4:
            raise ValueError(f"Layer {layer!r} does not output (1, K, h, w) feature maps")
        target = int(scores[0].argmax()) if target is None else int(target)
        if not 0 <= target < scores.shape[1]:
            raise ValueError(f"class {target} is out of range for {scores.shape[1]} classes")
        (grad,) = torch.autograd.grad(scores[0, target], a)  # (1, K, h, w)
    a, grad = a[0].detach(), grad[0]
    alpha = grad.mean(dim=(1, 2))  # (K,)
    heat = torch.relu((alpha[:, None, None] * a).sum(dim=0))  # (h, w)
    return Cam(layer, target, heat.numpy().astype(np.float32), a.numpy(), alpha.numpy(),
               torch.softmax(scores[0].detach(), dim=0).numpy())


def mean_activation(activations: torch.Tensor | np.ndarray) -> np.ndarray:
    """A layer's (K, h, w) output averaged over channels: the raw 'how busy is each place' map."""
    return render.as_numpy(activations).mean(axis=0)


def upsample(heat: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of an (h, w) map to (height, width), as Grad-CAM papers draw it."""
    t = torch.from_numpy(np.ascontiguousarray(heat, dtype=np.float32))[None, None]
    return F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)[0, 0].numpy()


def overlay(image: np.ndarray, heat: np.ndarray, opacity: float = 0.5, cmap: str = "jet",
            normalise: str = "max") -> np.ndarray:
    """The heat map, coloured and enlarged to the image, blended over it: uint8 RGB of the image's size.

    Args:
        image: (H, W, 3) or (H, W) uint8.
        heat: (h, w) map at the layer's resolution.
        opacity: 0 shows only the image, 1 only the heat map.
        normalise: 'max' divides by the maximum (Grad-CAM's ReLU keeps it >= 0); 'minmax' stretches
            min..max to the colour range (for raw activations that may be negative).
    """
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    h, w = image.shape[:2]
    heat = upsample(heat, h, w)
    lo = float(heat.min()) if normalise == "minmax" else 0.0
    span = float(heat.max()) - lo
    values = np.zeros_like(heat) if span <= 0 else ((heat - lo) / span).clip(0, 1)
    colour = render.colorize(values, cmap).astype(np.float32)
    out = (1 - opacity) * image.astype(np.float32) + opacity * colour
    return np.rint(out).astype(np.uint8)
