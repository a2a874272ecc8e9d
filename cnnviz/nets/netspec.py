"""Network descriptions: a list of layer dicts and a text form a student can type (cnnviz.nets.builder builds them).

A layer is a dict with a "type" and its settings, for example
    {"type": "conv", "out": 32, "kernel": 5, "padding": 2, "stride": 1, "dilation": 1, "bias": True}
    {"type": "pool", "kind": "max", "kernel": 2, "stride": 2, "padding": 0, "ceil_mode": False}
    {"type": "globalpool", "kind": "avg"}     {"type": "bn"}     {"type": "relu"}
    {"type": "dropout", "p": 0.5}    {"type": "dropout2d", "p": 0.25}    {"type": "flatten"}
    {"type": "linear", "out": 10, "bias": True}
Activations: relu, leakyrelu (with "slope"), elu, gelu, silu, sigmoid, tanh. Input channels and features are
never written: they follow from the input shape, (C, H, W) for images or (N,) for flat inputs.

The text form has one layer per line (or several separated by ";"); `#` starts a comment:

    conv 32 k5 p2        conv: OUT filters; k kernel, s stride, p padding (a number or "same"),
                         d dilation; "nobias" drops the bias. "conv 32 5" and "conv 32 5x5" also
                         give kernel 5; defaults k3 s1 p0 d1.
    pool max 2           pool KIND KERNEL (kind max or avg, default max; stride = kernel); or with
    pool avg k3 s2 p1    k/s/p as for conv, and "ceil" for ceil_mode. "maxpool 2", "avgpool 2" too.
    globalpool avg       global average (or max) pooling to 1×1, as at the end of a ResNet; "gap".
    bn                   batch norm ("batchnorm"); 2-D before flatten, 1-D after it.
    relu                 or leakyrelu 0.1, elu, gelu, silu, sigmoid, tanh.
    dropout 0.5          dropout with probability 0.5 (default); dropout2d drops whole channels.
    flatten
    linear 10            a fully connected layer with 10 outputs ("fc 10" too; "nobias" as for conv).

Modules are named like the zoo's: conv1, conv2, pool1, bn1, relu1, drop1, flatten, fc1, ... so features
are addressable by `named_modules()` names, and the presets below build the zoo's mnist_cnn and cifar_cnn
with the same state_dict keys.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnnviz.nets import pytorch

ACTIVATIONS = ("relu", "leakyrelu", "elu", "gelu", "silu", "sigmoid", "tanh")
TYPES = ("conv", "pool", "globalpool", "bn", *ACTIVATIONS, "dropout", "dropout2d", "flatten", "linear")
MODULE_NAMES = {  # layer type -> torch.nn class name
    "conv": "Conv2d", "linear": "Linear", "flatten": "Flatten", "dropout": "Dropout", "dropout2d": "Dropout2d",
    "relu": "ReLU", "leakyrelu": "LeakyReLU", "elu": "ELU", "gelu": "GELU", "silu": "SiLU", "sigmoid": "Sigmoid",
    "tanh": "Tanh",
}
PREFIX = {"conv": "conv", "pool": "pool", "globalpool": "gpool", "bn": "bn", "dropout": "drop", "dropout2d": "drop",
          "flatten": "flatten", "linear": "fc"}
DEFAULTS: dict[str, dict[str, Any]] = {
    "conv": {"out": None, "kernel": 3, "padding": 0, "stride": 1, "dilation": 1, "bias": True},
    "pool": {"kind": "max", "kernel": 2, "stride": None, "padding": 0, "ceil_mode": False},
    "globalpool": {"kind": "avg"},
    "linear": {"out": None, "bias": True},
    "dropout": {"p": 0.5},
    "dropout2d": {"p": 0.5},
    "leakyrelu": {"slope": 0.01},
}
ALIASES = {"conv2d": "conv", "maxpool": "pool", "max_pool": "pool", "avgpool": "pool", "avg_pool": "pool",
           "gap": "globalpool", "batchnorm": "bn", "fc": "linear", "dense": "linear", "drop": "dropout",
           "leaky_relu": "leakyrelu", "swish": "silu"}


CHEAT_SHEET = """
| Line | Layer |
| --- | --- |
| `conv 32 k5 p2` | 32 filters, 5×5 kernel, padding 2 (also `s2` stride, `d2` dilation, `p=same`, `nobias`) |
| `pool max 2` | 2×2 max-pooling, stride 2 (`pool avg k3 s2 p1 ceil` for more) |
| `globalpool avg` | average over the whole map, to 1×1 |
| `bn` | batch norm |
| `relu` | also `leakyrelu 0.1`, `elu`, `gelu`, `silu`, `sigmoid`, `tanh` |
| `dropout 0.5` | `dropout2d 0.5` drops whole channels |
| `flatten` | (C, H, W) → C·H·W features |
| `linear 10` | fully connected, 10 outputs |

Input channels and features follow from the input shape. `#` starts a comment; `;` separates layers on a line.
"""  # the text form in brief (Markdown), for a page's "how to write a network"


@dataclass(frozen=True)
class Preset:
    """A ready-made description with the input shape it is meant for."""

    text: str
    input_shape: tuple[int, ...]
    about: str

    @property
    def shape_text(self) -> str:
        """The input shape as a student types it: '3x32x32' (see `parse_shape`)."""
        return "x".join(map(str, self.input_shape))


PRESETS: dict[str, Preset] = {
    "mnist_cnn": Preset("""\
conv 10 k5
pool max 2
relu
conv 20 k5
dropout2d 0.5
pool max 2
relu
flatten
linear 50
relu
dropout 0.5
linear 10""", (1, 28, 28), "The zoo's MNIST CNN (21,840 parameters)."),
    "cifar_cnn": Preset("""\
conv 32 k5 p2
relu
pool max 2
conv 64 k5 p2
relu
pool max 2
conv 128 k5 p2
relu
pool max 2
flatten
linear 64
relu
linear 10""", (3, 32, 32), "The zoo's CIFAR-10 CNN (390,410 parameters)."),
    "lenet5": Preset("""\
conv 6 k5 p2
tanh
pool avg 2
conv 16 k5
tanh
pool avg 2
flatten
linear 120
tanh
linear 84
tanh
linear 10""", (1, 28, 28), "LeCun's LeNet-5 (1998) on 28×28 digits, padded to the original 32×32."),
    "all_conv": Preset("""\
conv 32 k3 p1 nobias
bn
relu
conv 64 k3 s2 p1 nobias
bn
relu
conv 128 k3 s2 p1 nobias
bn
relu
globalpool avg
flatten
linear 10""", (3, 32, 32), "Strided convolutions instead of pooling, batch norm and global average pooling."),
    "too_deep": Preset("""\
conv 32 k5
relu
pool max 2
conv 64 k5
relu
pool max 2
conv 128 k5
relu
flatten
linear 10""", (1, 28, 28), "An impossible network: the third 5×5 conv meets a 4×4 input."),
}


# ------------------------------------------------------------------------------------------ layer dicts


def normalise(layer: dict[str, Any]) -> dict[str, Any]:
    """A copy of `layer` with its type checked and every setting filled in and checked.

    Raises:
        ValueError: unknown type or setting, or a setting out of range (the message says which).
    """
    if not isinstance(layer, dict) or "type" not in layer:
        raise ValueError(f"a layer must be a dict with a 'type', got {layer!r}")
    kind = ALIASES.get(str(layer["type"]).lower(), str(layer["type"]).lower())
    if kind not in TYPES:
        raise ValueError(f"unknown layer type {layer['type']!r}; known types: {', '.join(TYPES)}")
    defaults = DEFAULTS.get(kind, {})
    extra = set(layer) - {"type"} - set(defaults)
    if extra:
        allowed = ", ".join(defaults) or "none"
        raise ValueError(f"{kind} has no setting {', '.join(sorted(extra))} (its settings: {allowed})")
    out: dict[str, Any] = {"type": kind, **defaults, **{k: v for k, v in layer.items() if k != "type"}}
    if kind in ("conv", "linear"):
        if out["out"] is None:
            raise ValueError(f"{kind} needs a number of {'filters' if kind == 'conv' else 'outputs'}, e.g. "
                             f"'{'conv 32 k3' if kind == 'conv' else 'linear 10'}'")
        out["out"] = _positive(out["out"], "the number of outputs" if kind == "linear" else "the number of filters")
        out["bias"] = _flag(out["bias"], "bias")
    if kind in ("conv", "pool"):
        out["kernel"] = _positive(out["kernel"], "kernel")
        if kind == "pool" and out["stride"] is None:
            out["stride"] = out["kernel"]  # PyTorch's default for pooling
        out["stride"] = _positive(out["stride"], "stride")
        if not (kind == "conv" and out["padding"] == "same"):
            out["padding"] = _whole(out["padding"], "padding", 0)
    if kind == "conv":
        out["dilation"] = _positive(out["dilation"], "dilation")
        if out["padding"] == "same" and out["stride"] != 1:
            raise ValueError("padding 'same' works only with stride 1 (PyTorch)")
    if kind == "pool":
        out["ceil_mode"] = _flag(out["ceil_mode"], "ceil_mode")
        if out["padding"] > out["kernel"] // 2:
            raise ValueError(f"pool padding {out['padding']} is more than half the kernel ({out['kernel']} // 2 = "
                             f"{out['kernel'] // 2}), which PyTorch does not allow")
    if kind in ("pool", "globalpool") and out["kind"] not in ("max", "avg"):
        raise ValueError(f"{kind} kind must be max or avg, got {out['kind']!r}")
    if kind in ("dropout", "dropout2d"):
        out["p"] = _number(out["p"], "dropout probability")
        if not 0 <= out["p"] <= 1:
            raise ValueError(f"dropout probability must be between 0 and 1, got {out['p']:g}")
    if kind == "leakyrelu":
        out["slope"] = _number(out["slope"], "leakyrelu slope")
    return out


def _whole(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) and not (isinstance(value, float) and value.is_integer()):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _positive(value: Any, name: str) -> int:
    return _whole(value, name, 1)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def normalise_all(layers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`normalise` every layer; errors name the layer ('layer 3: ...'). An empty network is an error."""
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise ValueError("a network description is a list of layer dicts (use parse() for text)")
    if not layers:
        raise ValueError("the network has no layers")
    result = []
    for i, layer in enumerate(layers, start=1):
        try:
            result.append(normalise(layer))
        except ValueError as exc:
            raise ValueError(f"layer {i}: {exc}") from None
    return result


def check_input_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """(C, H, W) or (N,) as a tuple of positive ints, or a ValueError saying what is wrong."""
    try:
        values = tuple(shape)
    except TypeError:
        raise ValueError(f"the input shape must be (channels, height, width) or (features,), got {shape!r}") from None
    if len(values) not in (1, 3) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ValueError(f"the input shape must be (channels, height, width) or (features,) of positive whole "
                         f"numbers, got {values!r}")
    return values


def parse_shape(text: str) -> tuple[int, ...]:
    """'3x32x32', '3, 32, 32' or '(1, 28, 28)' -> (3, 32, 32); '784' -> (784,)."""
    parts = [p for p in re.split(r"[x×,\s()]+", text.strip().lower()) if p]
    try:
        return check_input_shape(tuple(int(p) for p in parts))
    except ValueError:
        raise ValueError(f"could not read the input shape {text!r}: write channels×height×width, e.g. 3x32x32, "
                         "or a number of features, e.g. 784") from None


def layer_names(layers: Sequence[dict[str, Any]]) -> list[str]:
    """Module names for normalised layers: conv1, relu1, pool1, ..., fc1; a single flatten is just 'flatten'."""
    prefixes = [PREFIX.get(layer["type"], layer["type"]) for layer in layers]
    counts: dict[str, int] = {}
    names = []
    for prefix in prefixes:
        counts[prefix] = counts.get(prefix, 0) + 1
        names.append(prefix if prefix == "flatten" and prefixes.count("flatten") == 1 else f"{prefix}{counts[prefix]}")
    return names


# ------------------------------------------------------------------------------------------ text form


def layer_text(layer: dict[str, Any]) -> str:
    """The canonical text of one normalised layer, e.g. 'conv 32 k5 p2' (defaults left out)."""
    kind = layer["type"]
    if kind == "conv":
        text = f"conv {layer['out']} k{layer['kernel']}"
        text += f" s{layer['stride']}" if layer["stride"] != 1 else ""
        text += " p=same" if layer["padding"] == "same" else f" p{layer['padding']}" if layer["padding"] else ""
        text += f" d{layer['dilation']}" if layer["dilation"] != 1 else ""
        return text + ("" if layer["bias"] else " nobias")
    if kind == "pool":
        text = f"pool {layer['kind']} {layer['kernel']}"
        text += f" s{layer['stride']}" if layer["stride"] != layer["kernel"] else ""
        text += f" p{layer['padding']}" if layer["padding"] else ""
        return text + (" ceil" if layer["ceil_mode"] else "")
    if kind == "globalpool":
        return f"globalpool {layer['kind']}"
    if kind == "linear":
        return f"linear {layer['out']}" + ("" if layer["bias"] else " nobias")
    if kind in ("dropout", "dropout2d"):
        return f"{kind} {layer['p']:g}"
    if kind == "leakyrelu":
        return f"leakyrelu {layer['slope']:g}"
    return kind


def layer_settings(layer: dict[str, Any]) -> str:
    """The settings part of the canonical text (what follows the type), for tables."""
    text = layer_text(layer)
    return text.split(" ", 1)[1] if " " in text else ""


def to_text(layers: Sequence[dict[str, Any]]) -> str:
    """The text form of a network, one layer per line; parse(to_text(layers)) == normalise_all(layers)."""
    return "\n".join(layer_text(layer) for layer in normalise_all(layers))


_SETTING = re.compile(r"^(kernel|stride|padding|pad|dilation|out|slope|k|s|p|d)=?(.+)$")
_KEYS = {"k": "kernel", "s": "stride", "p": "padding", "pad": "padding", "d": "dilation"}
_NAMES = {"kernel", "stride", "padding", "pad", "dilation", "k", "s", "p", "d"}  # a setting's name written alone


def parse(text: str) -> list[dict[str, Any]]:
    """Read the text form (see the module docstring) into normalised layer dicts.

    Raises:
        ValueError: a line that cannot be read, naming the line number, its text and what is wrong.
    """
    layers = []
    for number, raw in enumerate(text.splitlines(), start=1):
        for part in raw.split("#", 1)[0].split(";"):
            line = part.strip()
            if not line:
                continue
            try:
                found = pytorch.layer(line) if pytorch.looks_like_pytorch(line) else _parse_line(line)
                if found is not None:  # None: the frame of a pasted nn.Sequential
                    layers.append(normalise(found))
            except ValueError as exc:
                raise ValueError(f'line {number} ("{line}"): {exc}') from None
    if not layers:
        raise ValueError("the description has no layers: write one layer per line, e.g. 'conv 32 k3 p1'")
    return layers


def _parse_line(line: str) -> dict[str, Any]:
    words = line.replace(",", " ").split()
    word = words[0].lower()
    kind = ALIASES.get(word, word)
    if kind not in TYPES:
        raise ValueError(f"unknown layer {words[0]!r}; known layers: {', '.join(TYPES)}")
    layer: dict[str, Any] = {"type": kind}
    if word.startswith(("max", "avg")):
        layer["kind"] = word[:3]
    bare: list[str] = []
    for token in _joined([w.lower() for w in words[1:]]):
        if token in ("max", "avg") and kind in ("pool", "globalpool"):
            layer["kind"] = token
        elif token in ("nobias", "bias") and kind in ("conv", "linear"):
            layer["bias"] = token == "bias"
        elif token == "ceil" and kind == "pool":
            layer["ceil_mode"] = True
        elif token == "same" and kind == "conv":
            layer["padding"] = "same"
        elif (square := re.fullmatch(r"(?:k|kernel=?)?(\d+)[x×](\d+)", token)) and kind in ("conv", "pool"):
            a, b = square.groups()
            if a != b:
                raise ValueError(f"{token}: only square kernels are supported in a description")
            layer["kernel"] = int(a)
        elif re.fullmatch(r"[\d.]+", token):
            bare.append(token)
        elif (m := _SETTING.match(token)) and not (kind in ("dropout", "dropout2d") and m.group(1) != "p"):
            key = _KEYS.get(m.group(1), m.group(1))
            if kind in ("dropout", "dropout2d"):
                key = "p"
            layer[key] = _value(m.group(2), key)
        else:
            raise ValueError(f"cannot read {token!r} for {kind}; {_HELP.get(kind, f'{kind} takes no settings')}")
    _place_bare(kind, layer, bare)
    return layer


def _joined(tokens: list[str]) -> list[str]:
    """'pad 2', 'stride 2', 'kernel 5' as one token each ('pad2'): the spelling a student writes in words."""
    out: list[str] = []
    for token in tokens:
        if out and out[-1] in _NAMES:
            out[-1] += token
        else:
            out.append(token)
    return out


def _value(text: str, key: str) -> Any:
    if key == "padding" and text == "same":
        return "same"
    try:
        return float(text) if key in ("p", "slope") else int(text)
    except ValueError:
        kind = "number" if key in ("p", "slope") else "whole number"
        raise ValueError(f"{key} must be a {kind}, got {text!r}") from None


def _place_bare(kind: str, layer: dict[str, Any], bare: list[str]) -> None:
    """Plain numbers: conv OUT [KERNEL], pool KERNEL, linear OUT, dropout P, leakyrelu SLOPE."""
    slots = {"conv": ["out", "kernel"], "pool": ["kernel"], "linear": ["out"], "dropout": ["p"], "dropout2d": ["p"],
             "leakyrelu": ["slope"]}.get(kind, [])
    free = [s for s in slots if s not in layer]
    if len(bare) > len(free):
        raise ValueError(f"too many plain numbers ({' '.join(bare)}); {_HELP.get(kind, f'{kind} takes no settings')}")
    for slot, token in zip(free, bare):
        layer[slot] = _value(token, slot)


_HELP = {
    "conv": "write e.g. 'conv 32 k5 s1 p2 d1' (k kernel, s stride, p padding or p=same, d dilation, nobias)",
    "pool": "write e.g. 'pool max 2' or 'pool avg k3 s2 p1 ceil'",
    "globalpool": "write 'globalpool avg' or 'globalpool max'",
    "linear": "write e.g. 'linear 10' (nobias to drop the bias)",
    "dropout": "write e.g. 'dropout 0.5'",
    "dropout2d": "write e.g. 'dropout2d 0.25'",
    "leakyrelu": "write e.g. 'leakyrelu 0.1'",
}
