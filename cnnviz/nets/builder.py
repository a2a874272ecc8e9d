"""Building a network description: the nn.Sequential it stands for, checked against the size limits first."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnnviz.nets.limits import check
from cnnviz.nets.netspec import MODULE_NAMES, check_input_shape, normalise_all
from cnnviz.nets.tables import spec_table


def build(layers: Sequence[dict[str, Any]], input_shape: Sequence[int]) -> Any:
    """The nn.Sequential a description stands for, with named modules (conv1, relu1, pool1, fc1, ...).

    Args:
        layers: layer dicts (see the module docstring); missing settings take their defaults.
        input_shape: (C, H, W) for images or (N,) for flat inputs.

    Raises:
        ValueError: an impossible network, naming the layer and the reason, e.g. "layer 7 (conv3: conv 128 k5):
            its input is 64×4×4, and the kernel (5) is larger than the padded input ...".
        cnnviz.nets.limits.TooLarge: a network over cnnviz's size limits (a ValueError too), naming the limit.
    """
    from collections import OrderedDict

    from torch import nn

    layers = normalise_all(layers)
    check(layers, input_shape)  # too large for a shared server: refused before any module or tensor exists
    table = spec_table(layers, input_shape)  # raises on impossible shapes, naming the layer
    shapes = [check_input_shape(input_shape)] + [row["output_shape"] for row in table]
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    for layer, row, shape in zip(layers, table, shapes):
        modules[row["name"]] = _module(layer, shape, nn)
    return nn.Sequential(modules)


def _module(layer: dict[str, Any], shape: tuple[int, ...], nn: Any) -> Any:
    """One torch module for a normalised layer whose input has `shape` (without the batch)."""
    kind = layer["type"]
    if kind == "conv":
        return nn.Conv2d(shape[0], layer["out"], layer["kernel"], stride=layer["stride"], padding=layer["padding"],
                         dilation=layer["dilation"], bias=layer["bias"])
    if kind == "pool":
        pool = nn.MaxPool2d if layer["kind"] == "max" else nn.AvgPool2d
        return pool(layer["kernel"], stride=layer["stride"], padding=layer["padding"], ceil_mode=layer["ceil_mode"])
    if kind == "globalpool":
        return (nn.AdaptiveMaxPool2d if layer["kind"] == "max" else nn.AdaptiveAvgPool2d)(1)
    if kind == "bn":
        return (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(shape[0])
    if kind == "linear":
        return nn.Linear(shape[0], layer["out"], bias=layer["bias"])
    if kind in ("dropout", "dropout2d"):
        return getattr(nn, MODULE_NAMES[kind])(layer["p"])
    if kind == "leakyrelu":
        return nn.LeakyReLU(layer["slope"])
    return getattr(nn, MODULE_NAMES[kind])()
