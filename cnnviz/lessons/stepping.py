"""Convolution, pooling and transposed convolution, one output cell at a time, with the arithmetic written out.

NumPy only: the stepping lessons must start without importing PyTorch. The tests hold every result equal to
`torch.nn.functional.conv2d`, `max_pool2d`, `avg_pool2d` and `conv_transpose2d`.

Conventions are PyTorch's: `Conv` computes cross-correlation (what `nn.Conv2d` does) unless `flip=True`
rotates the kernel by 180 degrees (the textbook convolution); padding adds zeros (minus infinity for max
pooling); output sizes round down. Integer inputs give exact integer outputs (average pooling excepted).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

Pair = tuple[int, int]
Padding = int | tuple[int, int] | str
Number = int | float

TIMES = "×"


# ---------------------------------------------------------------------------------------------- formatting
def fmt(x: Number) -> str:
    """A number as a student would write it: 3, -1.5, 0.333, -∞ (no trailing zeros, no '-0')."""
    x = x.item() if isinstance(x, np.generic) else x
    if isinstance(x, (bool, np.bool_)):
        return str(int(x))
    if isinstance(x, int):
        return str(x)
    if np.isinf(x):
        return "∞" if x > 0 else "-∞"
    if np.isnan(x):
        return "?"
    if float(x).is_integer():
        return str(int(x))
    text = np.format_float_positional(float(x), precision=3, trim="-")
    return "0" if text in ("-0", "0", "-0.", "0.") else text


def factor(x: Number) -> str:
    """A number inside a product: negatives get brackets, 2×(-1)."""
    text = fmt(x)
    return f"({text})" if text.startswith("-") else text


def _sum_text(terms: list[str]) -> str:
    """'a + b + (-c)': terms that start with a minus sign get brackets."""
    return " + ".join(f"({t})" if t.startswith("-") else t for t in terms)


def _products_text(window: np.ndarray, weights: np.ndarray) -> str:
    return " + ".join(f"{factor(a)}{TIMES}{factor(w)}" for a, w in zip(window.ravel(), weights.ravel()))


# ---------------------------------------------------------------------------------------------- settings
def _pair(value: int | tuple[int, int], name: str, minimum: int) -> Pair:
    """An int or an (h, w) pair of ints, each at least `minimum`."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name} must be a whole number or a (height, width) pair, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {fmt(min(pair))}")
    return pair


def _stack(array: np.ndarray, name: str) -> np.ndarray:
    """A (H, W) or (C, H, W) array as (C, H, W), checking it is numeric and not empty."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or min(a.shape) == 0:
        raise ValueError(f"{name} must be a non-empty 2-D grid (or a stack of them), got shape {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.int64)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{name} must hold numbers, got {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise ValueError(f"{name} has an empty or non-finite cell; fill every cell with a number")
    return a.astype(np.int64) if np.issubdtype(a.dtype, np.integer) else a.astype(np.float64)


def _exact(*arrays: np.ndarray, extra: Number = 0) -> np.dtype:
    """int64 when every input is integer (results are then exact), else float64."""
    ints = all(np.issubdtype(a.dtype, np.integer) for a in arrays)
    return np.dtype(np.int64) if ints and float(extra).is_integer() else np.dtype(np.float64)


def _out_len(size: int, kernel: int, stride: int, dilation: int, what: str) -> int:
    """floor((size - dilation*(kernel-1) - 1) / stride) + 1, or ValueError when the kernel does not fit."""
    span = dilation * (kernel - 1) + 1
    if size < span:
        dilated = f" (dilated to {span})" if dilation > 1 else ""
        raise ValueError(f"The kernel's {what} is {kernel}{dilated} but the padded input's {what} is only {size}: "
                         f"the kernel does not fit. Use more padding, a smaller kernel or less dilation.")
    return (size - span) // stride + 1


def resolve_padding(padding: Padding, kernel: Pair, stride: Pair, dilation: Pair) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) zero padding, PyTorch style: an int, an (h, w) pair, 'valid' or 'same'.

    'same' pads dilation*(kernel-1) in total and puts the odd one at the bottom/right (as PyTorch does);
    like PyTorch it refuses any stride other than 1.
    """
    if isinstance(padding, str):
        mode = padding.strip().lower()
        if mode == "valid":
            return 0, 0, 0, 0
        if mode == "same":
            if stride != (1, 1):
                raise ValueError("padding='same' keeps the size only with stride 1; PyTorch refuses it for "
                                 f"stride {stride[0] if stride[0] == stride[1] else stride}. Pick a number instead.")
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return th // 2, th - th // 2, tw // 2, tw - tw // 2
        raise ValueError(f"padding must be a number, 'same' or 'valid', got {padding!r}")
    ph, pw = _pair(padding, "padding", 0)
    return ph, ph, pw, pw


def _pad(x: np.ndarray, pads: tuple[int, int, int, int], value: Number) -> np.ndarray:
    top, bottom, left, right = pads
    return np.pad(x, ((0, 0), (top, bottom), (left, right)), constant_values=value)


def _pad_mask(shape: Pair, pads: tuple[int, int, int, int]) -> np.ndarray:
    """True on the padding cells of a (H, W) grid padded by `pads`."""
    top, bottom, left, right = pads
    mask = np.ones((shape[0] + top + bottom, shape[1] + left + right), dtype=bool)
    mask[top:top + shape[0], left:left + shape[1]] = False
    return mask


def size_text(size: int, kernel: int, before: int, after: int, stride: int, dilation: int = 1,
              what: str = "rows") -> str:
    """The output-size formula with the numbers put in: '⌊(6 + 2×1 − 3) / 1⌋ + 1 = 6 rows'."""
    pad = "" if before + after == 0 else (f" + 2×{before}" if before == after else f" + {before} + {after}")
    span = f"{kernel}" if dilation == 1 else f"{dilation}×({kernel} − 1) − 1"
    inner = size + before + after - (dilation * (kernel - 1) + 1)
    out = inner // stride + 1
    text = f"⌊({size}{pad} − {span}) / {stride}⌋ + 1 = {out} {what}"
    if inner % stride:
        left = inner % stride
        dropped = f"last padded {what[:-1]} is" if left == 1 else f"last {left} padded {what} are"
        text += f" (not exact: PyTorch rounds down, so the {dropped} never used)"
    return text


def transposed_size_text(size: int, kernel: int, stride: int, padding: int, output_padding: int,
                         dilation: int = 1, what: str = "rows") -> str:
    """The transposed convolution's output size with the numbers put in: '(3 − 1)×2 − 2×0 + 1×(3 − 1) + 0 + 1
    = 7 rows'."""
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    return (f"({size} − 1)×{stride} − 2×{padding} + {dilation}×({kernel} − 1) + {output_padding} + 1 "
            f"= {out} {what}")


def _grid_index(k: int, shape: Pair) -> Pair:
    if not 0 <= k < shape[0] * shape[1]:
        raise IndexError(f"step {k} is outside 0..{shape[0] * shape[1] - 1}")
    return divmod(k, shape[1])


# ---------------------------------------------------------------------------------------------- convolution
@dataclass(frozen=True)
class ChannelSum:
    """One input channel's share of an output cell: the window under the kernel and its sum of products."""

    channel: int
    window: np.ndarray  # (kh, kw) values of the padded input under the kernel
    weights: np.ndarray  # (kh, kw) the kernel as applied (rotated when flip=True)
    products: np.ndarray  # (kh, kw) window * weights
    total: Number
    working: str  # "1×0 + 2×(-1) + … = 7"


@dataclass(frozen=True)
class ConvStep:
    """Everything about one output cell of a convolution, ready to draw and to read out."""

    cell: Pair  # (row, col) of the output
    rows: tuple[int, ...]  # rows of the padded input under the kernel (spaced by the dilation)
    cols: tuple[int, ...]
    channels: list[ChannelSum]
    bias: Number
    value: Number
    lines: list[str]  # the worked answer, one line per channel plus the total when there is more than one

    @property
    def working(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Conv:
    """A 2-D convolution with C input channels and one output channel (one kernel per input channel + bias).

    Build with `Conv.make(...)`, which checks the settings; `output()` is the whole result, `step(i, j)` one cell.
    """

    image: np.ndarray  # (C, H, W)
    kernel: np.ndarray  # (C, kh, kw) as given, before any rotation
    bias: Number
    pads: tuple[int, int, int, int]  # top, bottom, left, right
    stride: Pair
    dilation: Pair
    flip: bool

    @classmethod
    def make(cls, image: np.ndarray, kernel: np.ndarray, bias: Number = 0, padding: Padding = 0,
             stride: int | Pair = 1, dilation: int | Pair = 1, flip: bool = False) -> Conv:
        """Check the settings and build the convolution.

        Args:
            image: (H, W) or (C, H, W) numbers.
            kernel: (kh, kw) or (C, kh, kw), one kernel per input channel.
            bias: added once to every output cell.
            padding: zeros around the input: int, (ph, pw), 'valid' or 'same' (stride 1 only, as in PyTorch).
            stride, dilation: int or (h, w) pair, at least 1.
            flip: rotate the kernel by 180 degrees first (true convolution instead of cross-correlation).
        Raises:
            ValueError: impossible settings, with a message fit to show a student.
        """
        x, w = _stack(image, "The input"), _stack(kernel, "The kernel")
        if x.shape[0] != w.shape[0]:
            raise ValueError(f"The input has {x.shape[0]} channel(s) but the kernel has {w.shape[0]}: "
                             "a convolution needs one kernel slice per input channel.")
        if not np.isfinite(float(bias)):
            raise ValueError("The bias must be a finite number")
        stride, dilation = _pair(stride, "stride", 1), _pair(dilation, "dilation", 1)
        pads = resolve_padding(padding, w.shape[1:], stride, dilation)
        conv = cls(x, w, bias, pads, stride, dilation, bool(flip))
        _ = conv.shape  # raises when the kernel does not fit
        return conv

    @property
    def weights(self) -> np.ndarray:
        """(C, kh, kw) the kernel as applied: rotated 180 degrees when flip=True."""
        return self.kernel[:, ::-1, ::-1] if self.flip else self.kernel

    @property
    def padded(self) -> np.ndarray:
        """(C, H + top + bottom, W + left + right) the input with its zero border."""
        return _pad(self.image, self.pads, 0)

    @property
    def pad_mask(self) -> np.ndarray:
        """(Hp, Wp) True on padding cells."""
        return _pad_mask(self.image.shape[1:], self.pads)

    @property
    def shape(self) -> Pair:
        """(rows, cols) of the output."""
        hp, wp = self.padded.shape[1:]
        kh, kw = self.kernel.shape[1:]
        return (_out_len(hp, kh, self.stride[0], self.dilation[0], "height"),
                _out_len(wp, kw, self.stride[1], self.dilation[1], "width"))

    @property
    def n_steps(self) -> int:
        return self.shape[0] * self.shape[1]

    def output(self) -> np.ndarray:
        """(rows, cols) the whole result, computed kernel offset by kernel offset (not via `step`)."""
        oh, ow = self.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        xp, w = self.padded, self.weights
        out = np.zeros((oh, ow), dtype=_exact(xp, w, extra=self.bias))
        for a in range(w.shape[1]):
            for b in range(w.shape[2]):
                patch = xp[:, a * dh:a * dh + sh * (oh - 1) + 1:sh, b * dw:b * dw + sw * (ow - 1) + 1:sw]
                out += np.tensordot(w[:, a, b], patch, axes=1)  # (oh, ow)
        return out + self.bias

    def cell(self, k: int) -> Pair:
        """Output cell of step k (row by row)."""
        return _grid_index(k, self.shape)

    def window(self, i: int, j: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Rows and columns of the padded input under the kernel for output cell (i, j)."""
        kh, kw = self.kernel.shape[1:]
        rows = tuple(i * self.stride[0] + a * self.dilation[0] for a in range(kh))
        cols = tuple(j * self.stride[1] + b * self.dilation[1] for b in range(kw))
        return rows, cols

    def step(self, i: int, j: int) -> ConvStep:
        """Output cell (i, j): the window on the padded input, the products and the worked sum."""
        oh, ow = self.shape
        if not (0 <= i < oh and 0 <= j < ow):
            raise IndexError(f"cell ({i}, {j}) is outside the {oh}×{ow} output")
        rows, cols = self.window(i, j)
        xp, w = self.padded, self.weights
        channels = []
        for c in range(xp.shape[0]):
            win = xp[c][np.ix_(rows, cols)]
            prod = win * w[c]
            total = prod.sum().item()
            channels.append(ChannelSum(c, win, w[c].copy(), prod, total,
                                       f"{_products_text(win, w[c])} = {fmt(total)}"))
        value = (sum(ch.total for ch in channels) + self.bias)
        value = value.item() if isinstance(value, np.generic) else value
        has_bias = self.bias != 0
        if len(channels) == 1 and not has_bias:
            lines = [channels[0].working]
        elif len(channels) == 1:
            lines = [channels[0].working, f"{fmt(channels[0].total)} + {factor(self.bias)} (bias) = {fmt(value)}"]
        else:
            lines = [f"channel {ch.channel + 1}: {ch.working}" for ch in channels]
            terms = [fmt(ch.total) for ch in channels]
            total = _sum_text(terms) + (f" + {factor(self.bias)} (bias)" if has_bias else "")
            lines.append(f"total: {total} = {fmt(value)}")
        return ConvStep((i, j), rows, cols, channels, self.bias, value, lines)


def convolve(image: np.ndarray, kernel: np.ndarray, bias: Number = 0, padding: Padding = 0,
             stride: int | Pair = 1, dilation: int | Pair = 1, flip: bool = False) -> np.ndarray:
    """Multi-channel convolution to one output channel: (C, H, W) * (C, kh, kw) + bias -> (rows, cols).

    Same as `torch.nn.functional.conv2d(x[None], w[None], [bias], ...)[0, 0]`; see `Conv.make` for the settings.
    """
    return Conv.make(image, kernel, bias, padding, stride, dilation, flip).output()


def convolve2d(image: np.ndarray, kernel: np.ndarray, padding: Padding = 0, stride: int | Pair = 1,
               dilation: int | Pair = 1, flip: bool = False) -> np.ndarray:
    """2-D convolution of one (H, W) grid with one (kh, kw) kernel, PyTorch semantics.

    Args:
        image: (H, W) numbers; kernel: (kh, kw) numbers.
        padding: int, (ph, pw), 'valid' or 'same' (stride 1 only).
        stride, dilation: int or (h, w), at least 1.
        flip: False computes cross-correlation (`torch.nn.functional.conv2d`); True rotates the kernel
            by 180 degrees first (the textbook convolution).
    Returns:
        (rows, cols) array; int64 and exact when image and kernel are integers, else float64.
    Raises:
        ValueError: impossible settings (kernel larger than the padded input, stride 0, 'same' with stride > 1).
    """
    if np.ndim(image) != 2 or np.ndim(kernel) != 2:
        raise ValueError(f"convolve2d takes 2-D grids, got shapes {np.shape(image)} and {np.shape(kernel)}; "
                         "use convolve() for several channels")
    return convolve(image, kernel, 0, padding, stride, dilation, flip)


# ---------------------------------------------------------------------------------------------- pooling
@dataclass(frozen=True)
class PoolStep:
    """One output cell of max or average pooling."""

    cell: Pair
    rows: tuple[int, ...]  # rows of the padded input under the window
    cols: tuple[int, ...]
    window: np.ndarray  # (kh, kw) padded values (-inf padding for max, 0 for average)
    padding: np.ndarray  # (kh, kw) True where the window covers padding
    winner: Pair | None  # (a, b) inside the window of the maximum (max pooling)
    divisor: int  # how many cells the average divides by (average pooling)
    value: Number
    lines: list[str]

    @property
    def working(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Pool:
    """Max or average pooling of one (H, W) grid with PyTorch's rules (floor; padding at most half the kernel)."""

    image: np.ndarray  # (H, W)
    mode: str  # 'max' or 'avg'
    kernel: Pair
    stride: Pair
    padding: Pair
    count_include_pad: bool = True

    @classmethod
    def make(cls, image: np.ndarray, mode: str, kernel: int | Pair, stride: int | Pair | None = None,
             padding: int | Pair = 0, count_include_pad: bool = True) -> Pool:
        """Check the settings and build the pooling.

        Args:
            image: (H, W) numbers.
            mode: 'max' or 'avg'.
            kernel: window size; stride: defaults to the kernel size (as in PyTorch).
            padding: at most half the kernel; max pooling pads with -inf, average pooling with 0.
            count_include_pad: average pooling divides by the whole window (True) or by the real cells.
        Raises:
            ValueError: impossible settings, with a message fit to show a student.
        """
        x = _stack(image, "The input")
        if x.shape[0] != 1:
            raise ValueError(f"pooling here takes one (H, W) grid, got shape {np.shape(image)}")
        if mode not in ("max", "avg"):
            raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
        k = _pair(kernel, "kernel size", 1)
        s = k if stride is None else _pair(stride, "stride", 1)
        p = _pair(padding, "padding", 0)
        for name, kk, pp in (("height", k[0], p[0]), ("width", k[1], p[1])):
            if 2 * pp > kk:
                raise ValueError(f"Padding {pp} is more than half the kernel {name} ({kk}): a window could then "
                                 "hold nothing but padding, so PyTorch refuses it. Use padding "
                                 f"at most {kk // 2}.")
        pool = cls(x[0], mode, k, s, p, bool(count_include_pad))
        _ = pool.shape
        return pool

    @property
    def pads(self) -> tuple[int, int, int, int]:
        return self.padding[0], self.padding[0], self.padding[1], self.padding[1]

    @property
    def fill(self) -> float:
        """The value of a padding cell: -inf for max (never wins), 0 for average."""
        return -np.inf if self.mode == "max" else 0

    @property
    def padded(self) -> np.ndarray:
        """(Hp, Wp) the input with its border of `fill`."""
        x = self.image.astype(np.float64) if self.mode == "max" else self.image
        return _pad(x[None], self.pads, self.fill)[0]

    @property
    def pad_mask(self) -> np.ndarray:
        return _pad_mask(self.image.shape, self.pads)

    @property
    def shape(self) -> Pair:
        hp, wp = self.pad_mask.shape
        return (_out_len(hp, self.kernel[0], self.stride[0], 1, "height"),
                _out_len(wp, self.kernel[1], self.stride[1], 1, "width"))

    @property
    def n_steps(self) -> int:
        return self.shape[0] * self.shape[1]

    def cell(self, k: int) -> Pair:
        return _grid_index(k, self.shape)

    def window(self, i: int, j: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        rows = tuple(i * self.stride[0] + a for a in range(self.kernel[0]))
        cols = tuple(j * self.stride[1] + b for b in range(self.kernel[1]))
        return rows, cols

    def output(self) -> np.ndarray:
        """(rows, cols) the whole result, computed window offset by window offset (not via `step`)."""
        oh, ow = self.shape
        (sh, sw), (kh, kw) = self.stride, self.kernel
        xp = self.padded
        real = (~self.pad_mask).astype(np.int64)
        acc = np.full((oh, ow), -np.inf) if self.mode == "max" else np.zeros((oh, ow), dtype=_exact(xp))
        count = np.zeros((oh, ow), dtype=np.int64)
        for a in range(kh):
            for b in range(kw):
                rs, cs = slice(a, a + sh * (oh - 1) + 1, sh), slice(b, b + sw * (ow - 1) + 1, sw)
                if self.mode == "max":
                    acc = np.maximum(acc, xp[rs, cs])
                else:
                    acc = acc + xp[rs, cs]
                    count += real[rs, cs]
        if self.mode == "max":
            return acc.astype(self.image.dtype)
        return acc / (kh * kw if self.count_include_pad else count)

    def step(self, i: int, j: int) -> PoolStep:
        """Output cell (i, j): the window, which cell wins (max) or what is averaged, and the working."""
        oh, ow = self.shape
        if not (0 <= i < oh and 0 <= j < ow):
            raise IndexError(f"cell ({i}, {j}) is outside the {oh}×{ow} output")
        rows, cols = self.window(i, j)
        win = self.padded[np.ix_(rows, cols)]
        pad = self.pad_mask[np.ix_(rows, cols)]
        if self.mode == "max":
            a, b = np.unravel_index(int(np.argmax(win)), win.shape)
            value = self.image.dtype.type(win[a, b]).item()
            lines = [f"max({', '.join(fmt(v) for v in win.ravel())}) = {fmt(value)}"]
            return PoolStep((i, j), rows, cols, win, pad, (int(a), int(b)), 0, value, lines)
        cells = win.ravel() if self.count_include_pad else win[~pad]
        divisor = int(cells.size)
        total = cells.sum().item()
        value = total / divisor
        text = f"({_sum_text([fmt(v) for v in cells])}) / {divisor}"
        if cells.size > 1:
            text += f" = {fmt(total)} / {divisor}"
        exact = isinstance(total, int) and Fraction(total, divisor) == Fraction(fmt(value))
        text += f" = {fmt(value)}" if exact or not isinstance(total, int) else f" ≈ {fmt(value)}"
        return PoolStep((i, j), rows, cols, win, pad, None, divisor, value, [text])


def max_pool2d(image: np.ndarray, kernel: int | Pair, stride: int | Pair | None = None,
               padding: int | Pair = 0) -> np.ndarray:
    """Max pooling of an (H, W) grid, as `torch.nn.functional.max_pool2d` (padding counts as -inf)."""
    return Pool.make(image, "max", kernel, stride, padding).output()


def avg_pool2d(image: np.ndarray, kernel: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0,
               count_include_pad: bool = True) -> np.ndarray:
    """Average pooling of an (H, W) grid, as `torch.nn.functional.avg_pool2d`."""
    return Pool.make(image, "avg", kernel, stride, padding, count_include_pad).output()


# ---------------------------------------------------------------------------------------------- transposed
@dataclass(frozen=True)
class ScatterStep:
    """One input cell of a transposed convolution: its value times the kernel, added into the output."""

    channel: int
    cell: Pair  # (row, col) of the input
    value: Number
    rows: tuple[int, ...]  # rows of the uncropped canvas that receive value × kernel
    cols: tuple[int, ...]
    contribution: np.ndarray  # (kh, kw) value * kernel
    lines: list[str]

    @property
    def working(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class TransposedConv:
    """Transposed convolution (C input channels -> one output channel), PyTorch's `conv_transpose2d`.

    Each input cell (i, j) adds value × kernel into a canvas at rows i*stride + a*dilation (kernel row a);
    overlaps add up. The canvas is then cropped by `padding` on every side, and `output_padding` keeps extra
    rows/columns at the bottom/right. Output size: (H-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1.
    """

    image: np.ndarray  # (C, H, W)
    kernel: np.ndarray  # (C, kh, kw)
    bias: Number
    stride: Pair
    padding: Pair
    output_padding: Pair
    dilation: Pair

    @classmethod
    def make(cls, image: np.ndarray, kernel: np.ndarray, bias: Number = 0, stride: int | Pair = 1,
             padding: int | Pair = 0, output_padding: int | Pair = 0,
             dilation: int | Pair = 1) -> TransposedConv:
        """Check the settings and build the transposed convolution.

        Raises:
            ValueError: impossible settings (output_padding not smaller than stride or dilation, an output
                with no cells left after cropping), with a message fit to show a student.
        """
        x, w = _stack(image, "The input"), _stack(kernel, "The kernel")
        if x.shape[0] != w.shape[0]:
            raise ValueError(f"The input has {x.shape[0]} channel(s) but the kernel has {w.shape[0]}.")
        s, d = _pair(stride, "stride", 1), _pair(dilation, "dilation", 1)
        p, op = _pair(padding, "padding", 0), _pair(output_padding, "output padding", 0)
        for axis in (0, 1):
            if op[axis] >= max(s[axis], d[axis]):
                raise ValueError(f"Output padding {op[axis]} must be smaller than the stride ({s[axis]}) or the "
                                 f"dilation ({d[axis]}), as in PyTorch: it only picks between output sizes "
                                 "that a stride would otherwise make ambiguous.")
        t = cls(x, w, bias, s, p, op, d)
        for axis, name in ((0, "height"), (1, "width")):
            full = t.canvas_shape[axis]
            if full - 2 * p[axis] < 1:
                raise ValueError(f"Padding {p[axis]} crops {2 * p[axis]} from a {name} of {full}: nothing is "
                                 "left. Use less padding, a larger stride or a larger kernel.")
        return t

    @property
    def canvas_shape(self) -> Pair:
        """(rows, cols) before cropping: (H-1)*stride + dilation*(k-1) + 1 + output_padding."""
        h, w = self.image.shape[1:]
        kh, kw = self.kernel.shape[1:]
        return ((h - 1) * self.stride[0] + self.dilation[0] * (kh - 1) + 1 + self.output_padding[0],
                (w - 1) * self.stride[1] + self.dilation[1] * (kw - 1) + 1 + self.output_padding[1])

    @property
    def shape(self) -> Pair:
        ch, cw = self.canvas_shape
        return ch - 2 * self.padding[0], cw - 2 * self.padding[1]

    @property
    def crop_mask(self) -> np.ndarray:
        """(canvas rows, cols) True where the canvas is cropped away by `padding`."""
        mask = np.ones(self.canvas_shape, dtype=bool)
        (oh, ow), (ph, pw) = self.shape, self.padding
        mask[ph:ph + oh, pw:pw + ow] = False
        return mask

    @property
    def n_steps(self) -> int:
        return int(np.prod(self.image.shape))

    def source(self, k: int) -> tuple[int, int, int]:
        """(channel, row, col) of the input cell scattered at step k."""
        c, rest = divmod(k, self.image.shape[1] * self.image.shape[2])
        if not 0 <= c < self.image.shape[0] or k < 0:
            raise IndexError(f"step {k} is outside 0..{self.n_steps - 1}")
        return (c, *divmod(rest, self.image.shape[2]))

    def targets(self, i: int, j: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Rows and columns of the canvas that input cell (i, j) writes to."""
        kh, kw = self.kernel.shape[1:]
        return (tuple(i * self.stride[0] + a * self.dilation[0] for a in range(kh)),
                tuple(j * self.stride[1] + b * self.dilation[1] for b in range(kw)))

    def _dtype(self) -> np.dtype:
        return _exact(self.image, self.kernel, extra=self.bias)

    def canvas(self, upto: int | None = None) -> np.ndarray:
        """The uncropped canvas after scattering steps 0..upto (all of them when None), without the bias."""
        last = self.n_steps - 1 if upto is None else upto
        out = np.zeros(self.canvas_shape, dtype=self._dtype())
        for k in range(last + 1):
            c, i, j = self.source(k)
            rows, cols = self.targets(i, j)
            out[np.ix_(rows, cols)] += self.image[c, i, j] * self.kernel[c]
        return out

    def hits(self, upto: int | None = None) -> np.ndarray:
        """(canvas rows, cols) how many scattered products have landed on each canvas cell after step `upto`."""
        last = self.n_steps - 1 if upto is None else upto
        count = np.zeros(self.canvas_shape, dtype=np.int64)
        for k in range(last + 1):
            _, i, j = self.source(k)
            count[np.ix_(*self.targets(i, j))] += 1
        return count

    def crop(self, canvas: np.ndarray) -> np.ndarray:
        """The output part of a canvas (cropping `padding` on every side)."""
        (oh, ow), (ph, pw) = self.shape, self.padding
        return canvas[ph:ph + oh, pw:pw + ow]

    def output(self) -> np.ndarray:
        """(rows, cols) the whole result, computed kernel offset by kernel offset (not via the scatter steps)."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel.shape[1:], self.stride, self.dilation
        h, w = self.image.shape[1:]
        canvas = np.zeros(self.canvas_shape, dtype=self._dtype())
        for a in range(kh):
            for b in range(kw):
                block = np.tensordot(self.kernel[:, a, b], self.image, axes=1)  # (H, W)
                canvas[a * dh:a * dh + sh * (h - 1) + 1:sh, b * dw:b * dw + sw * (w - 1) + 1:sw] += block
        return self.crop(canvas) + self.bias

    def step(self, k: int) -> ScatterStep:
        """Scatter step k: input cell value × kernel added to the canvas block it lands on."""
        c, i, j = self.source(k)
        rows, cols = self.targets(i, j)
        value = self.image[c, i, j].item()
        contribution = self.image[c, i, j] * self.kernel[c]
        where = f"x[{i}, {j}]" if self.image.shape[0] == 1 else f"x{c + 1}[{i}, {j}]"
        lines = [f"{where} = {fmt(value)}, so {factor(value)} × kernel is added to canvas rows "
                 f"{_span(rows)} and columns {_span(cols)}",
                 f"(the block starts at row {i}×{self.stride[0]} = {rows[0]}, "
                 f"column {j}×{self.stride[1]} = {cols[0]})"]
        return ScatterStep(c, (i, j), value, rows, cols, contribution, lines)

    def gather(self, r: int, q: int) -> tuple[Number, str]:
        """Output cell (r, q) as the sum of everything scattered onto it, written out."""
        oh, ow = self.shape
        if not (0 <= r < oh and 0 <= q < ow):
            raise IndexError(f"cell ({r}, {q}) is outside the {oh}×{ow} output")
        r0, q0 = r + self.padding[0], q + self.padding[1]  # canvas coordinates
        terms, total = [], 0
        for k in range(self.n_steps):
            c, i, j = self.source(k)
            rows, cols = self.targets(i, j)
            for a, rr in enumerate(rows):
                for b, cc in enumerate(cols):
                    if rr == r0 and cc == q0:
                        x, w = self.image[c, i, j].item(), self.kernel[c, a, b].item()
                        terms.append(f"{factor(x)}{TIMES}{factor(w)}")
                        total += x * w
        value = total + self.bias
        text = " + ".join(terms) if terms else "nothing lands here: 0"
        if self.bias != 0:
            text += f" + {factor(self.bias)} (bias)"
        return value, f"{text} = {fmt(value)}"


def _span(indices: tuple[int, ...]) -> str:
    if len(indices) == 1:
        return str(indices[0])
    step = indices[1] - indices[0]
    return f"{indices[0]}–{indices[-1]}" if step == 1 else f"{', '.join(map(str, indices))}"


def conv_transpose2d(image: np.ndarray, kernel: np.ndarray, stride: int | Pair = 1, padding: int | Pair = 0,
                     output_padding: int | Pair = 0, dilation: int | Pair = 1, bias: Number = 0) -> np.ndarray:
    """Transposed convolution of (H, W) or (C, H, W) with (kh, kw) or (C, kh, kw) to one output channel.

    Same as `torch.nn.functional.conv_transpose2d(x[None], w[:, None], [bias], stride, padding,
    output_padding, groups=1, dilation)[0, 0]`.
    """
    return TransposedConv.make(image, kernel, bias, stride, padding, output_padding, dilation).output()


# ---------------------------------------------------------------------------------------------- checking
def mark_answer(truth: np.ndarray, answer: np.ndarray, tolerance: float = 0.01) -> np.ndarray:
    """Compare a student's grid with the truth: an array of 'right', 'wrong' or 'blank' (NaN = not filled in).

    A cell is right when it is within `tolerance` of the truth (answers to averages are typed rounded).
    """
    truth = np.asarray(truth, dtype=np.float64)
    answer = np.asarray(answer, dtype=np.float64)
    if truth.shape != answer.shape:
        raise ValueError(f"the answer has shape {answer.shape} but the output has shape {truth.shape}")
    marks = np.where(np.abs(answer - truth) <= tolerance, "right", "wrong").astype(object)
    marks[np.isnan(answer)] = "blank"
    return marks
