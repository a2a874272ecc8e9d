"""One step of a stepped lesson (convolution, pooling, transposed convolution) as grid HTML, and its quiz question.

Each lesson has a `*_scene(lesson, k, hide)` (the legend and the figures of step k, as `gridhtml` parts for one
`st.html` call; `hide` keeps the step's answer and its working back as '?' until the student has locked one in),
an `*_ask(lesson, k)` (what the quiz asks at step k) and an `*_size(lesson)` (the output-size formula with the
numbers put in). NumPy only, like the rest of `cnnviz.lessons`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cnnviz.lessons import gridhtml as gh
from cnnviz.lessons.groups import GroupedConv
from cnnviz.lessons.stepping import Conv, Pair, Pool, TransposedConv, fmt, size_text, transposed_size_text


@dataclass(frozen=True)
class Ask:
    """What the quiz asks at one step: which cell, its true value, a hint, and why the truth is what it is."""

    cell: Pair
    truth: int | float
    hint: str  # the empty box's placeholder
    why: str  # said after a wrong answer
    grid: str = "Output"  # the grid the cell belongs to ('Canvas' while a transposed convolution still crops)


def progress(out: np.ndarray, k: int, width: int, hidden: Pair | None = None, cell: int | None = None,
             title: str = "Output") -> str:
    """The output after step `k` (cells filled row by row): those done, the current one ('?' at `hidden` until the
    student has answered), and those still to come; `cell` px, or what fits `width`."""
    oh, ow = out.shape
    order = np.arange(oh * ow).reshape(oh, ow)
    shown = np.where(order <= k, out, None)
    if hidden is not None:
        shown[hidden] = "?"
    classes = np.where(order < k, "", np.where(order == k, "cur", "todo")).astype(object)
    return gh.grid(shown, classes=classes, cell=cell or gh.cell_size(oh, ow, width, 64, 28), name="output",
                   title=f"{title} ({oh} × {ow})")


def _same(rows: int, cols: int, texts: list[str], exact: bool) -> str:
    """'**Output size:** <rows formula>' and the columns' formula, or a note that it is the same."""
    return f"**Output size:** {texts[0]}" + (" (the same for the columns)" if exact else f";  {texts[1]}")


# ---------------------------------------------------------------------------------------------- convolution
def conv_size(conv: Conv) -> str:
    """The output-size formulas of a convolution with its numbers, as one line of Markdown."""
    (rows, cols), ksize, (top, bottom, lft, rgt) = conv.image.shape[1:], conv.kernel.shape[1], conv.pads
    texts = [size_text(rows, ksize, top, bottom, conv.stride[0], conv.dilation[0], "rows"),
             size_text(cols, ksize, lft, rgt, conv.stride[1], conv.dilation[1], "columns")]
    return _same(rows, cols, texts, (rows, top, bottom) == (cols, lft, rgt))  # square kernel, stride, dilation


def _padded_title(conv: Conv, same: bool) -> str:
    """', padded by 1' (or each side's padding, and whether it is 'same') for the input's title."""
    top, bottom, lft, rgt = conv.pads
    if conv.pads == (0, 0, 0, 0):
        return ""
    text = (f", padded by {top}" if len(set(conv.pads)) == 1 else
            f", padded {top} above, {bottom} below, {lft} left, {rgt} right")
    return text + (" ('same')" if same else "")


def input_cell(conv: Conv) -> int:
    """Pixels per cell of the padded input: one channel's input, kernel, output and working share one 1366 x 768
    screen (a padded 6 x 6 input: 41 px, 7 x 7: 36 px); several channels get the room a column each."""
    hp, wp = conv.pad_mask.shape
    chans = conv.image.shape[0]
    return gh.cell_size(hp, wp, 620 if chans == 1 else 1040 // chans - 50, 64, 22, height=330)


def weight_note(weight: float) -> str:
    """The kernel weight in a window cell's corner, short enough to read from the back of a room: '−1', '2'."""
    return fmt(weight).replace("-", "−")


def _conv_channels(conv: Conv, k: int, same: bool, numbers: range | None = None) -> list[str]:
    """Each input channel's figures at step k: the padded input with the window, × its kernel (rotated or not).

    `numbers`: the channels' numbers in a larger input (a group's, from 0), which their titles and names then give.
    """
    step = conv.step(*conv.cell(k))
    chans, ksize = conv.image.shape[0], conv.kernel.shape[1]
    top, _, lft, _ = conv.pads
    hp, wp = conv.pad_mask.shape
    classes = gh.classes_for((hp, wp), pad=conv.pad_mask, win=gh.window_mask((hp, wp), step.rows, step.cols))
    room = 620 if chans == 1 else 1040 // chans - 50  # pixels for one padded input
    big = input_cell(conv)
    kcell = gh.cell_size(ksize, ksize, 320 if chans == 1 else room, 60 if chans == 1 else 48, 24)
    figures = []
    for ch in step.channels:
        notes = None
        if big >= 36:  # room for the kernel weight in the corner of each window cell
            notes = np.full((hp, wp), "", dtype=object)
            notes[np.ix_(step.rows, step.cols)] = np.vectorize(weight_note)(ch.weights)
        n = ch.channel if numbers is None else numbers[ch.channel]
        label = f"Input channel {n + 1}" if numbers is not None else f"Channel {n + 1}" if chans > 1 else "Input"
        inp = gh.grid(conv.padded[ch.channel], classes=classes, notes=notes, cell=big, row_offset=-top,
                      col_offset=-lft, name=f"input{n}", title=label + _padded_title(conv, same))
        kern = [gh.grid(ch.weights, classes=np.full((ksize, ksize), "kern", dtype=object), cell=kcell,
                        name=f"kernel{n}", title="Rotated 180°" if conv.flip else "Kernel")]
        if conv.flip and chans == 1:  # with several channels only the rotated kernels fit (the editor has the rest)
            kern = [gh.grid(conv.kernel[ch.channel], cell=kcell, title="Kernel", name=f"given{n}"),
                    gh.op("⟳"), *kern]
        if chans == 1:
            figures = [inp, gh.op("×"), *kern]
        else:
            figures.append(gh.column(inp, gh.op("×"), gh.row(*kern), gh.text(f"sum: {fmt(ch.total)}", 30)))
    return figures


def conv_scene(conv: Conv, k: int, hide: bool = False, same: bool = False) -> list[str]:
    """Step k: the padded input(s) with the window, the kernel(s), the output so far and the working.

    `same`: the padding was asked for as 'same' (the input's title says so).
    """
    i, j = conv.cell(k)
    one = conv.image.shape[0] == 1
    result = progress(conv.output(), k, 440, (i, j) if hide else None, input_cell(conv) if one else None)
    return _conv_layout(conv, k, hide, same, result, conv.step(i, j).lines)


def _conv_layout(conv: Conv, k: int, hide: bool, same: bool, result: str, lines: list[str],
                 numbers: range | None = None, head: str = "Output cell", narrow: bool = False) -> list[str]:
    """The legend, then input(s) × kernel(s) → `result` (the output figures) with the working `lines`; `narrow`
    writes the bias under the arrow, leaving a wide `result` its room on a projector."""
    i, j = conv.cell(k)
    step = conv.step(i, j)
    bias = conv.bias
    figures = _conv_channels(conv, k, same, numbers)
    answer = gh.working(["?"] if hide else lines, head=f"{head} ({i}, {j}) = ", result=not hide)
    if conv.image.shape[0] == 1:
        arrow = gh.op("→")
        if bias:
            plus = gh.text(f"+ bias {fmt(bias)}", 22 if narrow else 30)
            arrow = gh.column(arrow, plus) if narrow else gh.row(plus, arrow)
        layout = gh.stage(figures[0], figures[1], gh.row(*figures[2:]), arrow, result, answer)
    else:
        sums = " + ".join(f"({fmt(c.total)})" if c.total < 0 else fmt(c.total) for c in step.channels)
        total = f"{sums}{f' + bias {fmt(bias)}' if bias else ''} = {fmt(step.value)}"
        layout = gh.row(*figures) + gh.row(gh.text(total, 30), gh.op("→"), result, answer)
    return [gh.legend([("pad", "padding (zeros)"), ("win", "under the kernel (blue, in the corner: its weight)"),
                       ("cur", "the output cell being written"), ("todo", "still to come")]), layout]


def others_progress(out: np.ndarray, k: int, chosen: int, height: int) -> str:
    """The output channels other than `chosen` after step k, small and stacked in `height` px: a layer writes the
    same cell of every output channel at once."""
    c_out, oh, ow = out.shape
    order = np.arange(oh * ow).reshape(oh, ow)
    classes = np.where(order <= k, "", "todo").astype(object)
    room = max(height // max(c_out - 1, 1) - 30, 12)  # each small grid's height less its title
    cell = gh.cell_size(oh, ow, 160, 26, 12, height=room)
    return gh.column(*(gh.grid(np.where(order <= k, out[c], None), classes=classes, cell=cell, labels=False,
                               name=f"output{c}", subtitle=f"channel {c + 1}") for c in range(c_out) if c != chosen))


def grouped_scene(grouped: GroupedConv, o: int, k: int, hide: bool = False, same: bool = False) -> list[str]:
    """Step k of output channel `o`: only the input channels its group reads, × its kernel, → that channel so far
    (beside it every other output channel, small) and the working. One output channel: `conv_scene`."""
    conv = grouped.channel(o)
    if grouped.c_out == 1:
        return conv_scene(conv, k, hide, same)
    i, j = conv.cell(k)
    # the output channels share the output's room: the stepped one a little smaller than its input
    cell = min(input_cell(conv), 36) if conv.image.shape[0] == 1 else gh.cell_size(*conv.shape, 300, 44, 26)
    chosen = progress(conv.output(), k, 440, (i, j) if hide else None, cell, title=f"Output channel {o + 1}")
    others = others_progress(grouped.output(), k, o, cell * conv.shape[0] + 50)
    result = f'<div class="cv-row" style="margin: 0; align-items: flex-start">{chosen}{others}</div>'
    return _conv_layout(conv, k, hide, same, result, grouped_working(grouped, o, i, j), grouped.reads(o),
                        head=f"Output channel {o + 1}, cell", narrow=True)


def grouped_working(grouped: GroupedConv, o: int, i: int, j: int) -> list[str]:
    """Cell (i, j) of output channel `o` worked out, naming each input channel it reads by its number in the whole
    input; as `conv_scene` writes it when there is only one to name (one output channel, or a depthwise one)."""
    if len(grouped.reads(o)) > 1 and grouped.c_out > 1:
        return grouped.working(o, i, j)
    return grouped.channel(o).step(i, j).lines


def conv_ask(conv: Conv, k: int) -> Ask:
    """Output cell k of a convolution: a sum of products (and the bias)."""
    cell = conv.cell(k)
    bias = conv.bias != 0
    return Ask(cell, conv.step(*cell).value,
               "multiply the overlapping numbers and add them up" + (", then the bias" if bias else ""),
               "The working adds up each product of an input number and the kernel weight over it"
               + (", then the bias." if bias else "."))


def grouped_ask(grouped: GroupedConv, o: int, k: int) -> Ask:
    """Cell k of output channel `o`: the same question as `conv_ask`, naming the channel when there are several."""
    ask = conv_ask(grouped.channel(o), k)
    return ask if grouped.c_out == 1 else replace(ask, grid=f"Output channel {o + 1},")


# ---------------------------------------------------------------------------------------------- pooling
def pool_size(pool: Pool) -> str:
    """The output-size formulas of a pooling with its numbers, as one line of Markdown."""
    (rows, cols), k, stride, pad = pool.image.shape, pool.kernel[0], pool.stride[0], pool.padding[0]
    texts = [size_text(rows, k, pad, pad, stride, 1, "rows"), size_text(cols, k, pad, pad, stride, 1, "columns")]
    return _same(rows, cols, texts, rows == cols)


def pool_scene(pool: Pool, k: int, hide: bool = False) -> list[str]:
    """Step k: the padded input with the window (and its maximum), the output so far and the working."""
    i, j = pool.cell(k)
    step = pool.step(i, j)
    pad, mode = pool.padding[0], pool.mode
    hp, wp = pool.pad_mask.shape
    win = gh.window_mask((hp, wp), step.rows, step.cols)
    best = np.zeros((hp, wp), dtype=bool)
    if step.winner is not None and not hide:  # the maximum would tell the answer
        best[step.rows[step.winner[0]], step.cols[step.winner[1]]] = True
    title = "Input" + (f", padded by {pad} ({'-∞' if mode == 'max' else '0'})" if pad else "")
    inp = gh.grid(pool.padded, classes=gh.classes_for((hp, wp), pad=pool.pad_mask, win=win, best=best),
                  cell=gh.cell_size(hp, wp, 620, 64, 28, height=440), row_offset=-pad, col_offset=-pad, name="input",
                  title=title)
    result = progress(pool.output(), k, 420, (i, j) if hide else None)
    items = [("pad", "padding"), ("win", "in the window")]
    items += [("best", "the maximum")] if mode == "max" else []
    items += [("cur", "the output cell being written"), ("todo", "still to come")]
    return [gh.legend(items), gh.row(inp, gh.op("→"), result, gh.working(
        ["?"] if hide else step.lines, head=f"Output cell ({i}, {j}) = ", result=not hide))]


def pool_ask(pool: Pool, k: int) -> Ask:
    """Output cell k of a pooling: the window's maximum or mean."""
    cell = pool.cell(k)
    biggest = "the largest number in the window"
    if pool.mode == "max":
        return Ask(cell, pool.step(*cell).value, biggest, f"Max pooling keeps {biggest} (marked in the input).")
    return Ask(cell, pool.step(*cell).value, "the mean of the window",
               "Average pooling adds the window up and divides by the count.")


# ---------------------------------------------------------------------------------------------- transposed
def tconv_size(tconv: TransposedConv) -> str:
    """The output-size formulas of a transposed convolution with its numbers, as one line of Markdown."""
    rows, cols = tconv.image.shape[1:]
    settings = tconv.kernel.shape[1], tconv.stride[0], tconv.padding[0], tconv.output_padding[0], tconv.dilation[0]
    texts = [transposed_size_text(rows, *settings, "rows"), transposed_size_text(cols, *settings, "columns")]
    return _same(rows, cols, texts, rows == cols)


def overlaps(tconv: TransposedConv, k: int) -> list[Pair]:
    """The canvas cells that step k adds to and that an earlier step has already reached, row by row."""
    step, seen = tconv.step(k), tconv.hits(k - 1)
    return [(r, q) for r in step.rows for q in step.cols if seen[r, q] > 0]


def asked_cell(tconv: TransposedConv, k: int) -> Pair:
    """The canvas cell the quiz asks about at step k: the first where blocks overlap (a sum), else the first."""
    step, both = tconv.step(k), overlaps(tconv, k)
    return both[0] if both else (step.rows[0], step.cols[0])


def _scatter_lines(tconv: TransposedConv, k: int) -> list[str]:
    """Step k's working, and up to six of the sums where its block lands on earlier ones."""
    canvas, before, both = tconv.canvas(k), tconv.canvas(k - 1), overlaps(tconv, k)
    lines = list(tconv.step(k).lines)
    if both:
        sums = [f"({r}, {q}): {fmt(before[r, q])} + {fmt(canvas[r, q] - before[r, q])} = "
                f"{fmt(canvas[r, q])}" for r, q in both[:6]]
        lines.append("overlaps add up: " + "; ".join(sums) + ("; …" if len(both) > 6 else ""))
    return lines


def tconv_scene(tconv: TransposedConv, k: int, hide: bool = False) -> list[str]:
    """Step k: the input cell being scattered, value × kernel, and the canvas with everything added so far."""
    step = tconv.step(k)
    (i, j), (rows, cols), ksize, pad = step.cell, tconv.image.shape[1:], tconv.kernel.shape[1], tconv.padding[0]
    x, w, out = tconv.image[0], tconv.kernel[0], tconv.output()
    inp_class = np.full((rows, cols), "", dtype=object)
    inp_class[i, j] = "cur"
    canvas, hits, before, seen = tconv.canvas(k), tconv.hits(k), tconv.canvas(k - 1), tconv.hits(k - 1)
    ch, cw = tconv.canvas_shape
    block = np.zeros((ch, cw), dtype=bool)
    block[np.ix_(step.rows, step.cols)] = True
    crop = tconv.crop_mask
    shown = np.where(hits > 0, canvas, None)  # cells nothing has reached yet stay blank
    if hide:  # the canvas as it was before this step, the asked cell to be worked out
        shown = np.where(seen > 0, before, None)
        shown[asked_cell(tconv, k)] = "?"
    cclass = gh.classes_for((ch, cw), pad=crop, hit=block, todo=(hits == 0) & ~crop)
    kcell = gh.cell_size(ksize, ksize, 260, 56, 30)
    canvas_title = "Output so far" if not crop.any() else f"Canvas (hatched: cut off by padding {pad})"
    scatter = [gh.grid(x, classes=inp_class, cell=gh.cell_size(rows, cols, 320, 60, 36), name="input",
                       title="Input"), gh.op("×"),
               gh.grid(w, classes=np.full((ksize, ksize), "kern", dtype=object), cell=kcell,
                       name="kernel", title="Kernel"), gh.op("="),
               gh.grid(np.full((ksize, ksize), "?", dtype=object) if hide else step.contribution,
                       classes=np.full((ksize, ksize), "hit", dtype=object), cell=kcell,
                       name="block", title=f"{fmt(step.value)} × kernel")]
    painted = [gh.op("→"),
               gh.grid(shown, classes=cclass, cell=gh.cell_size(ch, cw, 620, 60, 26, height=480), name="canvas",
                       title=canvas_title + ", orange: just added")]
    if crop.any() and k == tconv.n_steps - 1 and not hide:
        painted += [gh.op("→"), gh.grid(out, cell=gh.cell_size(*out.shape, 480, 60, 26), name="output",
                                        title=f"Output ({out.shape[0]} × {out.shape[1]})")]
    legend = [("cur", "the input cell being scattered"), ("hit", "where value × kernel is added"),
              ("todo", "nothing added yet")] + ([("pad", "cut off by padding")] if crop.any() else [])
    return [gh.legend(legend), gh.row(*scatter, *painted), gh.working(
        ["?"] if hide else _scatter_lines(tconv, k), head=f"Step {k + 1} of {tconv.n_steps}: input cell ({i}, {j})",
        result=False)]


def tconv_ask(tconv: TransposedConv, k: int) -> Ask:
    """One canvas cell of step k's block: what was there plus value × the kernel weight that lands on it."""
    step, asked = tconv.step(k), asked_cell(tconv, k)
    before, canvas = tconv.canvas(k - 1), tconv.canvas(k)
    tap = step.rows.index(asked[0]), step.cols.index(asked[1])  # the kernel weight that lands on the cell
    added, was, now = f"{fmt(step.value)} × {fmt(tconv.kernel[0][tap])}", fmt(before[asked]), fmt(canvas[asked])
    why = (f"It held {was} and gets {added}: {was} + {added} = {now}." if tconv.hits(k - 1)[asked] > 0 else
           f"Nothing was there yet, so it holds {added} = {now}.")
    return Ask(asked, canvas[asked], "what was there + value × its kernel weight", why,
               "Canvas" if tconv.crop_mask.any() else "Output")
