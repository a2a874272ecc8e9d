"""Batched data augmentation on uint8 image tensors already on the training device (no per-image PIL work)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("flip", "crop", "rotate", "jitter")
CROP_PAD = 4        # pixels of reflect padding before a random crop back to the original size
ROTATE_DEG = 12.0   # maximum absolute rotation in degrees
JITTER = 0.25       # maximum relative change of brightness and contrast


def augment(x: torch.Tensor, ops: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """Apply the chosen augmentations to a uint8 batch (B, C, H, W); returns floats in [0, 1]."""
    x = x.float().div_(255)
    if "crop" in ops:
        x = random_crop(x, CROP_PAD, gen)
    if "flip" in ops:
        x = random_flip(x, gen)
    if "rotate" in ops:
        x = random_rotate(x, ROTATE_DEG, gen)
    if "jitter" in ops:
        x = colour_jitter(x, JITTER, gen)
    return x


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """n uniform draws in [low, high) from the CPU generator (reproducible on every device)."""
    return (torch.rand(n, generator=gen) * (high - low) + low).to(device)


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    mask = _uniform(x.shape[0], 0, 1, gen, x.device) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)


def random_crop(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Reflect-pad by `pad` and cut each image back out at its own random offset."""
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")            # (B, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (B, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)


def random_rotate(x: torch.Tensor, max_deg: float, gen: torch.Generator) -> torch.Tensor:
    """Rotate each image by its own angle in [-max_deg, max_deg], filling corners with zeros."""
    angle = _uniform(x.shape[0], -max_deg, max_deg, gen, x.device) * math.pi / 180
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False)


def colour_jitter(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    """Scale each image's brightness and contrast by random factors in [1 - strength, 1 + strength]."""
    b = x.shape[0]
    brightness = _uniform(b, 1 - strength, 1 + strength, gen, x.device).view(-1, 1, 1, 1)
    contrast = _uniform(b, 1 - strength, 1 + strength, gen, x.device).view(-1, 1, 1, 1)
    x = x * brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # contrast pivots on the brightened image's mean
    return ((x - mean) * contrast + mean).clamp_(0, 1)
