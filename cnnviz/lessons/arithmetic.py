"""Conv arithmetic: output sizes and the formulas behind them, a chain of layers, solving for a setting, receptive
fields.

Plain Python, no torch (per-layer tables are in cnnviz.nets.tables). The size rules are PyTorch's own
(checked against torch.nn.functional in the tests):

    convolution      out = floor((in + 2p - d(k-1) - 1) / s) + 1
    pooling          the same, or with ceil instead of floor (ceil_mode), where a last window that would
                     start in the right-hand padding is dropped
    transposed conv  out = (in - 1)s - 2p + d(k-1) + output_padding + 1
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from operator import index
from typing import Any

OPS = ("conv", "maxpool", "avgpool", "transposed")
OP_TITLES = {"conv": "Convolution", "maxpool": "Max pooling", "avgpool": "Average pooling",
             "transposed": "Transposed convolution"}
SETTINGS = {  # the integer settings each operation takes (ceil_mode is a flag of the pools)
    "conv": ("kernel", "padding", "stride", "dilation"),
    "maxpool": ("kernel", "padding", "stride", "dilation"),
    "avgpool": ("kernel", "padding", "stride"),
    "transposed": ("kernel", "padding", "stride", "dilation", "output_padding"),
}
_MINIMUM = {"size": 1, "kernel": 1, "padding": 0, "stride": 1, "dilation": 1, "output_padding": 0}


def _whole(name: str, value: Any, minimum: int) -> int:
    """`value` as an int of at least `minimum`, or a ValueError that names the setting."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    try:
        number = index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return number


def span(kernel: int, dilation: int = 1) -> int:
    """How many input cells one window covers: d(k-1) + 1 (a dilated kernel has gaps)."""
    return dilation * (kernel - 1) + 1


# ----------------------------------------------------------------------------------------------- sizes


def conv_output_size(size: int, kernel: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """Output length of a convolution along one axis: floor((in + 2p - d(k-1) - 1) / s) + 1.

    Raises:
        ValueError: a setting is not a positive whole number (padding may be 0), or the (dilated) kernel
            is larger than the padded input, which PyTorch refuses.
    """
    size = _whole("input size", size, 1)
    kernel = _whole("kernel", kernel, 1)
    padding = _whole("padding", padding, 0)
    stride = _whole("stride", stride, 1)
    dilation = _whole("dilation", dilation, 1)
    window, padded = span(kernel, dilation), size + 2 * padding
    if window > padded:
        what = (f"the kernel ({kernel})" if dilation == 1
                else f"the dilated kernel ({kernel} with dilation {dilation} spans {window})")
        raise ValueError(f"{what} is larger than the padded input ({size} + 2×{padding} = {padded}): "
                         "PyTorch refuses a kernel bigger than its input; add padding or use a smaller kernel")
    return (padded - window) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int | None = None, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False, kind: str = "max") -> int:
    """Output length of max or average pooling along one axis (stride defaults to the kernel, as in PyTorch).

    Raises:
        ValueError: bad settings; padding above half the kernel (PyTorch's limit); dilation for average
            pooling (it has none); or a window that does not fit, giving an output below 1.
    """
    if kind not in ("max", "avg"):
        raise ValueError(f"pooling kind must be 'max' or 'avg', got {kind!r}")
    size = _whole("input size", size, 1)
    kernel = _whole("kernel", kernel, 1)
    stride = kernel if stride is None else _whole("stride", stride, 1)
    padding = _whole("padding", padding, 0)
    dilation = _whole("dilation", dilation, 1)
    if kind == "avg" and dilation != 1:
        raise ValueError("average pooling has no dilation in PyTorch")
    window = span(kernel, dilation)
    limit = kernel // 2  # PyTorch checks the kernel itself, also when dilation spreads it wider
    if padding > limit:
        raise ValueError(f"padding {padding} is more than half the kernel ({kernel} // 2 = {limit}): "
                         f"PyTorch allows at most {limit}")
    out = _pool_length(size, window, stride, padding, ceil_mode)
    if out < 1:
        raise ValueError(f"the window ({window}) does not fit in the padded input ({size} + 2×{padding} = "
                         f"{size + 2 * padding}): the output would have {out} cells")
    return out


def _pool_length(size: int, window: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape: floor or ceil division, minus a last window starting in the padding."""
    out = (size + 2 * padding - window + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def conv_transpose_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Output length of a transposed convolution along one axis: (in-1)s - 2p + d(k-1) + output_padding + 1.

    Raises:
        ValueError: bad settings; output_padding not smaller than the stride or the dilation (PyTorch's
            rule); or so much padding that the output would be empty.
    """
    size = _whole("input size", size, 1)
    kernel = _whole("kernel", kernel, 1)
    stride = _whole("stride", stride, 1)
    padding = _whole("padding", padding, 0)
    output_padding = _whole("output_padding", output_padding, 0)
    dilation = _whole("dilation", dilation, 1)
    if not (output_padding < stride or output_padding < dilation):
        raise ValueError(f"output_padding ({output_padding}) must be smaller than the stride ({stride}) "
                         f"or the dilation ({dilation}) (PyTorch's rule)")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"padding {padding} crops more than the whole output: it would have {out} cells")
    return out


def same_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """The (before, after) zero padding of PyTorch's padding='same' (stride 1): odd totals put the extra cell after."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def output_size(op: str, size: int, **settings: Any) -> int:
    """Output length of operation `op` (one of OPS) with the given settings, along one axis."""
    if op == "conv":
        return conv_output_size(size, **settings)
    if op in ("maxpool", "avgpool"):
        return pool_output_size(size, kind=op[:3], **settings)
    if op == "transposed":
        return conv_transpose_output_size(size, **settings)
    raise ValueError(f"unknown operation {op!r}; choose one of {', '.join(OPS)}")


# ------------------------------------------------------------------------------------------ explaining


@dataclass(frozen=True)
class SizeExplanation:
    """One output size worked out like an exam answer: formula, numbers substituted, result and remarks."""

    op: str
    size: int
    output: int
    formula: str            # plain text, e.g. "out = floor((in + 2p - d(k-1) - 1) / s) + 1"
    substituted: str        # the same with the numbers in, ending "= out"
    formula_latex: str
    substituted_latex: str
    dropped: int = 0        # rows/columns at the end of the padded input that no window reaches (floor)
    dropped_padding: int = 0  # how many of those are padding, not input
    notes: tuple[str, ...] = ()


def _cells(n: int, axis: str) -> str:
    word = "row" if axis == "height" else "column" if axis == "width" else "cell"
    return f"{n} {word}{'' if n == 1 else 's'}"


def _fmt_div(num: int, den: int) -> str:
    value = num / den
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.1f}"


def explain(op: str, size: int, axis: str = "", **settings: Any) -> SizeExplanation:
    """Work out operation `op`'s output size along one axis (`axis`: "height", "width" or "").

    Takes the settings of `output_size`. When the division is not exact the notes say that PyTorch floors
    (or, with ceil_mode, rounds up) and how many rows or columns of the padded input no window reaches.

    Raises:
        ValueError: the settings are impossible (same reasons as `output_size`), with the formula's numbers.
    """
    out = output_size(op, size, **settings)
    k = settings["kernel"]
    p = settings.get("padding", 0)
    d = settings.get("dilation", 1)
    s = settings.get("stride")
    s = (k if op in ("maxpool", "avgpool") else 1) if s is None else s
    if op == "transposed":
        return _explain_transposed(size, out, k, s, p, d, settings.get("output_padding", 0), axis)
    ceil = bool(settings.get("ceil_mode", False))
    num = size + 2 * p - d * (k - 1) - 1
    formula, substituted, formula_tex, sub_tex = _working(size, out, num, k, s, p, d, ceil)
    notes, dropped, dropped_padding = _leftover_notes(num, s, p, out, ceil, axis)
    if out == size:
        notes.append("The output is as long as the input: this padding keeps the size.")
    if op in ("maxpool", "avgpool") and settings.get("stride") is None:
        notes.insert(0, f"The stride was not given, so it equals the kernel ({k}), as in PyTorch.")
    return SizeExplanation(op, size, out, formula, substituted, formula_tex, sub_tex, dropped, dropped_padding,
                           tuple(notes))


def _working(size: int, out: int, num: int, k: int, s: int, p: int, d: int, ceil: bool
             ) -> tuple[str, str, str, str]:
    """The formula and its numbers substituted, as text and as LaTeX, step by step down to `out`."""
    terms = f"{size} + 2×{p} − {d}×({k}−1) − 1"
    terms_tex = rf"{size} + 2\cdot {p} - {d}\cdot({k}-1) - 1"
    name, lb, rb = ("ceil", r"\left\lceil", r"\right\rceil") if ceil else ("floor", r"\left\lfloor", r"\right\rfloor")
    formula = f"out = {name}((in + 2p − d(k−1) − 1) / s) + 1"
    formula_tex = (rf"\text{{out}} = {lb} \dfrac{{\text{{in}} + 2p - d(k-1) - 1}}{{s}} {rb} + 1")
    exact = num % s == 0
    step = str(num // s) if exact else _fmt_div(num, s)
    rounded = -(-num // s) if ceil else num // s
    fix = " − 1" if rounded + 1 != out else ""  # ceil_mode dropped a last window that started in the padding
    substituted = f"{name}(({terms}) / {s}) + 1 = {name}({num} / {s}) + 1"
    lines = [rf"{lb} \dfrac{{{terms_tex}}}{{{s}}} {rb} + 1", rf"{lb} \dfrac{{{num}}}{{{s}}} {rb} + 1"]
    if not exact:
        substituted += f" = {name}({step}) + 1"
        lines.append(rf"{lb} {step} {rb} + 1")
    substituted += f" = {rounded} + 1{fix} = {out}"
    lines.append(rf"{rounded} + 1{fix.replace('−', '-')} = {out}")
    return formula, substituted, formula_tex, _aligned(lines)


def _leftover_notes(num: int, s: int, p: int, out: int, ceil: bool, axis: str) -> tuple[list[str], int, int]:
    """What the division leaves over: the notes, the cells no window reaches and how many of them are padding."""
    step = str(num // s) if num % s == 0 else _fmt_div(num, s)
    if num % s == 0:
        return [f"{num} / {s} divides exactly: the windows reach the last {_cells(1, axis).split(' ')[1]} "
                "of the padded input, nothing is left over."], 0, 0
    if ceil:
        rounded = -(-num // s)
        notes = [f"{num} / {s} = {step}: ceil_mode rounds up to {rounded}, so the last window hangs over the "
                 "end and only pools the cells that exist."]
        if rounded + 1 != out:
            notes.append(f"That last window would start in the padding on the far side, so PyTorch drops it: "
                         f"{rounded + 1} − 1 = {out}.")
        return notes, 0, 0
    dropped = num % s
    dropped_padding = min(dropped, p)
    real = dropped - dropped_padding
    what = ("padding" if real == 0 else "real input" if dropped_padding == 0
            else f"{dropped_padding} of padding and {real} of real input")
    one = dropped == 1
    return [f"{num} / {s} = {step} is not a whole number: PyTorch floors it to {num // s}, so the last "
            f"{_cells(dropped, axis)} of the padded input {'is' if one else 'are'} never covered by a "
            f"window and {'is' if one else 'are'} dropped ({'it is' if one else 'they are'} {what})."], \
        dropped, dropped_padding


def _aligned(lines: list[str]) -> str:
    """LaTeX for a worked answer, one step per line: out = first, then = each next step."""
    return r"\begin{aligned} \text{out} &= " + r" \\ &= ".join(lines) + r" \end{aligned}"


def _explain_transposed(size: int, out: int, k: int, s: int, p: int, d: int, op_: int, axis: str
                        ) -> SizeExplanation:
    formula = "out = (in − 1)·s − 2p + d(k−1) + output_padding + 1"
    formula_tex = r"\text{out} = (\text{in} - 1)\,s - 2p + d(k-1) + \text{output\_padding} + 1"
    substituted = f"({size} − 1)×{s} − 2×{p} + {d}×({k}−1) + {op_} + 1 = {out}"
    sub_tex = _aligned([rf"({size} - 1)\cdot {s} - 2\cdot {p} + {d}\cdot({k}-1) + {op_} + 1",
                        rf"{(size - 1) * s} - {2 * p} + {d * (k - 1)} + {op_} + 1 = {out}"])
    notes = [f"Each of the {_cells(size, axis)} of the input scatters a window of {span(k, d)} onto the output, "
             f"the windows {s} apart; where they overlap the values add up. That gives "
             f"({size} − 1)×{s} + {span(k, d)} = {(size - 1) * s + span(k, d)}."]
    if p:
        notes.append(f"padding {p} then crops {p} from each end (it undoes the padding of the matching convolution).")
    if op_:
        notes.append(f"output_padding {op_} adds {op_} at the far end only: with stride {s}, several input sizes "
                     "give the same convolution output, and output_padding picks which one to restore.")
    elif s > 1:
        notes.append(f"With stride {s}, a convolution maps several input sizes to the same output; output_padding "
                     f"(0 to {max(s, d) - 1}) chooses which size the transposed convolution restores.")
    return SizeExplanation("transposed", size, out, formula, substituted, formula_tex, sub_tex, 0, 0, tuple(notes))


# --------------------------------------------------------------------------------------- solving backwards

@dataclass(frozen=True)
class Solutions:
    """Every whole value of one setting that turns `size_in` into `size_out` (the others fixed)."""

    op: str
    unknown: str
    size_in: int
    size_out: int
    settings: dict[str, Any]
    values: tuple[int, ...]
    and_larger: bool = False   # every value above values[-1] works as well
    nearest: tuple[tuple[int, int], ...] = ()  # (value, output) closest below and above, when there is none
    notes: tuple[str, ...] = ()

    @property
    def tail_from(self) -> int | None:
        """The start of the run of values that goes on for ever (with `and_larger`), else None."""
        if not self.and_larger:
            return None
        start = len(self.values) - 1
        while start > 0 and self.values[start - 1] == self.values[start] - 1:
            start -= 1
        return self.values[start]

    def sentence(self) -> str:
        """The answer in words, e.g. 'padding = 2', 'stride = 3 or any stride of 5 or more', or why there is none."""
        word = self.unknown.replace("_", " ")
        if not self.values:
            closest = "; ".join(f"{word} {v} gives {o}" for v, o in self.nearest)
            return (f"No whole {word} turns {self.size_in} into {self.size_out}."
                    + (f" Closest: {closest}." if closest else ""))
        tail = self.tail_from
        parts = [f"{word} = {v}" for v in self.values if tail is None or v < tail]
        if tail is not None:
            parts.append(f"{word} ≥ {tail}")
        return " or ".join(parts)

    def shown(self, limit: int = 6) -> tuple[int, ...]:
        """The answers worth checking one by one: at most `limit`, none past the start of an endless run."""
        tail = self.tail_from
        return tuple(v for v in self.values if tail is None or v <= tail)[:limit]

    def check_latex(self, value: int) -> str:
        """LaTeX of the formula with `value` put in for the unknown, which works out to `size_out`."""
        worked = explain(self.op, self.size_in, **self.settings, **{self.unknown: value})
        return rf"\text{{{self.unknown.replace('_', ' ')}}} = {value}:\quad " + worked.substituted_latex


def _candidates(op: str, unknown: str, n: int, target: int, st: dict[str, Any]) -> tuple[range, bool]:
    """A range holding every solution, and whether all values beyond its end give the same output as its end.

    The bounds follow from the formulas (see the comments); the tests check them against a brute force.
    """
    k, p, d = st.get("kernel", 1), st.get("padding", 0), st.get("dilation", 1)
    s, op_ = st.get("stride"), st.get("output_padding", 0)
    if op == "conv":
        s = 1 if s is None else s
        padded, window = n + 2 * p, span(k, d)
        if unknown == "padding":   # out > (n + 2p - window) / s, so 2p >= s*target + window overshoots
            return range(0, (s * target + window) // 2 + 2), False
        if unknown == "kernel":    # k <= window <= n + 2p
            return range(1, padded + 1), False
        if unknown == "stride":    # from s = padded on, out = 1 whatever the stride
            return range(1, padded + 2), True
        if unknown == "dilation":  # k = 1 ignores dilation; else d + 1 <= window <= n + 2p
            return (range(1, 2), True) if k == 1 else (range(1, padded + 1), False)
    if op in ("maxpool", "avgpool"):
        padded, window = n + 2 * p, span(k, d)
        if unknown == "padding":   # at most half the kernel
            return range(0, k // 2 + 1), False
        if unknown == "kernel":    # window <= n + 2p + s - 1; with stride = kernel and ceil_mode, k >= n + 2p gives 1
            tail = s is None and bool(st.get("ceil_mode")) and d == 1
            return range(1, padded + (s or 0) + 1), tail
        if unknown == "stride":    # past n + 2p + window every stride gives 1 (or none is valid)
            return range(1, padded + window + 2), True
        if unknown == "dilation":
            return (range(1, 2), True) if k == 1 else (range(1, padded + (s or k) + 1), False)
    if op == "transposed":
        s = 1 if s is None else s
        if unknown == "padding":   # the output shrinks by 2 per step of padding
            return range(0, ((n - 1) * s + d * (k - 1) + op_) // 2 + 2), False
        if unknown == "kernel":    # d(k-1) <= target + 2p
            return range(1, target + 2 * p + 3), False
        if unknown == "stride":    # one input cell: the stride changes nothing once output_padding < stride
            return (range(1, op_ + 2), True) if n == 1 else (range(1, target + 2 * p + 2), False)
        if unknown == "dilation":
            return (range(1, op_ + 2), True) if k == 1 else (range(1, target + 2 * p + 2), False)
        if unknown == "output_padding":
            return range(0, max(s, d)), False
    raise AssertionError(f"no bounds for {op} {unknown}")  # solve() checked both


def solve(op: str, unknown: str, size_in: int, size_out: int, **settings: Any) -> Solutions:
    """Every whole value of setting `unknown` for which `op` turns `size_in` into `size_out`.

    `settings` holds the other settings (defaults as in `output_size`; conv and transposed need a kernel
    unless it is the unknown). Example: solve("conv", "padding", 32, 32, kernel=5).values == (2,).

    Raises:
        ValueError: a size or setting is not a whole number in range, or `unknown` is not a setting of `op`.
    """
    if op not in SETTINGS:
        raise ValueError(f"unknown operation {op!r}; choose one of {', '.join(OPS)}")
    if unknown not in SETTINGS[op]:
        raise ValueError(f"{OP_TITLES[op]} has no setting {unknown!r} to solve for; "
                         f"choose one of {', '.join(SETTINGS[op])}")
    size_in = _whole("input size", size_in, 1)
    size_out = _whole("output size", size_out, 1)
    if unknown in settings:
        raise ValueError(f"{unknown} is the unknown: leave it out of the known settings")
    if unknown != "kernel" and "kernel" not in settings:
        raise ValueError("give the kernel size (or solve for it)")
    known = {name: _whole(name, value, _MINIMUM[name]) if name in _MINIMUM and value is not None else value
             for name, value in settings.items()}
    candidates, tail = _candidates(op, unknown, size_in, size_out, known)
    values, outputs = [], []
    for value in candidates:
        try:
            out = output_size(op, size_in, **known, **{unknown: value})
        except ValueError:
            continue
        outputs.append((value, out))
        if out == size_out:
            values.append(value)
    and_larger = tail and bool(values) and values[-1] == candidates[-1]
    nearest: tuple[tuple[int, int], ...] = ()
    if not values:
        below = [vo for vo in outputs if vo[1] < size_out]
        above = [vo for vo in outputs if vo[1] > size_out]
        picks = []
        if below:
            best = max(o for _, o in below)
            picks.append(min(vo for vo in below if vo[1] == best))
        if above:
            best = min(o for _, o in above)
            picks.append(min(vo for vo in above if vo[1] == best))
        nearest = tuple(sorted(picks))
    notes = []
    if (op == "conv" and unknown == "padding" and not values and size_out == size_in
            and known.get("stride", 1) in (1, None)):
        before, after = same_padding(known["kernel"], known.get("dilation", 1))
        notes.append(f"A kernel spanning {span(known['kernel'], known.get('dilation', 1))} cells needs "
                     f"{before + after} cells of padding in all, an odd number: PyTorch's padding='same' puts "
                     f"{before} before and {after} after.")
    return Solutions(op, unknown, size_in, size_out, known, tuple(values), and_larger, nearest, tuple(notes))


# --------------------------------------------------------------------------------------- receptive field

# A receptive-field state (rf_h, rf_w, jump_h, jump_w); the jumps are None once the map is flattened.
RF = tuple[float, float, "float | None", "float | None"]  # receptive field and jump; a jump is 0.5 after upsampling


def rf_window(state: RF | None, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]
              ) -> RF | None:
    """Receptive field after a sliding window: r + d(k-1)·jump, and the jump (distance in input pixels) × stride."""
    if state is None or state[2] is None:
        return None
    rh, rw, jh, jw = state
    return (rh + dilation[0] * (kernel[0] - 1) * jh, rw + dilation[1] * (kernel[1] - 1) * jw,
            jh * stride[0], jw * stride[1])


def rf_upsample(state: RF | None, scale: int, taps: int) -> RF | None:
    """Receptive field after resizing `scale` times: each unit reads `taps` neighbours per axis (nearest 1, bilinear
    2), so r + (taps-1)·jump, and neighbouring units move 1/scale as far (a jump of 0.5 input pixels at scale 2)."""
    if state is None or state[2] is None:
        return None
    rh, rw, jh, jw = state
    return (rh + (taps - 1) * jh, rw + (taps - 1) * jw, jh / scale, jw / scale)


def rf_flatten(state: RF | None, spatial: Sequence[int]) -> RF | None:
    """Receptive field once a (H, W) map is flattened: a unit now sees the whole map, like an H×W kernel."""
    if state is None:
        return None
    if state[2] is None:  # already flat
        return state
    rh, rw, jh, jw = state
    return (rh + (spatial[0] - 1) * jh, rw + (spatial[1] - 1) * jw, None, None)


# --------------------------------------------------------------------------------------- the lesson's calculator

SETTING_TITLES = {"kernel": "Kernel", "padding": "Padding", "stride": "Stride", "dilation": "Dilation",
                  "output_padding": "Output padding"}
SETTING_HELP = {  # what each setting is, and why it matters
    "kernel": "How many cells one window covers along this axis: a larger kernel sees more at once, and without "
              "padding shrinks the output more.",
    "padding": "Rings of zeros added on both sides, so that windows also centre on the edge cells and the output "
               "need not shrink. Pooling allows at most half the kernel.",
    "stride": "How far the window jumps between outputs: stride 2 about halves the output, the cheap way to shrink "
              "a map.",
    "dilation": "Gaps between the kernel's taps: dilation 2 spreads a 3-tap kernel over 5 cells, seeing wider with "
                "no more weights.",
    "output_padding": "Transposed convolution only: extra cells at the far end (must be smaller than the stride or the "
                      "dilation). It picks which input size a stride-s convolution came from.",
}
SOLVER_EXAMPLES = {  # a question the solver answers -> (operation, unknown, input size, output size, known settings)
    "Keep 32 with a 5×5 kernel": ("conv", "padding", 32, 32, {"kernel": 5, "stride": 1, "dilation": 1}),
    "512 → 508: which kernel?": ("conv", "kernel", 512, 508, {"padding": 0, "stride": 1, "dilation": 1}),
    "Halve 32: which stride?": ("conv", "stride", 32, 16, {"kernel": 3, "padding": 1, "dilation": 1}),
    "Double 16 (transposed)": ("transposed", "stride", 16, 32, {"kernel": 4, "padding": 1, "dilation": 1,
                                                                "output_padding": 0}),
}
_MODULES = {"conv": "nn.Conv2d(in_channels, out_channels, ", "maxpool": "nn.MaxPool2d(", "avgpool": "nn.AvgPool2d(",
            "transposed": "nn.ConvTranspose2d(in_channels, out_channels, "}


def formula_latex(op: str, ceil_mode: bool = False) -> str:
    """The output-size formula of `op` in LaTeX, before any number is put in (`ceil_mode`: pooling's flag)."""
    return explain(op, 8, kernel=3, **({"ceil_mode": True} if ceil_mode else {})).formula_latex


@dataclass(frozen=True)
class AxisWork:
    """The calculator's answer along one axis (or both, when they agree): the working, or why PyTorch refuses."""

    axis: str                          # "height and width", "height" or "width"
    size: int
    working: SizeExplanation | None
    problem: str = ""                  # the reason, when `working` is None


def work_out(op: str, height: int, width: int, along_h: dict[str, Any], along_w: dict[str, Any]) -> list[AxisWork]:
    """Both axes of an input worked out: one answer when size and settings agree, else height, then width."""
    same = height == width and along_h == along_w
    axes = [("height and width", height, along_h)] if same else [("height", height, along_h), ("width", width, along_w)]
    found = []
    for axis, size, settings in axes:
        try:
            found.append(AxisWork(axis, size, explain(op, size, axis="" if same else axis, **settings)))
        except ValueError as exc:
            found.append(AxisWork(axis, size, None, str(exc)))
    return found


def output_hw(worked: Sequence[AxisWork]) -> tuple[int | None, int | None]:
    """(output height, output width) of `work_out`'s answers; None along an axis PyTorch refuses."""
    out = {}
    for w in worked:
        for axis in w.axis.split(" and "):
            out[axis] = None if w.working is None else w.working.output
    return out["height"], out["width"]


def pytorch_code(op: str, along_h: dict[str, Any], along_w: dict[str, Any], size_in: tuple[int, int],
                 size_out: tuple[int | None, int | None]) -> str:
    """The PyTorch module these settings stand for, as a student would write it, and a comment with the shapes."""
    args = []
    for name in SETTINGS[op]:
        a, b = along_h[name], along_w[name]
        args.append(f"{'kernel_size' if name == 'kernel' else name}={a if a == b else (a, b)}")
    if along_h.get("ceil_mode"):
        args.append("ceil_mode=True")
    out_h, out_w = ("?" if n is None else n for n in size_out)
    return (_MODULES[op] + ", ".join(args) + ")" +
            f"\n# (N, C, {size_in[0]}, {size_in[1]}) -> (N, C', {out_h}, {out_w})")


def verdict(what: str, said: int, truth: int) -> str:
    """One line (Markdown) comparing the number a student locked in with the right one."""
    if said == truth:
        return f"✅ **{what}: {truth:,}.** You said {said:,}: right."
    off = f"{abs(said - truth):,} too {'high' if said > truth else 'low'}"
    return f"❌ **{what}: {truth:,}.** You said {said:,}, {off}."


# --------------------------------------------------------------------------------------- the calculator's chain

RANGES = {"size": range(1, 4097), "kernel": range(1, 65), "padding": range(0, 65), "stride": range(1, 65),
          "dilation": range(1, 17), "output_padding": range(0, 65)}  # what the calculator takes, in a box or a link
CHAIN_LENGTH = 32  # layers in one chain: more than a lesson needs, few enough for a link
_SHORT = {"kernel": "k", "padding": "p", "stride": "s", "dilation": "d", "output_padding": "opad"}


@dataclass(frozen=True)
class ChainLayer:
    """One layer of the calculator's chain: its operation and its settings along the height and along the width."""

    op: str
    along_h: dict[str, Any]
    along_w: dict[str, Any]

    @property
    def text(self) -> str:
        """The layer as a link spells it, e.g. 'conv k5 p0 s1 d1', 'conv k5x3 ...' (height × width), '... ceil'."""
        words = [self.op]
        for name in SETTINGS[self.op]:
            a, b = self.along_h[name], self.along_w[name]
            words.append(f"{_SHORT[name]}{a}" + ("" if a == b else f"x{b}"))
        return " ".join(words + (["ceil"] if self.along_h.get("ceil_mode") else []))

    @property
    def settings_text(self) -> str:
        """The settings in words for the chain's table: 'kernel 5, padding 0, stride 2' ('5 × 3' when axes differ)."""
        said = []
        for name in SETTINGS[self.op]:
            a, b = self.along_h[name], self.along_w[name]
            said.append(f"{name.replace('_', ' ')} {a if a == b else f'{a} × {b}'}")
        return ", ".join(said + (["ceil_mode"] if self.along_h.get("ceil_mode") else []))


def _chain_layer(text: str) -> ChainLayer:
    """One layer of a chain's text (see `ChainLayer.text`); a ValueError says what does not fit."""
    op, *words = text.split()
    if op not in SETTINGS:
        raise ValueError(f"unknown operation {op!r}; choose one of {', '.join(OPS)}")
    ceil = op in ("maxpool", "avgpool") and words[-1:] == ["ceil"]
    words = words[:-1] if ceil else words
    if len(words) != len(SETTINGS[op]):
        raise ValueError(f"{op} takes {', '.join(SETTINGS[op])} in this order: got {text!r}")
    along_h: dict[str, Any] = {}
    along_w: dict[str, Any] = {}
    for name, word in zip(SETTINGS[op], words):
        found = re.fullmatch(rf"{_SHORT[name]}(\d+)(?:x(\d+))?", word, re.ASCII)
        if found is None:
            raise ValueError(f"{op} needs its {name} as {_SHORT[name]}<number>, got {word!r}")
        along_h[name], along_w[name] = int(found[1]), int(found[2] or found[1])
        if not {along_h[name], along_w[name]} <= set(RANGES[name]):
            raise ValueError(f"{name} in {word!r} is outside {RANGES[name].start} to {RANGES[name].stop - 1}")
    if ceil:
        along_h["ceil_mode"] = along_w["ceil_mode"] = True
    return ChainLayer(op, along_h, along_w)


def parse_chain(text: str) -> list[ChainLayer]:
    """The layers of a chain's text, ';' between them ('' for none).

    Raises:
        ValueError: a layer does not read, a setting is outside RANGES, or there are more than CHAIN_LENGTH.
    """
    layers = [_chain_layer(part) for part in text.split(";") if part.strip()]
    if len(layers) > CHAIN_LENGTH:
        raise ValueError(f"a chain has at most {CHAIN_LENGTH} layers, got {len(layers)}")
    return layers


def chain_text(layers: Sequence[ChainLayer]) -> str:
    """The text of a chain, which `parse_chain` reads back."""
    return ";".join(layer.text for layer in layers)


@dataclass(frozen=True)
class ChainStep:
    """One layer of a chain worked out: (height, width) in and out, or why PyTorch refuses it (None after that)."""

    layer: ChainLayer
    size_in: tuple[int, int] | None
    size_out: tuple[int, int] | None
    problem: str = ""


def run_chain(height: int, width: int, layers: Sequence[ChainLayer]) -> list[ChainStep]:
    """Each layer's output size from the one before, starting at height × width; sizes stop at an impossible layer."""
    steps, size = [], (height, width)
    for layer in layers:
        if size is None:
            steps.append(ChainStep(layer, None, None))
            continue
        try:
            out = (output_size(layer.op, size[0], **layer.along_h), output_size(layer.op, size[1], **layer.along_w))
        except ValueError as exc:
            steps.append(ChainStep(layer, size, None, str(exc)))
            size = None
            continue
        steps.append(ChainStep(layer, size, out))
        size = out
    return steps
