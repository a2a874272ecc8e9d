"""What a look inside a model says: the answer's ranking, a guess's verdict, one map's numbers and the captions
of layers, filters and weights, as numbers and text (the page only shows them).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.inside import render

TOP_K = 5  # classes in the prediction bars
KIND = {"conv": "convolution", "activation": "activation", "pool": "pooling"}  # features.kind -> a word
GREYS = "mid-grey is 0, white positive, black negative"  # how a grey kernel tile reads
FIRST_LAYER_TILES = (64, 48)  # (filters shown, px per tile) of kernels that look at the image itself
DEEP_LAYER_TILES = (16, 30)  # the same deeper in, where each filter is a row of tiles, one per input channel
MAX_INPUTS = 16  # input channels shown per filter of a deeper layer


def top(probs: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Indices of the `k` likeliest classes, likeliest first."""
    return np.argsort(-probs)[:k]


def rank(probs: np.ndarray, i: int) -> int:
    """Place of class `i` by probability: 1 for the likeliest, ties sharing the better place."""
    return int((probs > probs[i]).sum()) + 1


def verdict(guess: int, probs: np.ndarray, classes: Sequence[str]) -> str:
    """How a student's guess compares with the network's answer, in markdown."""
    if guess == int(np.argmax(probs)):
        return "✅ You guessed what the network says."
    return (f"❌ You said **{classes[guess]}**; the network gave it {probs[guess]:.1%} (number "
            f"{rank(probs, guess)} of {len(classes)}).")


def shape_text(shape: Sequence[int]) -> str:
    """A shape as the pickers list it: (6, 26, 26) -> "6 × 26 × 26"."""
    return " × ".join(map(str, shape))


def layer_caption(picture: render.LayerPicture, module: nn.Module, strongest_first: bool) -> str:
    """What a layer's grid shows: the layer, its kind, how many maps of what size, their range."""
    c, h, w = picture.shape
    return (f"{picture.name} · {type(module).__name__} ({KIND[picture.kind]}) · {c} maps of {h}×{w}, values "
            f"{picture.lo:.3g} to {picture.hi:.3g}" + (", strongest first" if strongest_first else ""))


@dataclass(frozen=True)
class MapReading:
    """One channel of a layer's output in numbers."""

    layer: str
    channel: int
    height: int
    width: int
    lo: float
    hi: float
    mean: float
    rank: int  # its place among the layer's channels by mean activation, 1 = strongest
    count: int  # the layer's channels

    @property
    def single(self) -> bool:
        """Whether the map is down to one number (it then says *what*, no longer *where*)."""
        return self.height * self.width == 1

    def sentence(self) -> str:
        """The reading in markdown, under the close-up's controls."""
        return (f"**{self.layer}, channel {self.channel}**: {self.height}×{self.width} values from "
                f"**{self.lo:.3g}** to **{self.hi:.3g}** (mean {self.mean:.3g}); by mean activation it ranks "
                f"{self.rank} of {self.count}." + (" At this depth the image is down to a single number per "
                                                  "channel: it says *what*, no longer *where*." if self.single
                                                  else ""))


def read_map(layer: str, maps: torch.Tensor | np.ndarray, channel: int) -> MapReading:
    """The numbers of channel `channel` of layer `layer`'s (C, H, W) output for one image."""
    m = render.as_numpy(maps[channel])  # (H, W)
    place = list(render.channel_order(maps, "mean")).index(channel) + 1
    return MapReading(layer, channel, m.shape[0], m.shape[1], float(m.min()), float(m.max()), float(m.mean()),
                      place, len(maps))


def closeup_range(reading: MapReading, picture: render.LayerPicture, norm: str) -> tuple[float, float] | None:
    """The range a close-up's colours span: the whole layer's when its maps share one scale or the map is one
    number (one number has no range of its own); None for the map's own range.
    """
    return (picture.lo, picture.hi) if norm == "layer" or reading.single else None


def first_filters_caption(in_channels: int, ordered: bool) -> str:
    """How to read the first layer's filters drawn beside their responses."""
    how = "colour, each stretched to its own range (red, green, blue weights)." if in_channels == 3 else f"{GREYS}."
    return f"Filters: {how}" + (" Ordered by mean response." if ordered else "")


def weight_tiles(weight: torch.Tensor | np.ndarray) -> tuple[np.ndarray, str]:
    """A conv layer's (O, I, kh, kw) kernels as one uint8 RGB picture, and its caption.

    A layer that looks at the image (I is 1 or 3) shows up to 64 filters, one tile each; a deeper one up to 16
    filters, one row each, with one grey tile per input channel (up to 16).
    """
    o, i = weight.shape[:2]
    filters, px = FIRST_LAYER_TILES if i in (1, 3) else DEEP_LAYER_TILES
    pixels = render.filter_tiles(weight, max_filters=filters, max_inputs=MAX_INPUTS, tile_px=px)
    if i == 3:
        return pixels, "One colour tile per filter."
    if i == 1:
        return pixels, f"One grey tile per filter (one input channel); {GREYS}."
    return pixels, (f"One row per filter, one grey tile per input channel (showing {min(filters, o)} of {o} "
                    f"filters × {min(MAX_INPUTS, i)} of {i} inputs); {GREYS}.")


def parameter_count(module: nn.Module) -> str:
    """How many weights and biases a conv layer holds, e.g. "450 weights and 6 biases."."""
    bias = getattr(module, "bias", None)
    return f"{module.weight.numel():,} weights" + (f" and {bias.numel()} biases" if bias is not None else
                                                    " (no bias: a batch norm follows)") + "."
