"""Inside a U-Net: its encoder and decoder maps in pairs, and the checkerboard that upsampling can leave in them.

Distill's "Deconvolution and Checkerboard Artifacts" (Odena et al., 2016): when a transposed convolution's
kernel size is not a multiple of its stride, the painted blocks overlap unevenly, so some output pixels get more
contributions than their neighbours, and even when they do not overlap each of the stride x stride positions is
painted by different kernel weights. Either leaves a pattern that repeats every `stride` pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.inside import features

LEVELS = (1, 2, 3)  # enc_k and dec_k have the same height and width; dec_k reads enc_k through a skip connection


@dataclass(frozen=True, eq=False)
class Level:
    """One level of the U: what the encoder passed across, what the decoder upsampled, and what it made of both."""

    level: int
    encoder: torch.Tensor    # (C, H, W) output of enc_k
    upsampled: torch.Tensor  # (C, H, W) output of up_k, before the skip is joined
    decoder: torch.Tensor    # (C, H, W) output of dec_k


def levels(model: nn.Module, x: torch.Tensor) -> list[Level]:
    """The maps of every level for one normalised canvas `x` (1, H, W), top level (full size) first.

    The U-Net pads its input to a multiple of 8 (84 -> 88 columns); maps are cropped back to the picture's share.
    """
    names = [f"{part}{k}" for k in LEVELS for part in ("enc", "up", "dec")]
    maps = features.extract(model, x.unsqueeze(0), names)
    h, w = x.shape[-2:]
    found = []
    for k in LEVELS:
        crop = (-(-h // 2 ** (k - 1)), -(-w // 2 ** (k - 1)))
        enc, up, dec = (maps[f"{part}{k}"][0, :, :crop[0], :crop[1]] for part in ("enc", "up", "dec"))
        found.append(Level(k, enc, up, dec))
    return found


def phase_means(maps: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """(C, stride, stride): each channel's mean over the pixels at each position within a stride x stride block."""
    c, h, w = maps.shape
    blocks = maps[:, :h - h % stride, :w - w % stride].reshape(c, h // stride, stride, w // stride, stride)
    return blocks.mean(dim=(1, 3))


def checkerboard(maps: torch.Tensor, stride: int = 2) -> float:
    """How strongly maps (C, H, W) repeat every `stride` pixels: the spread of each channel's phase means over the
    channel's own spread, averaged over channels; 0 for maps with no such pattern (a nearest-neighbour copy of a
    smooth map), 1 when the pattern is as large as everything else in the map. Channels with no spread count 0."""
    spread = maps.flatten(1).std(dim=1)                            # (C,)
    pattern = phase_means(maps, stride).flatten(1).std(dim=1)      # (C,)
    alive = spread > 1e-6
    if not alive.any():
        return 0.0
    return float((pattern[alive] / spread[alive]).mean())


def overlap_counts(size: int, kernel: int, stride: int) -> torch.Tensor:
    """How many kernel cells of a transposed convolution land on each output pixel, for a `size` x `size` input
    of ones and a kernel of ones: the uneven overlap behind the checkerboard (a flat picture would be all equal)."""
    ones = torch.ones(1, 1, size, size)
    return F.conv_transpose2d(ones, torch.ones(1, 1, kernel, kernel), stride=stride)[0, 0]
