"""Grouped, depthwise and depthwise-separable convolution: what each output channel reads, what it costs, and the
convolution itself worked out group by group.

Plain Python and numpy, no torch (the tests check every number against `torch.nn.functional.conv2d(groups=...)`
and real `nn.Conv2d` modules). Counts are for one image; every layer keeps the output's height × width (stride 1,
'same' padding), as MobileNet's layers do:

    weights    C_out · (C_in / g) · k · k        biases   C_out
    mult-adds  H · W · C_out · (C_in / g) · k · k

A depthwise-separable layer is a depthwise k × k convolution (g = C_in) followed by a pointwise 1 × 1 one, so its
mult-adds are 1/C_out + 1/k² of a plain convolution's (MobileNet, Howard et al. 2017).
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from cnnviz.lessons.gridhtml import ORANGE, ORANGE_LIGHT
from cnnviz.lessons.stepping import Conv, ConvStep, Number, Padding, Pair, factor, fmt

KINDS = ("plain", "pointwise", "grouped", "depthwise", "separable")
TITLES = {"plain": "Plain k × k", "pointwise": "Pointwise 1 × 1", "grouped": "Grouped",
          "depthwise": "Depthwise", "separable": "Depthwise-separable"}
SHORT = {"plain": "Plain", "pointwise": "1 × 1", "grouped": "Grouped", "depthwise": "Depthwise",
         "separable": "Separable"}  # on buttons: five side by side fit a phone
HELP = {  # each kind in one sentence: what it reads and why a network uses it
    "plain": "Every output channel reads every input channel through a k × k window: the most weights, the most "
             "work.",
    "pointwise": "A 1 × 1 kernel: each output cell mixes the input channels at that one pixel, with no neighbours; "
                 "it changes the number of channels cheaply.",
    "grouped": "The channels are split into g groups and each output channel reads only the input channels of its "
               "own group: g times fewer weights and mult-adds (AlexNet, ResNeXt).",
    "depthwise": "Groups = input channels: one k × k filter per channel, which never mixes channels (and keeps "
                 "C_in of them).",
    "separable": "A depthwise k × k convolution (the neighbours) followed by a pointwise 1 × 1 one (mixing the "
                 "channels): MobileNet's building block.",
}
RANGES = {"channels": range(1, 2049), "groups": range(1, 2049)}  # as wide as real networks get, few enough to draw
COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d")


def _whole(name: str, value: int, minimum: int = 1) -> int:
    """`value` as an int of at least `minimum`, or a ValueError that names it."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return int(value)


def valid_groups(c_in: int, c_out: int) -> list[int]:
    """Every g that divides both channel counts: the groups PyTorch accepts for C_in → C_out."""
    return [g for g in range(1, min(c_in, c_out) + 1) if c_in % g == 0 and c_out % g == 0]


def check_groups(c_in: int, c_out: int, groups: int) -> None:
    """Raise a ValueError in a student's words unless `groups` splits both channel counts evenly (PyTorch's rule)."""
    c_in, c_out, groups = _whole("C_in", c_in), _whole("C_out", c_out), _whole("groups", groups)
    bad = [f"{name} = {n}" for name, n in (("the input channels C_in", c_in), ("the output channels C_out", c_out))
           if n % groups]
    if bad:
        raise ValueError(f"{groups} groups cannot split {' and '.join(bad)} evenly: each group needs the same "
                         "number of input and of output channels, so g must divide both")


# ------------------------------------------------------------------------------------------------- wiring


def group_channels(c_in: int, c_out: int, groups: int) -> list[tuple[range, range]]:
    """(input channels, output channels) of each group, counted from 0: output channel o reads only its group's."""
    check_groups(c_in, c_out, groups)
    a, b = c_in // groups, c_out // groups
    return [(range(g * a, (g + 1) * a), range(g * b, (g + 1) * b)) for g in range(groups)]


def reads(out_channel: int, c_in: int, c_out: int, groups: int) -> range:
    """The input channels that output channel `out_channel` reads (from 0)."""
    if not 0 <= out_channel < c_out:
        raise ValueError(f"output channel {out_channel} does not exist: there are {c_out} (0 to {c_out - 1})")
    return group_channels(c_in, c_out, groups)[out_channel // (c_out // groups)][0]


def channel_presets(chosen: str, presets: Sequence[str], c_out: int) -> list[str]:
    """The preset kernel each output channel starts from: the chosen one for the first, then those after it in
    `presets` (cycling), so that a layer's filters differ as a trained layer's do; the chosen one for all when it
    is not in `presets` (the blank 'Custom' kernel)."""
    if chosen not in presets:
        return [chosen] * c_out
    at = list(presets).index(chosen)
    return [presets[(at + o) % len(presets)] for o in range(c_out)]


def kernel_slices(c_in: int, c_out: int, groups: int) -> list[tuple[int, int]]:
    """(output channel, input channel) of each k × k slice of a (C_out, C_in / g, k, k) weight, in its order:
    the slices a student types in, each named by the two channels it joins."""
    return [(o, i) for o in range(c_out) for i in reads(o, c_in, c_out, groups)]


# -------------------------------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class ConvLayer:
    """One nn.Conv2d(c_in, c_out, kernel, groups=groups) on an output of height × width (one image)."""

    c_in: int
    c_out: int
    kernel: int
    groups: int = 1

    @property
    def weights(self) -> int:
        return self.c_out * (self.c_in // self.groups) * self.kernel ** 2

    def mult_adds(self, height: int, width: int) -> int:
        """One multiply-add per weight per output position."""
        return height * width * self.weights

    @property
    def code(self) -> str:
        """The layer as PyTorch code (padding='same' keeps the size)."""
        groups = f", groups={self.groups}" if self.groups > 1 else ""
        return f"nn.Conv2d({self.c_in}, {self.c_out}, {self.kernel}{groups}, padding='same')"


@dataclass(frozen=True)
class Cost:
    """What one kind of layer costs for C_in → C_out on height × width: its convolutions, parameters, mult-adds."""

    kind: str
    layers: tuple[ConvLayer, ...]
    height: int
    width: int
    bias: bool = True

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def biases(self) -> int:
        return sum(layer.c_out for layer in self.layers) if self.bias else 0

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def mult_adds(self) -> int:
        return sum(layer.mult_adds(self.height, self.width) for layer in self.layers)

    @property
    def c_out(self) -> int:
        return self.layers[-1].c_out

    @property
    def formula(self) -> str:
        """How the weights add up, e.g. '32·3·3 + 64·32·1·1' (out · in per group · k · k per convolution)."""
        return " + ".join(f"{layer.c_out}·{layer.c_in // layer.groups}·{layer.kernel}·{layer.kernel}"
                          for layer in self.layers)


def costs(c_in: int, c_out: int, kernel: int, height: int, width: int, groups: int = 1,
          bias: bool = True) -> list[Cost]:
    """The five kinds of layer (KINDS order) for C_in → C_out with a k × k kernel on an output of height × width.

    The depthwise layer alone keeps C_in channels (one filter per channel); the separable one adds the pointwise
    1 × 1 convolution to C_out.

    Raises:
        ValueError: a count is not a positive whole number, or `groups` does not divide C_in and C_out.
    """
    c_in, c_out, kernel = _whole("C_in", c_in), _whole("C_out", c_out), _whole("the kernel", kernel)
    height, width = _whole("the height", height), _whole("the width", width)
    check_groups(c_in, c_out, groups)
    depthwise = ConvLayer(c_in, c_in, kernel, c_in)
    kinds = {"plain": (ConvLayer(c_in, c_out, kernel),), "pointwise": (ConvLayer(c_in, c_out, 1),),
             "grouped": (ConvLayer(c_in, c_out, kernel, groups),), "depthwise": (depthwise,),
             "separable": (depthwise, ConvLayer(c_in, c_out, 1))}
    return [Cost(kind, kinds[kind], height, width, bias) for kind in KINDS]


def saving(cost: Cost, plain: Cost) -> str:
    """How `cost` compares to the plain layer in words: '8.4× fewer', 'the same' or '2× more'."""
    if cost.mult_adds == plain.mult_adds:
        return "the same"
    ratio = plain.mult_adds / cost.mult_adds
    return f"{ratio:.3g}× fewer" if ratio > 1 else f"{1 / ratio:.3g}× more"


def mobilenet_ratio(c_out: int, kernel: int) -> Fraction:
    """Depthwise-separable over plain mult-adds: 1/C_out + 1/k² (exact)."""
    return Fraction(1, c_out) + Fraction(1, kernel ** 2)


def mobilenet_sentence(c_out: int, kernel: int) -> str:
    """MobileNet's saving for these settings in one sentence, with the exact sum 1/C_out + 1/k²."""
    ratio = mobilenet_ratio(c_out, kernel)
    sums = f"1/{c_out} + 1/{kernel * kernel} = {float(ratio):.3g}"
    if ratio >= 1:
        return (f"A depthwise-separable layer needs 1/C_out + 1/k² of a plain layer's mult-adds: here {sums}, so it "
                "costs more: with a 1 × 1 kernel there is no window to separate from the channels.")
    return (f"A depthwise-separable layer needs 1/C_out + 1/k² of a plain layer's mult-adds: here {sums}, "
            f"**{float(1 / ratio):.3g}× fewer**. MobileNet builds its whole network from these: with 3 × 3 kernels "
            "and 64 to 1024 channels that is about 8–9× fewer mult-adds, for a little accuracy.")


def wiring_of(kind: str, c_in: int, c_out: int, groups: int) -> tuple[list[int], list[int]]:
    """The rows of channels of one kind of layer and the groups between them, for `wiring_svg`."""
    rows = {"plain": ([c_in, c_out], [1]), "pointwise": ([c_in, c_out], [1]), "grouped": ([c_in, c_out], [groups]),
            "depthwise": ([c_in, c_in], [c_in]), "separable": ([c_in, c_in, c_out], [c_in, 1])}
    return rows[kind]


def _channels(read: range, of: int) -> str:
    """'input channel 3', 'input channels 1–8 (8 of 32)' or 'all 32 input channels' (numbered from 1)."""
    if len(read) == of:
        return "the only input channel" if of == 1 else f"all {of} input channels"
    if len(read) == 1:
        return f"input channel {read.start + 1} only"
    return f"input channels {read.start + 1}–{read.stop} ({len(read)} of {of})"


def reading_sentence(kind: str, c_in: int, c_out: int, kernel: int, groups: int, out_channel: int) -> str:
    """Which input channels output channel `out_channel` (from 0) of one kind of layer reads, and with how many
    weights, in one sentence."""
    o = out_channel + 1
    if kind == "separable":
        return (f"Output channel {o} reads all {c_in} input channels in two steps: the depthwise layer filters each "
                f"input channel with its own {kernel} × {kernel} window ({c_in}·{kernel}·{kernel} weights shared by "
                f"every output channel), then channel {o}'s 1 × 1 kernel mixes the {c_in} filtered channels with "
                f"{c_in} weights of its own.")
    g, k = {"plain": (1, kernel), "pointwise": (1, 1), "grouped": (groups, kernel), "depthwise": (c_in, kernel)}[kind]
    outs = c_in if kind == "depthwise" else c_out
    read = reads(out_channel, c_in, outs, g)
    group = f", group {out_channel // (outs // g) + 1} of {g}" if 1 < g < c_in else ""
    if len(read) == 1:
        return (f"Output channel {o} reads {_channels(read, c_in)}: one {k} × {k} window, {k * k} weights; "
                "nothing mixes the channels.")
    return (f"Output channel {o} reads {_channels(read, c_in)}{group}: one {k} × {k} window on each, "
            f"{len(read)}·{k}·{k} = {len(read) * k * k} weights.")


# -------------------------------------------------------------------------------- the convolution, group by group


@dataclass(frozen=True)
class GroupedConv:
    """A convolution of C_in → C_out channels in `groups` groups, each output channel a stepping.Conv over the input
    channels of its own group (the same numbers as torch.nn.functional.conv2d(x, w, b, groups=groups); with `flip`,
    those of the kernels rotated by 180°).

    Build with `GroupedConv.make(...)`, which checks the shapes.
    """

    image: np.ndarray  # (C_in, H, W)
    kernel: np.ndarray  # (C_out, C_in / groups, kh, kw), PyTorch's weight layout
    bias: np.ndarray  # (C_out,)
    groups: int
    padding: Padding
    stride: int | Pair
    dilation: int | Pair
    flip: bool = False  # rotate each kernel by 180° first (true convolution), as stepping.Conv does

    @classmethod
    def make(cls, image: np.ndarray, kernel: np.ndarray, bias: Sequence[Number] | None = None, groups: int = 1,
             padding: Padding = 0, stride: int | Pair = 1, dilation: int | Pair = 1,
             flip: bool = False) -> GroupedConv:
        """Check the shapes (as F.conv2d does) and build the convolution.

        Raises:
            ValueError: `groups` does not divide the channels, or the kernel's shape does not match them.
        """
        x, w = np.asarray(image), np.asarray(kernel)
        if x.ndim != 3 or w.ndim != 4:
            raise ValueError(f"the input must be (C_in, H, W) and the kernel (C_out, C_in / groups, kh, kw), got "
                             f"{x.shape} and {w.shape}")
        c_in, c_out = x.shape[0], w.shape[0]
        check_groups(c_in, c_out, groups)
        if w.shape[1] != c_in // groups:
            raise ValueError(f"with {groups} groups each kernel reads {c_in // groups} of the {c_in} input channels, "
                             f"but it has {w.shape[1]}")
        b = np.zeros(c_out, dtype=w.dtype) if bias is None else np.asarray(bias)
        if b.shape != (c_out,):
            raise ValueError(f"one bias per output channel: expected {c_out}, got shape {b.shape}")
        made = cls(x, w, b, groups, padding, stride, dilation, bool(flip))
        made.channel(0)  # raises when the kernel does not fit
        return made

    @property
    def c_in(self) -> int:
        return self.image.shape[0]

    @property
    def c_out(self) -> int:
        return self.kernel.shape[0]

    def reads(self, out_channel: int) -> range:
        """The input channels output channel `out_channel` reads."""
        return reads(out_channel, self.c_in, self.c_out, self.groups)

    def channel(self, out_channel: int) -> Conv:
        """Output channel `out_channel` alone: its kernel over the input channels of its group."""
        group = self.reads(out_channel)
        return Conv.make(self.image[group.start:group.stop], self.kernel[out_channel], self.bias[out_channel].item(),
                         self.padding, self.stride, self.dilation, self.flip)

    def output(self) -> np.ndarray:
        """(C_out, rows, cols) every output channel, computed group by group."""
        return np.stack([self.channel(o).output() for o in range(self.c_out)])

    def step(self, out_channel: int, i: int, j: int) -> ConvStep:
        """Output cell (i, j) of one output channel: a window on each input channel of its group, and their sum."""
        return self.channel(out_channel).step(i, j)

    def working(self, out_channel: int, i: int, j: int) -> list[str]:
        """The step's sum in words, naming the input channels by their number in the whole input (from 1); a
        'total' line adds the channels' sums and the bias, unless one channel alone is the answer."""
        step, first = self.step(out_channel, i, j), self.reads(out_channel).start
        lines = [f"input channel {first + ch.channel + 1}: {ch.working}" for ch in step.channels]
        if len(lines) == 1 and not step.bias:
            return lines
        terms = " + ".join(factor(ch.total) for ch in step.channels)  # the stepper's own way: 2 + (-1)
        bias = f" + {factor(step.bias)} (bias)" if step.bias else ""
        return [*lines, f"total: {terms}{bias} = {fmt(step.value)}"]


# ---------------------------------------------------------------------------------------------------- picture

WIRING_CSS = f"""<style>
.cv-wire {{font-family: sans-serif; color: #222; max-width: 760px; margin: 4px 0 8px 0;}}
.cv-wire-title {{font-size: 17px; font-weight: 600; margin: 2px 0;}}
.cv-wire-row {{display: flex; height: 26px;}}
.cv-wire-row .cv-box {{flex: 1 1 0; min-width: 0; background: #f1f3f5; border: 1px solid #495057;
  margin-left: -1px;}}
.cv-wire-row .cv-box.thin {{border-width: 0.5px;}}
.cv-wire-row .cv-box.on {{background: {ORANGE_LIGHT};}}
.cv-wire-row .cv-box.on.chosen {{background: {ORANGE};}}
.cv-wire-row .cv-bar {{flex: 1; background: #dee2e6; border: 1px solid #495057;}}
.cv-wire-gap {{position: relative; height: 54px;}}
.cv-wire-gap .cv-band {{position: absolute; inset: 0;}}
</style>"""


def wiring_html(stages: Sequence[int], groups: Sequence[int], highlight: int | None = None,
                titles: Sequence[str] = ()) -> str:
    """A picture of which channels read which: a row of boxes per stage of channels (e.g. [C_in, C_out]) and, between
    two rows, a band per group joining the input channels it reads to the output channels it makes.

    `groups[i]` is the number of groups between stage i and i+1; `highlight` (an output channel of the last stage,
    from 0) fills its box and the boxes of every channel it reads, and draws the bands that lead to it dark, the
    others pale. HTML and CSS only (a band is a clipped polygon), so it reflows to any width; colours repeat after
    eight groups. Raises ValueError like `check_groups`.
    """
    if len(groups) != len(stages) - 1:
        raise ValueError(f"{len(stages)} rows of channels need {len(stages) - 1} group counts, got {len(groups)}")
    traced = _traced(stages, groups, highlight)
    parts = []
    for s, n in enumerate(stages):
        title = titles[s] if s < len(titles) else f"{n} channels"
        parts.append(f'<div class="cv-wire-title">{html.escape(title)}</div>{_boxes(n, traced[s], s == len(groups))}')
        if s < len(groups):
            parts.append(f'<div class="cv-wire-gap">{_bands(n, stages[s + 1], groups[s], traced[s + 1])}</div>')
    return WIRING_CSS + f'<div class="cv-wire" role="img">{"".join(parts)}</div>'


def _bands(c_in: int, c_out: int, groups: int, lit: set[int] | None) -> str:
    """One band per group from its input channels (top edge) to its output channels (bottom edge); dark when it
    makes one of the `lit` output channels (all dark when None)."""
    bands = []
    for g, (ins, outs) in enumerate(group_channels(c_in, c_out, groups)):
        x0, x1 = 100 * ins.start / c_in, 100 * ins.stop / c_in
        x2, x3 = 100 * outs.start / c_out, 100 * outs.stop / c_out
        opacity = 0.75 if lit is None or lit & set(outs) else 0.12
        tip = f"group {g + 1}: input {_numbers(ins)} → output {_numbers(outs)}"
        bands.append(f'<div class="cv-band" title="{tip}" style="background: {COLOURS[g % len(COLOURS)]}; '
                     f'opacity: {opacity}; clip-path: polygon({x0:.2f}% 0, {x1:.2f}% 0, {x3:.2f}% 100%, '
                     f'{x2:.2f}% 100%);"></div>')
    return "".join(bands)


def _numbers(channels: range) -> str:
    """'channel 3' or 'channels 1–8', numbered from 1."""
    if len(channels) == 1:
        return f"channel {channels.start + 1}"
    return f"channels {channels.start + 1}–{channels.stop}"


def _traced(stages: Sequence[int], groups: Sequence[int], highlight: int | None) -> list[set[int] | None]:
    """The channels of each row that lead to output channel `highlight` of the last row (None everywhere: none
    chosen)."""
    if highlight is None:
        return [None] * len(stages)
    traced: list[set[int] | None] = [{highlight}]
    for s in range(len(groups) - 1, -1, -1):
        wiring = group_channels(stages[s], stages[s + 1], groups[s])
        traced.insert(0, {c for ins, outs in wiring if traced[0] & set(outs) for c in ins})
    return traced


def _boxes(n: int, lit: set[int] | None, chosen: bool = False) -> str:
    """One outlined box per channel, the `lit` ones filled (darker when `chosen`: the output channel picked); one bar
    for more than 128, too thin to tell apart."""
    if n > 128:
        return '<div class="cv-wire-row"><div class="cv-bar"></div></div>'
    thin = " thin" if n > 48 else ""
    return '<div class="cv-wire-row">' + "".join(
        f'<div class="cv-box{thin}{_lit(c, lit, chosen)}"></div>' for c in range(n)) + "</div>"


def _lit(channel: int, lit: set[int] | None, chosen: bool) -> str:
    """A box's extra classes: ' on' for a channel on the chosen one's path, ' on chosen' for the chosen one itself."""
    if not lit or channel not in lit:
        return ""
    return " on chosen" if chosen else " on"
