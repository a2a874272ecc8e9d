"""The backward pass of a convolution, one gradient cell at a time, with the arithmetic written out.

For y = x ⋆ w + b (one channel, PyTorch's cross-correlation, see `stepping.Conv`) and the upstream gradient
g = dL/dy, each forward product x_padded[r*s + i*d, c*s + j*d] × w[i, j] sends gradient back both ways:
    dL/dw[i, j] = Σ over output cells (r, c) of x_padded[r*s + i*d, c*s + j*d] × g[r, c]
    dL/db       = Σ g[r, c]
    dL/dx[p, q] = Σ over every (r, c, i, j) whose window put w[i, j] on x[p, q] of g[r, c] × w[i, j]
NumPy only, like the forward stepper; the tests hold every result equal to `torch.autograd`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.lessons.stepping import (
    Conv,
    Number,
    Padding,
    Pair,
    _pad_mask,
    _products_text,
    _stack,
    _sum_text,
    convolve2d,
    fmt,
)

__all__ = ["GRAD_PHASES", "GradStep", "ConvBackward", "conv_backward", "SGDStep", "sgd_step"]

GRAD_PHASES = ("weights", "bias", "input")


@dataclass(frozen=True)
class GradStep:
    """One cell of a gradient: the cells it gathers from, the products, and the worked sum.

    Term k of the sum is ∂L/∂y[grad_cells[k]] times either the padded input at input_cells[k] ('weights') or
    the kernel at kernel_cells[k] ('input'); 'bias' terms are ∂L/∂y cells alone.
    """

    phase: str  # 'weights' (a cell of dL/dw), 'bias' (dL/db) or 'input' (a cell of dL/dx)
    cell: Pair  # the cell computed: (i, j) of the kernel, (p, q) of the unpadded input, (0, 0) for the bias
    grad_cells: tuple[Pair, ...]  # (r, c) of dL/dy in each term
    input_cells: tuple[Pair, ...]  # (row, col) of the padded input in each term (for 'input': the cell itself)
    is_padding: tuple[bool, ...]  # per input cell: True where it is zero padding
    kernel_cells: tuple[Pair, ...]  # (i, j) of the kernel in each term (for 'weights': the cell itself)
    products: np.ndarray  # (n_terms,) the numbers added up, in the order of the cells above
    value: Number
    lines: list[str]  # the worked sum, "2×1 + 0×(-1) + … = 4"

    @property
    def working(self) -> str:
        return "\n".join(self.lines)

    @property
    def label(self) -> str:
        """What this step computes, as a page titles it: '∂L/∂w[0, 1]', '∂L/∂b' or '∂L/∂x[2, 3]'."""
        if self.phase == "bias":
            return "∂L/∂b"
        name = "w" if self.phase == "weights" else "x"
        return f"∂L/∂{name}[{self.cell[0]}, {self.cell[1]}]"


@dataclass(frozen=True)
class ConvBackward:
    """The three gradients of a one-channel convolution, stepped: every weight, then the bias, then every input.

    Build with `ConvBackward.make(...)`, which checks the settings; `gradients()` is the whole result computed
    as two convolutions, `step(k)` one cell computed term by term (the tests hold the two equal).
    """

    image: np.ndarray  # (H, W) the forward pass's input x
    kernel: np.ndarray  # (kh, kw) its weights w
    grad: np.ndarray  # (oh, ow) the upstream gradient dL/dy, shaped like the output
    pads: tuple[int, int, int, int]  # top, bottom, left, right
    stride: Pair
    dilation: Pair

    @classmethod
    def make(cls, x: np.ndarray, w: np.ndarray, grad_out: np.ndarray, padding: Padding = 0,
             stride: int | Pair = 1, dilation: int | Pair = 1) -> ConvBackward:
        """Check the settings and build the backward pass.

        Args:
            x: (H, W) input; w: (kh, kw) kernel; grad_out: dL/dy, shaped like convolve2d(x, w, ...).
            padding, stride, dilation: as `stepping.convolve2d` takes them.
        Raises:
            ValueError: a grid that is not 2-D, settings the forward pass refuses, or grad_out not shaped
                like the output, with a message fit to show a student.
        """
        for name, a in (("The input x", x), ("The kernel w", w), ("The output gradient dL/dy", grad_out)):
            if np.ndim(a) != 2:
                raise ValueError(f"{name} must be a 2-D grid (one channel), got shape {np.shape(a)}")
        forward = Conv.make(x, w, 0, padding, stride, dilation)
        g = _stack(grad_out, "The output gradient dL/dy")[0]
        if g.shape != forward.shape:
            raise ValueError(f"The output gradient dL/dy has shape {g.shape} but the output y has shape "
                             f"{forward.shape}: dL/dy holds one number per output cell, so the shapes must match.")
        return cls(forward.image[0], forward.kernel[0], g, forward.pads, forward.stride, forward.dilation)

    @property
    def forward(self) -> Conv:
        """The forward convolution (no bias) whose gradients these are: its padded input, windows and output."""
        return Conv(self.image[None], self.kernel[None], 0, self.pads, self.stride, self.dilation, False)

    @property
    def padded(self) -> np.ndarray:
        """(Hp, Wp) the input with its zero border, as the forward pass saw it."""
        return self.forward.padded[0]

    @property
    def pad_mask(self) -> np.ndarray:
        """(Hp, Wp) True on padding cells."""
        return _pad_mask(self.image.shape, self.pads)

    # ------------------------------------------------------------------------------------------ whole result
    def grad_w(self) -> np.ndarray:
        """(kh, kw) w[i, j] met every output cell: the padded input cross-correlated with dL/dy spread by the stride."""
        kh, kw = self.kernel.shape
        return convolve2d(self.padded, self.grad, stride=self.dilation, dilation=self.stride)[:kh, :kw]

    def grad_b(self) -> Number:
        """dL/db: the bias is added to every output cell, so it collects every cell of dL/dy."""
        return self.grad.sum().item()

    def grad_x(self) -> np.ndarray:
        """(H, W) each cell collects g × w from every window over it: a full, i.e. transposed, convolution."""
        (kh, kw), (dh, dw) = self.kernel.shape, self.dilation
        spread = _spread(self.grad, self.stride)
        full = convolve2d(spread, self.kernel, padding=(dh * (kh - 1), dw * (kw - 1)), dilation=self.dilation,
                          flip=True)  # (rows the windows reached, cols)
        canvas = np.zeros(self.pad_mask.shape, dtype=full.dtype)  # rows past the last window get nothing
        canvas[:full.shape[0], :full.shape[1]] = full
        return canvas[~self.pad_mask].reshape(self.image.shape)

    def gradients(self) -> tuple[np.ndarray, np.ndarray, Number]:
        """(dL/dx, dL/dw, dL/db), computed whole (not via `step`)."""
        return self.grad_x(), self.grad_w(), self.grad_b()

    # ------------------------------------------------------------------------------------------ steps
    @property
    def n_steps(self) -> int:
        return self.kernel.size + 1 + self.image.size

    def phase_range(self, phase: str) -> range:
        """The steps of one phase ('weights', 'bias' or 'input'), for a page that jumps between phases."""
        if phase not in GRAD_PHASES:
            raise ValueError(f"phase must be one of {', '.join(GRAD_PHASES)}, got {phase!r}")
        sizes = dict(zip(GRAD_PHASES, (self.kernel.size, 1, self.image.size)))
        start = sum(sizes[p] for p in GRAD_PHASES[:GRAD_PHASES.index(phase)])
        return range(start, start + sizes[phase])

    def locate(self, k: int) -> tuple[str, Pair]:
        """(phase, cell) of step k: the kernel cells row by row, then the bias, then the input cells."""
        if not 0 <= k < self.n_steps:
            raise IndexError(f"step {k} is outside 0..{self.n_steps - 1}")
        if k < self.kernel.size:
            return "weights", divmod(k, self.kernel.shape[1])
        if k == self.kernel.size:
            return "bias", (0, 0)
        return "input", divmod(k - self.kernel.size - 1, self.image.shape[1])

    def step(self, k: int) -> GradStep:
        """Step k of the three phases (see `locate`)."""
        phase, (a, b) = self.locate(k)
        if phase == "weights":
            return self.weight_step(a, b)
        return self.bias_step() if phase == "bias" else self.input_step(a, b)

    def weight_step(self, i: int, j: int) -> GradStep:
        """dL/dw[i, j]: the input cell under w[i, j] in every window, times that window's dL/dy."""
        kh, kw = self.kernel.shape
        if not (0 <= i < kh and 0 <= j < kw):
            raise IndexError(f"cell ({i}, {j}) is outside the {kh}×{kw} kernel")
        (sh, sw), (dh, dw) = self.stride, self.dilation
        outs = _cells(self.grad.shape)
        ins = tuple((r * sh + i * dh, c * sw + j * dw) for r, c in outs)  # under w[i, j] in window (r, c)
        xp, mask = self.padded, self.pad_mask
        xs = np.array([xp[u, v] for u, v in ins], dtype=xp.dtype)
        gs = np.array([self.grad[r, c] for r, c in outs], dtype=self.grad.dtype)
        return _gathered("weights", (i, j), outs, ins, tuple(bool(mask[u, v]) for u, v in ins),
                         ((i, j),) * len(outs), xs, gs)

    def bias_step(self) -> GradStep:
        """dL/db: every cell of dL/dy added up."""
        outs = _cells(self.grad.shape)
        products = self.grad.ravel().copy()
        value = products.sum().item()
        lines = [f"{_sum_text([fmt(v) for v in products])} = {fmt(value)}"]
        return GradStep("bias", (0, 0), outs, (), (), (), products, value, lines)

    def input_step(self, p: int, q: int) -> GradStep:
        """dL/dx[p, q]: every window that covered x[p, q], its dL/dy times the weight it put there."""
        h, w = self.image.shape
        if not (0 <= p < h and 0 <= q < w):
            raise IndexError(f"cell ({p}, {q}) is outside the {h}×{w} input")
        top, _, left, _ = self.pads
        rows = _hits(p + top, self.grad.shape[0], self.kernel.shape[0], self.stride[0], self.dilation[0])
        cols = _hits(q + left, self.grad.shape[1], self.kernel.shape[1], self.stride[1], self.dilation[1])
        terms = [(r, c, i, j) for r, i in rows for c, j in cols]
        outs = tuple((r, c) for r, c, _, _ in terms)
        weights = tuple((i, j) for _, _, i, j in terms)
        gs = np.array([self.grad[r, c] for r, c in outs], dtype=self.grad.dtype)
        ws = np.array([self.kernel[i, j] for i, j in weights], dtype=self.kernel.dtype)
        return _gathered("input", (p, q), outs, ((p + top, q + left),) * len(terms), (False,) * len(terms),
                         weights, gs, ws)


def _cells(shape: Pair) -> tuple[Pair, ...]:
    """Every (row, col) of a grid, row by row."""
    return tuple((r, c) for r in range(shape[0]) for c in range(shape[1]))


def _hits(u: int, n_out: int, k: int, stride: int, dilation: int) -> list[Pair]:
    """(output index, kernel index) pairs along one axis whose window puts that kernel index on padded index u."""
    return [(r, i) for r in range(n_out) for i in range(k) if r * stride + i * dilation == u]


def _spread(g: np.ndarray, stride: Pair) -> np.ndarray:
    """dL/dy with stride-1 zeros between its cells, so each cell sits where its window starts."""
    sh, sw = stride
    out = np.zeros(((g.shape[0] - 1) * sh + 1, (g.shape[1] - 1) * sw + 1), dtype=g.dtype)
    out[::sh, ::sw] = g
    return out


def _gathered(phase: str, cell: Pair, outs: tuple[Pair, ...], ins: tuple[Pair, ...], padding: tuple[bool, ...],
              weights: tuple[Pair, ...], left: np.ndarray, right: np.ndarray) -> GradStep:
    """A step whose value is Σ left × right, written out; no terms means the cell never reached the output."""
    products = left * right
    value = products.sum().item()
    if products.size:
        lines = [f"{_products_text(left, right)} = {fmt(value)}"]
    else:
        lines = ["0: no window of the forward pass covered this cell, so it did not change the loss"]
    return GradStep(phase, cell, outs, ins, padding, weights, products, value, lines)


def conv_backward(x: np.ndarray, w: np.ndarray, grad_out: np.ndarray, padding: Padding = 0,
                  stride: int | Pair = 1, dilation: int | Pair = 1) -> tuple[np.ndarray, np.ndarray, float]:
    """The gradients of y = convolve2d(x, w, padding, stride, dilation) + b, given dL/dy.

    Args:
        x: (H, W) input; w: (kh, kw) kernel; grad_out: dL/dy, shaped like y.
        padding: int, (ph, pw), 'valid' or 'same' (stride 1 only); stride, dilation: int or (h, w), at least 1.
    Returns:
        (dL/dx shaped like x, dL/dw shaped like w, dL/db a number); int64 and exact when every input is an
        integer, else float64. Same as torch.autograd on `(F.conv2d(x, w, b, ...) * grad_out).sum()`.
    Raises:
        ValueError: grids that are not 2-D, impossible settings, or grad_out not shaped like y.
    """
    return ConvBackward.make(x, w, grad_out, padding, stride, dilation).gradients()


# ---------------------------------------------------------------------------------------------- one SGD step
@dataclass(frozen=True)
class SGDStep:
    """One gradient-descent step on L = ½‖y − target‖²: the loss before, the gradients, the loss after."""

    lr: float
    loss_before: float
    output_before: np.ndarray  # (oh, ow) y = x ⋆ w + b
    grad_out: np.ndarray  # (oh, ow) dL/dy = y − target
    grad_w: np.ndarray  # (kh, kw)
    grad_b: float
    w_after: np.ndarray  # (kh, kw) w − lr × dL/dw
    b_after: float  # b − lr × dL/db
    output_after: np.ndarray  # (oh, ow) x ⋆ w_after + b_after
    loss_after: float

    @property
    def overshot(self) -> bool:
        """True when the step was too long: it jumped past the valley and the loss went up."""
        return self.loss_after > self.loss_before


def _half_squared(y: np.ndarray, target: np.ndarray) -> float:
    return 0.5 * float(((y - target) ** 2).sum())


def sgd_step(x: np.ndarray, w: np.ndarray, b: Number, target: np.ndarray, lr: float, padding: Padding = 0,
             stride: int | Pair = 1, dilation: int | Pair = 1) -> SGDStep:
    """One step of gradient descent on w and b for L = ½‖convolve2d(x, w) + b − target‖².

    Raises:
        ValueError: target not shaped like the output, a learning rate that is not a positive number, or
            anything `conv_backward` refuses.
    """
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"The learning rate must be a positive number, got {lr!r}")
    if not np.isfinite(float(b)):
        raise ValueError("The bias must be a finite number")
    y = convolve2d(x, w, padding, stride, dilation) + b
    if np.shape(target) != y.shape:
        raise ValueError(f"The target has shape {np.shape(target)} but the output y has shape {y.shape}: "
                         "the loss compares them cell by cell, so the shapes must match.")
    target = _stack(target, "The target")[0]
    g = y - target  # dL/dy of ½‖y − target‖²
    _, gw, gb = conv_backward(x, w, g, padding, stride, dilation)
    w_after = np.asarray(w, dtype=np.float64) - lr * gw
    b_after = float(b) - lr * gb
    y_after = convolve2d(x, w_after, padding, stride, dilation) + b_after
    return SGDStep(float(lr), _half_squared(y, target), y, g, gw, float(gb), w_after, b_after, y_after,
                   _half_squared(y_after, target))
