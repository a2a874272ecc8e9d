"""Per-layer tables: output shape, parameters and their formula, mult-adds and receptive field of every layer,
from a network description (`spec_table`, plain Python) or from a torch model (`layer_table`, one forward pass).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cnnviz.lessons.arithmetic import RF, conv_output_size, pool_output_size, rf_flatten, rf_upsample, rf_window
from cnnviz.nets import netspec
from cnnviz.nets.netspec import MODULE_NAMES


class LayerTable(list):
    """Rows (dicts) of a per-layer table, plus the totals and notes that go with them."""

    def __init__(self, rows: Iterable[dict[str, Any]] = (), *, input_shape: tuple[int, ...] = (),
                 receptive_field_exact: bool = True, notes: Sequence[str] = ()) -> None:
        super().__init__(rows)
        self.input_shape = tuple(input_shape)
        self.receptive_field_exact = receptive_field_exact
        self.notes = list(notes)

    @property
    def total_params(self) -> int:
        return sum(row["params"] for row in self)

    @property
    def total_mult_adds(self) -> int:
        return sum(row["mult_adds"] for row in self)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self[-1]["output_shape"] if self else self.input_shape

    @property
    def receptive_field(self) -> tuple[int, int] | None:
        """(height, width) in input pixels that one unit of the last map layer sees; None when there is none."""
        return next((row["receptive_field"] for row in reversed(self) if row["jump"] is not None), None)


COLUMNS = ("name", "type", "settings", "output_shape", "weights", "biases", "params", "formula", "total_params",
           "mult_adds", "receptive_field", "jump")
MULT_ADDS_NOTE = ("Mult-adds count the multiply-accumulate steps of conv and linear layers for one image "
                  "(bias additions, activations, pooling and batch norm are element-wise and not counted).")
RF_NOTE = ("Receptive field: how many input pixels (height × width) one unit of the layer can see; jump: how far "
           "apart, in input pixels, neighbouring units of the layer are. A receptive field larger than the image "
           "means the unit sees all of it (plus padding).")


DISPLAY_COLUMNS = {  # column of `display_rows` -> (title, help), in the order a page shows them
    "name": ("Layer", "The module's name in the model (named_modules)."),
    "layer": ("Type", "The PyTorch module and its settings: k kernel, s stride, p padding, d dilation."),
    "output_shape": ("Output shape", "Channels × height × width (or features) for one image."),
    "weights": ("Weights", "Weight parameters of this layer."),
    "biases": ("Biases", "Bias parameters (batch norm: β; its γ counts as weights)."),
    "formula": ("Formula", "How the parameters add up: out × in × kernel height × kernel width + biases."),
    "params": ("Params", "Weights + biases of this layer."),
    "total_params": ("Total", "Running total of the parameters up to this layer."),
    "mult_adds": ("Mult-adds", "Multiply-accumulate steps of this layer for one image."),
    "receptive_field": ("RF (jump)", "Receptive field: how many input pixels one unit of this layer can see; in "
                        "brackets the jump, the distance in input pixels between neighbouring units."),
}
# the columns that predict-first hides until the student has answered (they give the count away)
ANSWER_COLUMNS = ("output_shape", "weights", "biases", "formula", "params", "total_params", "mult_adds")
COUNT_COLUMNS = ("weights", "biases", "params", "total_params", "mult_adds")  # whole numbers, the others text


def _row(name: str, type_: str, settings: str, output_shape: tuple[int, ...], weights: int, biases: int,
         formula: str, mult_adds: int, rf: RF | None) -> dict[str, Any]:
    return {"name": name, "type": type_, "settings": settings, "output_shape": tuple(output_shape),
            "weights": weights, "biases": biases, "params": weights + biases, "formula": formula,
            "total_params": 0, "mult_adds": mult_adds,
            "receptive_field": None if rf is None else (_whole(rf[0]), _whole(rf[1])),
            "jump": None if rf is None or rf[2] is None else (_whole(rf[2]), _whole(rf[3]))}


def _whole(value: float) -> float:
    """5 for 5.0 (sizes pass through a fractional jump after upsampling), 0.5 stays 0.5."""
    return int(value) if float(value).is_integer() else value


def _running_totals(rows: list[dict[str, Any]]) -> None:
    total = 0
    for row in rows:
        total += row["params"]
        row["total_params"] = total


def param_formula(type_: str, shape: Sequence[int], bias: int) -> str:
    """Text such as '32×3×5×5 + 32' for a layer whose weight tensor has `shape` and `bias` biases."""
    if not shape:
        return ""
    text = "×".join(str(n) for n in shape)
    if type_.startswith("BatchNorm"):
        return f"{shape[0]} (γ) + {bias} (β)"
    return text + (f" + {bias}" if bias else "")


def spec_table(layers: Sequence[dict[str, Any]], input_shape: Sequence[int]) -> LayerTable:
    """The layer table of a network description (see cnnviz.nets.netspec) worked out by arithmetic alone, no torch.

    Row names and types are those of `builder.build`, so the two can be compared row by row.

    Raises:
        ValueError: an impossible network, naming the layer and the reason (e.g. the input became smaller
            than the kernel, or linear on a (C, H, W) input without flatten).
    """

    layers = netspec.normalise_all(layers)
    shape = netspec.check_input_shape(input_shape)
    names = netspec.layer_names(layers)
    state: RF | None = (1, 1, 1, 1) if len(shape) == 3 else (1, 1, None, None)
    rows = []
    for i, (layer, name) in enumerate(zip(layers, names), start=1):
        where = f"layer {i} ({name}: {netspec.layer_text(layer)})"
        try:
            out, type_, weight_shape, bias, mult_adds, state = _spec_step(layer, shape, state)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        weights = _prod(weight_shape) if weight_shape else 0
        rows.append(_row(name, type_, _spec_settings(layer), out, weights, bias,
                         param_formula(type_, weight_shape, bias), mult_adds, state))
        shape = out
    _running_totals(rows)
    return LayerTable(rows, input_shape=tuple(input_shape), notes=[MULT_ADDS_NOTE, RF_NOTE])


def _spec_settings(layer: dict[str, Any]) -> str:
    """The settings column for a described layer, written as `layer_table` writes it for the torch module."""
    kind = layer["type"]
    if kind == "conv":
        return _window_text(layer["kernel"], layer["stride"], layer["padding"], layer["dilation"])
    if kind == "pool":
        ceil = " ceil" if layer["ceil_mode"] else ""
        return _window_text(layer["kernel"], layer["stride"], layer["padding"], 1) + ceil
    if kind == "globalpool":
        return "→ 1"
    if kind in ("dropout", "dropout2d"):
        return f"p {layer['p']:g}"
    if kind == "leakyrelu":
        return f"slope {layer['slope']:g}"
    return ""


def _prod(values: Iterable[int]) -> int:
    result = 1
    for v in values:
        result *= v
    return result


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(n) for n in shape)


def _spec_step(layer: dict[str, Any], shape: tuple[int, ...], state: RF | None
               ) -> tuple[tuple[int, ...], str, tuple[int, ...], int, int, RF | None]:
    """(output shape, torch class name, weight shape, bias count, mult-adds, receptive field) of one layer."""
    kind = layer["type"]
    spatial = len(shape) == 3
    if kind in ("conv", "pool", "globalpool", "dropout2d") and not spatial:
        raise ValueError(f"{kind} needs a (channels, height, width) input but gets {shape[0]} flat features; "
                         "put it before flatten")
    if kind == "linear" and spatial:
        raise ValueError(f"linear needs a flat input but gets {_shape_text(shape)}; put flatten before it")
    if kind == "conv":
        c, h, w = shape
        k, s, d = layer["kernel"], layer["stride"], layer["dilation"]
        if layer["padding"] == "same":
            if s != 1:
                raise ValueError("padding 'same' works only with stride 1 (PyTorch)")
            oh, ow = h, w
        else:
            oh, ow = (_here(shape, conv_output_size, n, k, layer["padding"], s, d) for n in (h, w))
        out = (layer["out"], oh, ow)
        bias = layer["out"] if layer["bias"] else 0
        return (out, "Conv2d", (layer["out"], c, k, k), bias, _prod(out) * c * k * k,
                rf_window(state, (k, k), (s, s), (d, d)))
    if kind == "pool":
        c, h, w = shape
        k, s, p = layer["kernel"], layer["stride"], layer["padding"]
        oh, ow = (_here(shape, pool_output_size, n, k, s, p, 1, layer["ceil_mode"], layer["kind"]) for n in (h, w))
        type_ = "MaxPool2d" if layer["kind"] == "max" else "AvgPool2d"
        return (c, oh, ow), type_, (), 0, 0, rf_window(state, (k, k), (s, s), (1, 1))
    if kind == "globalpool":
        c, h, w = shape
        type_ = "AdaptiveMaxPool2d" if layer["kind"] == "max" else "AdaptiveAvgPool2d"
        return (c, 1, 1), type_, (), 0, 0, rf_window(state, (h, w), (h, w), (1, 1))
    if kind == "flatten":
        if not spatial:
            return shape, "Flatten", (), 0, 0, state
        return (_prod(shape),), "Flatten", (), 0, 0, rf_flatten(state, shape[1:])
    if kind == "linear":
        bias = layer["out"] if layer["bias"] else 0
        return (layer["out"],), "Linear", (layer["out"], shape[0]), bias, shape[0] * layer["out"], state
    if kind == "bn":
        return shape, "BatchNorm2d" if spatial else "BatchNorm1d", (shape[0],), shape[0], 0, state

    return shape, MODULE_NAMES[kind], (), 0, 0, state


def _here(shape: tuple[int, ...], fn: Any, *args: Any) -> int:
    """fn(*args), turning its ValueError into one that starts with the input shape at this layer."""
    try:
        return fn(*args)
    except ValueError as exc:
        raise ValueError(f"its input is {_shape_text(shape)}, and {exc}") from None


def shape_text(shape: Sequence[int], sep: str = " × ") -> str:
    """'32 × 16 × 16' for a shape (`sep` between the sizes)."""
    return sep.join(str(n) for n in shape)


def _pair_text(value: tuple[int, int] | None) -> str:
    """'5' for (5, 5), '5 × 7' for (5, 7), '—' for none."""
    if value is None:
        return "—"
    a, b = value
    return f"{a:g}" if a == b else f"{a:g} × {b:g}"


def display_rows(table: LayerTable) -> list[dict[str, Any]]:
    """The rows as a page shows them (the DISPLAY_COLUMNS): type and settings as one 'layer', shapes and receptive
    fields (with their jump) as text, and counts of 0 left blank (None)."""
    rows = []
    for row in table:
        jump = "" if row["jump"] is None else f" ({_pair_text(row['jump'])})"
        rows.append({**row, **{c: row[c] or None for c in ("weights", "biases", "params", "mult_adds")},
                     "layer": f"{row['type']} {row['settings']}".strip(),
                     "output_shape": _shape_text(row["output_shape"]),
                     "receptive_field": _pair_text(row["receptive_field"]) + jump})
    return rows


def disagreements(table: LayerTable, real: LayerTable, numel: int) -> list[str]:
    """Where a description's table (`spec_table`) and its torch model's (`layer_table`, `numel` parameters) differ."""
    found = [f"{a['name']}: table says {shape_text(a['output_shape'])}, torch gives {shape_text(b['output_shape'])}"
             for a, b in zip(table, real) if a["output_shape"] != b["output_shape"]]
    if table.total_params != numel:
        found.append(f"parameters: table says {table.total_params:,}, torch counts {numel:,}")
    if len(table) != len(real):
        found.append(f"layers: the table has {len(table)}, torch ran {len(real)}")
    return found


# ------------------------------------------------------------------------------- torch models (hooks)


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _leaf_info(module: Any, in_shape: tuple[int, ...] | None, out_shape: tuple[int, ...]
               ) -> tuple[str, tuple[int, ...], int, int]:
    """(settings text, weight shape, bias count, mult-adds) of one leaf module for one image."""
    from torch import nn

    settings, weight_shape, mult_adds = "", (), 0
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    bias_n = bias.numel() if isinstance(bias, nn.Parameter) else 0
    if isinstance(weight, nn.Parameter):
        weight_shape = tuple(weight.shape)
    if isinstance(module, nn.modules.conv._ConvNd):
        k = module.kernel_size
        settings = _window_text(k, module.stride, module.padding, module.dilation)
        if module.transposed:
            settings += f" op{_compact(module.output_padding)}" if any(module.output_padding) else ""
            in_elems = _prod(in_shape[1:]) if in_shape else 0  # (C_in, H, W) -> H·W
            mult_adds = in_elems * module.in_channels * module.out_channels // module.groups * _prod(k)
        else:
            mult_adds = _prod(out_shape) * module.in_channels // module.groups * _prod(k)
        if module.groups != 1:
            settings += f" g{module.groups}"
    elif isinstance(module, nn.Linear):
        mult_adds = _prod(out_shape) * module.in_features
    elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        dilation = getattr(module, "dilation", 1)
        settings = _window_text(module.kernel_size, module.stride, module.padding, dilation)
        settings += " ceil" if module.ceil_mode else ""
    elif isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        settings = f"→ {_compact(module.output_size)}"
    elif isinstance(module, (nn.Dropout, nn.Dropout2d)):
        settings = f"p {module.p:g}"
    elif isinstance(module, nn.LeakyReLU):
        settings = f"slope {module.negative_slope:g}"
    elif isinstance(module, nn.Upsample) and module.scale_factor is not None:
        factors = dict.fromkeys(module.scale_factor if isinstance(module.scale_factor, tuple) else
                                (module.scale_factor,))  # (2.0, 2.0) -> ×2, (2.0, 3.0) -> ×2×3
        settings = "".join(f"×{f:g}" for f in factors) + f" {module.mode}"
    return settings, weight_shape, bias_n, mult_adds


def _compact(value: Any) -> str:
    """2 for 2 or (2, 2); 2×3 for (2, 3)."""
    try:
        a, b = _pair(value) if not isinstance(value, (tuple, list)) or len(value) == 2 else (value[0], value[0])
    except (TypeError, ValueError):
        return str(value)
    return str(a) if a == b else f"{a}×{b}"


def _window_text(kernel: Any, stride: Any, padding: Any, dilation: Any) -> str:
    text = f"k{_compact(kernel)} s{_compact(stride)}"
    if isinstance(padding, str):
        text += f" p={padding}"
    elif _pair(padding) != (0, 0):
        text += f" p{_compact(padding)}"
    if _pair(dilation) != (1, 1):
        text += f" d{_compact(dilation)}"
    return text


def _rf_module(module: Any, state: RF | None, in_shape: tuple[int, ...] | None, out_shape: tuple[int, ...]
               ) -> RF | None:
    """Receptive field after one leaf module, or None when it cannot be worked out (see RF notes)."""
    from torch import nn

    if state is None or in_shape is None:
        return None
    if isinstance(module, nn.Conv2d):
        return rf_window(state, module.kernel_size, module.stride, module.dilation)
    if isinstance(module, nn.MaxPool2d):
        return rf_window(state, _pair(module.kernel_size), _pair(module.stride), _pair(module.dilation))
    if isinstance(module, nn.AvgPool2d):
        return rf_window(state, _pair(module.kernel_size), _pair(module.stride), (1, 1))
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) and len(in_shape) == 3:
        (h, w), (oh, ow) = in_shape[1:], out_shape[1:]
        if h % oh or w % ow:
            return None  # uneven windows: no single kernel and stride
        return rf_window(state, (h // oh, w // ow), (h // oh, w // ow), (1, 1))
    if isinstance(module, nn.Upsample) and len(in_shape) == 3 and not module.align_corners:
        (h, w), (oh, ow) = in_shape[1:], out_shape[1:]
        if oh % h or ow % w or oh // h != ow // w:
            return None  # a resize by a fraction or by two factors: no single jump
        return rf_upsample(state, oh // h, 1 if module.mode == "nearest" else 2)
    return _rf_reshape(state, in_shape, out_shape)


def _rf_reshape(state: RF | None, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> RF | None:
    """Element-wise layers keep the receptive field; flattening a map spreads it over the whole map."""
    if state is None:
        return None
    if len(in_shape) == 3 and len(out_shape) == 3:
        return state if in_shape[1:] == out_shape[1:] else None
    if len(in_shape) == 3:
        return rf_flatten(state, in_shape[1:])
    return state


def layer_table(model: Any, input_shape: Sequence[int]) -> LayerTable:
    """One row per leaf layer of any nn.Module, from one forward pass of a zero image with forward hooks.

    Rows hold name (`named_modules()` name), type, settings, output_shape (without the batch), weights,
    biases, params, formula, total_params (running), mult_adds and receptive_field/jump (height, width).
    Receptive fields follow the model's real data flow (torch.fx) so skip connections count; if the model
    cannot be traced they follow the layers in running order and `receptive_field_exact` is False.
    The model runs in eval mode and gets its training flags back; every hook is removed, also on errors
    (`features.capture` and `features.evaluating` own both).

    Raises:
        ValueError: the model does not accept an input of `input_shape`, naming the layer that failed.
    """
    import torch

    from cnnviz.inside import features

    modules = dict(model.named_modules())
    leaves = [name for name, m in modules.items() if not any(True for _ in m.children())]  # "" if model is a leaf
    shape = tuple(int(n) for n in input_shape)
    calls: list[features.Call] = []
    with features.capture(model, leaves, calls=calls, tensors=False), features.evaluating(model), torch.no_grad():
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        try:
            model(torch.zeros(1, *shape, device=device))  # (1, C, H, W)
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            where = f" at layer {calls[-1].name or type(model).__name__}" if calls else ""
            raise ValueError(f"the model does not accept a {_shape_text(shape)} input{where}: {exc}") from exc
    records = [(c.name or type(model).__name__, modules[c.name], c.input_shape and c.input_shape[1:],
                c.output_shape[1:]) for c in calls if c.output_shape is not None]
    return _table_from_records(model, shape, records)


def _table_from_records(model: Any, shape: tuple[int, ...], records: list[tuple[str, Any, Any, tuple[int, ...]]]
                        ) -> LayerTable:
    seen_params: set[int] = set()
    calls: dict[str, int] = {}
    rfs, exact = _traced_receptive_fields(model, shape, records)
    rows = []
    for i, (name, module, in_shape, out_shape) in enumerate(records):
        calls[name] = calls.get(name, 0) + 1
        label = name if calls[name] == 1 else f"{name} (call {calls[name]})"
        settings, weight_shape, bias_n, mult_adds = _leaf_info(module, in_shape, out_shape)
        fresh = [p for p in module.parameters(recurse=False) if id(p) not in seen_params]
        seen_params.update(id(p) for p in fresh)
        total = sum(p.numel() for p in fresh)
        if calls[name] > 1 or not fresh:
            weights, biases, formula = 0, 0, "" if not calls[name] > 1 or not total else "shared with call 1"
        else:
            biases = bias_n if any(p is getattr(module, "bias", None) for p in fresh) else 0
            weights = total - biases
            formula = param_formula(type(module).__name__, weight_shape, biases) if weight_shape and \
                _prod(weight_shape) == weights else f"{weights:,}"
        rows.append(_row(label, type(module).__name__, settings, out_shape, weights, biases, formula, mult_adds,
                         rfs[i]))
    notes = [MULT_ADDS_NOTE, RF_NOTE]
    for name, module in model.named_modules():  # parameters of modules that never ran, or held by a container
        extra = [p for p in module.parameters(recurse=False) if id(p) not in seen_params]
        if extra:
            seen_params.update(id(p) for p in extra)
            n = sum(p.numel() for p in extra)
            rows.append(_row(f"{name or type(model).__name__} (not run)", type(module).__name__, "", (), n, 0,
                             f"{n:,}", 0, None))
            notes.append(f"{name or 'the model'} holds {n:,} parameters that the forward pass did not use.")
    if not exact:
        notes.append("The model could not be traced, so receptive fields follow the layers in the order they run; "
                     "with skip connections or branches they are approximate.")
    _running_totals(rows)
    return LayerTable(rows, input_shape=shape, receptive_field_exact=exact, notes=notes)


def _traced_receptive_fields(model: Any, shape: tuple[int, ...], records: list[Any]
                             ) -> tuple[list[RF | None], bool]:
    """Receptive field after each recorded call, following the traced graph (skip connections take the max)."""
    start: RF = (1, 1, 1, 1) if len(shape) == 3 else (1, 1, None, None)
    try:
        per_node = _fx_receptive_fields(model, shape, start)
    except Exception:  # noqa: BLE001 - any tracing failure means: fall back to running order
        per_node = None
    if per_node is not None and len(per_node) == len(records) and all(
            a == b[0] for (a, _), b in zip(per_node, records)):
        return [rf for _, rf in per_node], True
    rfs, state = [], start
    for _, module, in_shape, out_shape in records:
        state = _rf_module(module, state, in_shape, out_shape)
        rfs.append(state)
    return rfs, len(records) == 0 or _is_plain_chain(model)


def _is_plain_chain(model: Any) -> bool:
    """True for an nn.Sequential of leaf layers, where running order is the data flow."""
    from torch import nn

    return isinstance(model, nn.Sequential) and all(not any(True for _ in m.children()) for m in model)


def _fx_receptive_fields(model: Any, shape: tuple[int, ...], start: RF) -> list[tuple[str, RF | None]]:
    """(leaf name, receptive field) per leaf call in graph order, from a torch.fx trace with shapes."""
    import torch
    from torch import fx
    from torch.fx.passes.shape_prop import ShapeProp

    from cnnviz.inside.features import evaluating  # torch comes with it: only when a model is traced

    class LeafTracer(fx.Tracer):
        def is_leaf_module(self, m: torch.nn.Module, qualname: str) -> bool:
            return not any(True for _ in m.children())

    graph = LeafTracer().trace(model)
    module = fx.GraphModule(model, graph)
    with evaluating(model), torch.no_grad():
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        ShapeProp(module).propagate(torch.zeros(1, *shape, device=device))
    named = dict(model.named_modules())
    states: dict[Any, RF | None] = {}
    result = []

    def shape_of(node: Any) -> tuple[int, ...] | None:
        meta = node.meta.get("tensor_meta")
        return tuple(meta.shape[1:]) if meta is not None and hasattr(meta, "shape") else None

    for node in graph.nodes:
        if node.op == "placeholder":
            states[node] = start
            continue
        if node.op == "output":
            continue
        inputs = [a for a in node.all_input_nodes if a in states and shape_of(a) is not None]
        out_shape = shape_of(node)
        if out_shape is None or not inputs:
            states[node] = None
            continue
        in_states = [states[a] for a in inputs]
        if node.op == "call_module":
            m = named[node.target]
            states[node] = _rf_module(m, in_states[0], shape_of(inputs[0]), out_shape)
            result.append((node.target, states[node]))
        elif len(inputs) > 1:  # x + f(x), cat, ...: a unit sees the union of its branches
            if any(s is None for s in in_states) or len({s[2] is None for s in in_states}) > 1:
                states[node] = None
            else:
                rh = max(s[0] for s in in_states)
                rw = max(s[1] for s in in_states)
                jumps = [s[2:] for s in in_states]
                states[node] = (rh, rw, *max(jumps)) if jumps[0][0] is not None else (rh, rw, None, None)
        else:
            states[node] = _rf_reshape(in_states[0], shape_of(inputs[0]), out_shape)
    return result
