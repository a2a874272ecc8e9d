"""Size limits for described networks, checked by arithmetic before anything is allocated.

A description is typed by a student or arrives in a link, so nothing else stops "conv 4096 k3 p1" on a
4096 × 4096 input (256 GiB of activations) or "linear 100000" after a large map (billions of weights) from
taking a shared classroom server down. `check` works out every layer's output shape and parameter count from
the description alone (`tables.spec_table`, no torch) and refuses what is too large, naming the limit and
the layer; `builder.build` calls it first, so every caller is protected. The memory limits and the parameter
limit can be raised on a teacher's own machine through environment variables (`Limits.from_env`).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

from cnnviz.nets import netspec
from cnnviz.nets.tables import LayerTable, spec_table

MIB = 2**20
BYTES_PER_VALUE = 4              # bytes per activation or parameter: float32, what cnnviz runs and trains in
MAX_SIDE = 4096                  # pixels: an input's height or width (the size calculator's range)
MAX_CHANNELS = 4096              # channels: of the input or of one conv layer's output (VGG's widest: 512)
MAX_UNITS = 65_536               # outputs of one linear layer (VGG's widest: 4,096)
MAX_LAYERS = 1000                # layers in one description (ResNet-152 has about 500)
MAX_PARAMS = 30_000_000          # parameters, weights and biases (ResNet-50: 25.6 M); $CNNVIZ_MAX_PARAMS
MAX_MULT_ADDS = 20_000_000_000   # multiply-adds of one image's forward pass (VGG-16 at 224 px: 15.5 G)
MAX_IMAGE_BYTES = 512 * MIB      # bytes: one image's input and every layer's output (ResNet-50 at 224 px: 123 MiB);
                                 # $CNNVIZ_MAX_IMAGE_MB
MAX_BATCH_BYTES = 2048 * MIB     # bytes: the same for a training batch, batch size × one image's (the zoo's
                                 # ResNet-9 at batch 512: 1.1 GiB); $CNNVIZ_MAX_BATCH_MB


class TooLarge(ValueError):
    """A description over one of cnnviz's size limits; the message names the limit and the layer."""


@dataclass(frozen=True)
class Limits:
    """The bounds a described network must keep (counts, and bytes for the memory limits)."""

    side: int = MAX_SIDE
    channels: int = MAX_CHANNELS
    units: int = MAX_UNITS
    layers: int = MAX_LAYERS
    params: int = MAX_PARAMS
    mult_adds: int = MAX_MULT_ADDS
    image_bytes: int = MAX_IMAGE_BYTES
    batch_bytes: int = MAX_BATCH_BYTES

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, with what CNNVIZ_MAX_PARAMS, CNNVIZ_MAX_IMAGE_MB and CNNVIZ_MAX_BATCH_MB set instead."""
        return cls(params=_env("CNNVIZ_MAX_PARAMS", MAX_PARAMS, 1),
                   image_bytes=_env("CNNVIZ_MAX_IMAGE_MB", MAX_IMAGE_BYTES, MIB),
                   batch_bytes=_env("CNNVIZ_MAX_BATCH_MB", MAX_BATCH_BYTES, MIB))


def _env(name: str, default: int, unit: int) -> int:
    """A positive whole number of `unit`s from the environment; anything else keeps the safe default."""
    try:
        value = int(os.environ.get(name, ""))
    except ValueError:
        return default
    return value * unit if value > 0 else default


@dataclass(frozen=True)
class Footprint:
    """What one image costs a described network: its parameters, activations and multiply-adds."""

    params: int
    activations: int             # values: the input and every layer's output, one image
    mult_adds: int

    @property
    def image_bytes(self) -> int:
        return self.activations * BYTES_PER_VALUE


def check(layers: Sequence[dict[str, Any]], input_shape: Sequence[int], limits: Limits | None = None) -> Footprint:
    """The footprint of a description on `input_shape`, worked out by arithmetic alone (nothing is allocated).

    Raises:
        TooLarge: over a limit, naming the limit and the first layer that passes it.
        ValueError: an impossible network or input shape (as `tables.spec_table`).
    """
    limits = limits or Limits.from_env()
    layers = netspec.normalise_all(layers)
    shape = netspec.check_input_shape(input_shape)
    _check_input(shape, len(layers), limits)
    table = spec_table(layers, shape)
    activations, mult_adds = prod(shape), 0
    for i, (layer, row) in enumerate(zip(layers, table), start=1):
        where = f"Layer {i} ({row['name']}: {netspec.layer_text(layer)})"
        _check_width(layer, where, limits)
        _check_params(row["params"], row["total_params"], where, limits)
        activations += prod(row["output_shape"])
        mult_adds += row["mult_adds"]
        _check_activations(row["output_shape"], activations, where, limits)
        if mult_adds > limits.mult_adds:
            raise TooLarge(f"{where} brings one image's forward pass to {mult_adds:,} multiply-adds; cnnviz allows "
                           f"at most {limits.mult_adds:,}. Use fewer channels, smaller kernels or a smaller input.")
    return Footprint(table.total_params, activations, mult_adds)


def described_table(text: str, shape_text: str, limits: Limits | None = None
                    ) -> tuple[list[dict[str, Any]], tuple[int, ...], LayerTable]:
    """(layers, input shape, layer table) of a typed description and input shape, refused when over a limit.

    The table is worked out by arithmetic first, so an impossible network is named as such (not as too large);
    nothing is allocated.

    Raises:
        TooLarge: over a limit (see `check`).
        ValueError: the text or the shape does not parse, or the network is impossible, naming the layer.
    """
    layers = netspec.parse(text)
    shape = netspec.parse_shape(shape_text)
    table = spec_table(layers, shape)
    check(layers, shape, limits)
    return layers, shape, table


def check_training(layers: Sequence[dict[str, Any]], input_shape: Sequence[int], batch_size: int,
                   limits: Limits | None = None) -> Footprint:
    """`check`, and TooLarge when one training batch's activations (all kept for the backward pass) pass the limit."""
    limits = limits or Limits.from_env()
    footprint = check(layers, input_shape, limits)
    need = footprint.image_bytes * batch_size
    if need > limits.batch_bytes:
        fits = limits.batch_bytes // footprint.image_bytes
        advice = f"Use a batch of at most {fits:,} images or a smaller network." if fits else "Use a smaller network."
        raise TooLarge(f"A training batch of {batch_size:,} images needs {size_text(need)} of activations "
                       f"({size_text(footprint.image_bytes)} per image); cnnviz allows at most "
                       f"{size_text(limits.batch_bytes)} per batch. {advice}")
    return footprint


def _check_input(shape: tuple[int, ...], n_layers: int, limits: Limits) -> None:
    if n_layers > limits.layers:
        raise TooLarge(f"The description has {n_layers:,} layers; cnnviz allows at most {limits.layers:,}.")
    if len(shape) != 3:
        return  # a flat input counts towards the activation limit
    channels, height, width = shape
    if max(height, width) > limits.side:
        raise TooLarge(f"The input is {height:,} × {width:,} pixels; cnnviz allows at most {limits.side:,} pixels "
                       "a side. Use a smaller input.")
    if channels > limits.channels:
        raise TooLarge(f"The input has {channels:,} channels; cnnviz allows at most {limits.channels:,}.")


def _check_width(layer: dict[str, Any], where: str, limits: Limits) -> None:
    if layer["type"] == "conv" and layer["out"] > limits.channels:
        raise TooLarge(f"{where} has {layer['out']:,} filters; cnnviz allows at most {limits.channels:,} channels "
                       "per layer. Use fewer filters.")
    if layer["type"] == "linear" and layer["out"] > limits.units:
        raise TooLarge(f"{where} has {layer['out']:,} outputs; cnnviz allows at most {limits.units:,} units per "
                       "linear layer. Use fewer units.")


def _check_params(params: int, total: int, where: str, limits: Limits) -> None:
    if total <= limits.params:
        return
    what = (f"has {params:,} parameters" if params > limits.params
            else f"brings the network to {total:,} parameters")
    raise TooLarge(f"{where} {what} ({size_text(total * BYTES_PER_VALUE)}); cnnviz allows at most "
                   f"{limits.params:,} parameters. Use fewer channels or units, or pool the maps smaller before "
                   "flatten.")


def _check_activations(out_shape: tuple[int, ...], total: int, where: str, limits: Limits) -> None:
    out = prod(out_shape) * BYTES_PER_VALUE
    if out > limits.image_bytes:
        values = " × ".join(str(n) for n in out_shape)
        raise TooLarge(f"{where} makes {values} activations ({size_text(out)}) for one image; cnnviz allows at most "
                       f"{size_text(limits.image_bytes)} per image. Use fewer channels or a smaller input.")
    if total * BYTES_PER_VALUE > limits.image_bytes:
        raise TooLarge(f"{where} brings one image's activations (its input and every layer's output) to "
                       f"{size_text(total * BYTES_PER_VALUE)}; cnnviz allows at most {size_text(limits.image_bytes)} "
                       "per image. Use fewer channels, pool sooner or use a smaller input.")


def size_text(n_bytes: int) -> str:
    """'256 GiB', '1.5 MiB', '900 bytes': a size a student can read."""
    for unit, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n_bytes >= unit:
            value = n_bytes / unit
            return f"{value:,.0f} {name}" if value >= 100 else f"{value:.3g} {name}"
    return f"{n_bytes} bytes"
