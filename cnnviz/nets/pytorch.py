"""Networks written as PyTorch code (`nn.Conv2d(3, 32, 5, padding=2)`, a pasted `nn.Sequential(...)`), read into
the description language's layer dicts, so a student can paste what their assignment already has.

Each call is read with Python's own parser (`ast`), never run. Input channels and features (`nn.Conv2d(3, ...)`'s
3, `nn.Linear(2048, ...)`'s 2048) are left out, as in the text form: they follow from the input shape.
"""
from __future__ import annotations

import ast
import re
from typing import Any

__all__ = ["CALL", "looks_like_pytorch", "layer"]

CALL = re.compile(r"^\s*(?:\w+\s*=\s*)?(?:torch\.)?(?:nn\.)?([A-Z]\w*)\s*\(")  # nn.Conv2d(... or Conv2d(...
SKIP = re.compile(r"^\s*(?:\w+\s*=\s*)?(?:torch\.)?(?:nn\.)?Sequential\s*\(\s*$|^\s*\)\s*,?\s*$")  # the frame
# class -> (layer type, the positional parameters in PyTorch's order; "in" is read and left out)
SIGNATURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Conv2d": ("conv", ("in", "out", "kernel", "stride", "padding", "dilation", "groups", "bias")),
    "MaxPool2d": ("pool", ("kernel", "stride", "padding", "dilation", "return_indices", "ceil_mode")),
    "AvgPool2d": ("pool", ("kernel", "stride", "padding", "ceil_mode")),
    "AdaptiveAvgPool2d": ("globalpool", ("output_size",)),
    "AdaptiveMaxPool2d": ("globalpool", ("output_size",)),
    "BatchNorm2d": ("bn", ("in",)), "BatchNorm1d": ("bn", ("in",)),
    "ReLU": ("relu", ("inplace",)), "LeakyReLU": ("leakyrelu", ("slope", "inplace")), "ELU": ("elu", ("alpha",)),
    "GELU": ("gelu", ()), "SiLU": ("silu", ("inplace",)), "Sigmoid": ("sigmoid", ()), "Tanh": ("tanh", ()),
    "Dropout": ("dropout", ("p", "inplace")), "Dropout2d": ("dropout2d", ("p", "inplace")),
    "Flatten": ("flatten", ()), "Linear": ("linear", ("in", "out", "bias")),
}
KEYWORDS = {"in_channels": "in", "out_channels": "out", "kernel_size": "kernel", "in_features": "in",
            "out_features": "out", "num_features": "in", "negative_slope": "slope", "start_dim": "start_dim"}
IGNORED = {"in", "inplace", "return_indices", "alpha", "eps", "momentum", "affine", "track_running_stats",
           "padding_mode", "start_dim", "end_dim", "approximate", "count_include_pad", "divisor_override"}


def looks_like_pytorch(line: str) -> bool:
    """Whether a line is PyTorch code (a module call, or the frame of an nn.Sequential) rather than the text form."""
    return bool(CALL.match(line) or SKIP.match(line))


def layer(line: str) -> dict[str, Any] | None:
    """The layer dict of one line of PyTorch code; None for the frame of an nn.Sequential ('nn.Sequential(', ')').

    Raises:
        ValueError: a class cnnviz cannot draw, a call that does not parse, or a setting it cannot take, each with
            the token, what was expected and an example.
    """
    if SKIP.match(line):
        return None
    name = CALL.match(line).group(1)
    if name not in SIGNATURES:
        known = ", ".join(f"nn.{n}" for n in SIGNATURES)
        raise ValueError(f"nn.{name} is not a layer cnnviz can draw here; it reads {known}")
    kind, order = SIGNATURES[name]
    settings = _arguments(line[line.index(name):].rstrip().rstrip(","), name, order)
    return _translate(kind, name, settings)


def _arguments(code: str, name: str, order: tuple[str, ...]) -> dict[str, Any]:
    """The call's arguments by parameter name, read by Python's parser (literals only)."""
    try:
        call = ast.parse(code, mode="eval").body
        if not isinstance(call, ast.Call):
            raise SyntaxError
        values = [ast.literal_eval(a) for a in call.args]
        named = {KEYWORDS.get(k.arg, k.arg): ast.literal_eval(k.value) for k in call.keywords}
    except (SyntaxError, ValueError):
        raise ValueError(f"could not read {code!r}: write the call with plain numbers, e.g. "
                         f"nn.Conv2d(3, 32, 5, padding=2)") from None
    if len(values) > len(order):
        raise ValueError(f"nn.{name} takes at most {len(order)} plain arguments ({', '.join(order)}), "
                         f"got {len(values)}")
    return {**dict(zip(order, values)), **named}


def _translate(kind: str, name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The description language's dict for `kind` from PyTorch's settings."""
    out: dict[str, Any] = {"type": kind}
    for key, value in settings.items():
        if key in IGNORED:
            continue
        if key == "groups":
            if value != 1:
                raise ValueError(f"nn.{name}(groups={value}): grouped convolutions are not in a description yet; "
                                 "leave groups out")
            continue
        if key == "output_size":
            if _square(value, key, name) != 1:
                raise ValueError(f"nn.{name}({value}): only output size 1 (global pooling) is supported")
            continue
        out[key] = _square(value, key, name) if key in ("kernel", "stride", "padding", "dilation") else value
    if name.startswith(("Max", "Avg", "AdaptiveMax", "AdaptiveAvg")):
        out["kind"] = "max" if "Max" in name else "avg"
    return out


def _square(value: Any, key: str, name: str) -> Any:
    """A square setting as one number: (5, 5) -> 5."""
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise ValueError(f"nn.{name}: {key}={tuple(value)} is not square; a description takes one number, e.g. "
                             f"{key}={value[0]}")
        return value[0]
    return value
