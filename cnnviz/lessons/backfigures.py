"""One step of a convolution's backward pass as grid HTML, its quiz question, and one SGD step's figures.

Mirrors `figures`: `scene(back, k, hide)` draws step k of a `backward.ConvBackward` (the cells its gradient
gathers from highlighted in the padded input, the kernel and ∂L/∂y; the gradient filled in so far; the working),
`ask(back, k)` is what the quiz asks at step k, `sgd_scene` draws w − lr × ∂L/∂w and the output it gives.
NumPy only, like the rest of `cnnviz.lessons`.
"""
from __future__ import annotations

import numpy as np

from cnnviz.lessons import gridhtml as gh
from cnnviz.lessons.backward import ConvBackward, GradStep, SGDStep
from cnnviz.lessons.figures import Ask, _padded_title
from cnnviz.lessons.stepping import Number, Pair, factor, fmt

NAMES = {"weights": "∂L/∂w", "bias": "∂L/∂b", "input": "∂L/∂x"}  # each phase's gradient, as the page says it
GRIDS = {"weights": "grad_w", "bias": "grad_b", "input": "grad_x"}  # its grid's data-grid name
WHY = {
    "weights": "Weight w[i, j] sat on one input cell in every window, and that window's output moved the loss by "
               "∂L/∂y: its gradient adds up *input cell × ∂L/∂y* over all the windows. The whole of ∂L/∂w is "
               "the input cross-correlated with ∂L/∂y.",
    "bias": "The bias is added to every output cell, so its gradient adds up every cell of ∂L/∂y.",
    "input": "Input cell x[p, q] met one weight in each window that covered it: its gradient adds up *∂L/∂y × "
             "that weight* over those windows. The whole of ∂L/∂x is a “full” convolution of ∂L/∂y with the "
             "kernel flipped: a transposed convolution.",
}
HINTS = {"weights": "input × ∂L/∂y, over the windows", "bias": "add up all of ∂L/∂y",
         "input": "∂L/∂y × weight, over the windows on it"}


def grad_preset(shape: Pair) -> np.ndarray:
    """A ∂L/∂y to work by hand: 1, -1 and 2 in turn, small and never 0, so every term of a sum shows."""
    r, c = np.mgrid[0:shape[0], 0:shape[1]]
    return np.array([1, -1, 2])[(r + c) % 3]


def gradient(back: ConvBackward, phase: str) -> np.ndarray:
    """The whole gradient that a phase fills in, as a grid (∂L/∂b as 1 × 1)."""
    if phase == "weights":
        return back.grad_w()
    return np.array([[back.grad_b()]]) if phase == "bias" else back.grad_x()


def filling(values: np.ndarray, done: int, phase: str, hidden: bool = False) -> str:
    """A gradient grid filled row by row up to cell `done` (the current one, '?' while `hidden`); the rest to come.

    `figures.progress` draws the forward output the same way, named 'output'; this one is named per gradient.
    """
    rows, cols = values.shape
    order = np.arange(rows * cols).reshape(rows, cols)
    shown = np.where(order <= done, values, None)
    if hidden:
        shown[divmod(done, cols)] = "?"
    classes = np.where(order < done, "", np.where(order == done, "cur", "todo")).astype(object)
    return gh.grid(shown, classes=classes, cell=gh.cell_size(rows, cols, 340, 60, 28), name=GRIDS[phase],
                   title=f"{NAMES[phase]} ({rows} × {cols})")


def _mask(shape: Pair, cells: tuple[Pair, ...] | list[Pair]) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    for cell in cells:
        out[cell] = True
    return out


def _notes(shape: Pair, cells: tuple[Pair, ...], factors: list[Number], cell: int) -> np.ndarray | None:
    """'×3' in the corner of each gathered cell: the number it is multiplied by (when the cells are big enough)."""
    if cell < 40:
        return None
    notes = np.full(shape, "", dtype=object)
    for at, f in zip(cells, factors):
        notes[at] = "×" + factor(f)
    return notes


def _input(back: ConvBackward, step: GradStep, same: bool) -> str:
    """The padded input: the cells under w[i, j] in every window ('weights'), or the cell x[p, q] ('input')."""
    shape = back.pad_mask.shape
    top, _, left, _ = back.pads
    weights = step.phase == "weights"  # the input's numbers are the sum's terms; for ∂L/∂x it only shows where
    cell = gh.cell_size(*shape, 460, 60, 22, height=420) if weights else gh.cell_size(*shape, 260, 40, 22)
    if weights:
        win, cur = _mask(shape, step.input_cells), None
        notes = _notes(shape, step.input_cells, [back.grad[rc] for rc in step.grad_cells], cell)
    else:
        win, cur, notes = None, _mask(shape, [(step.cell[0] + top, step.cell[1] + left)]), None
    return gh.grid(back.padded, classes=gh.classes_for(shape, pad=back.pad_mask, win=win, cur=cur), notes=notes,
                   cell=cell, row_offset=-top, col_offset=-left, name="input",
                   title="Input x" + _padded_title(back.forward, same))


def _grad_out(back: ConvBackward, step: GradStep) -> str:
    """∂L/∂y with the cells this gradient gathers; for ∂L/∂x each notes the weight it is multiplied by."""
    shape = back.grad.shape
    cell = gh.cell_size(*shape, 260, 56, 26) if step.phase == "input" else gh.cell_size(*shape, 340, 60, 26)
    notes = (_notes(shape, step.grad_cells, [back.kernel[ij] for ij in step.kernel_cells], cell)
             if step.phase == "input" else None)
    return gh.grid(back.grad, classes=gh.classes_for(shape, win=_mask(shape, step.grad_cells)), notes=notes,
                   cell=cell, name="grad_out", title="∂L/∂y")


def _kernel(back: ConvBackward, step: GradStep) -> str:
    """The kernel: the weight whose gradient this is ('weights'), or the weights x[p, q] met ('input')."""
    shape = back.kernel.shape
    marked = _mask(shape, [step.cell] if step.phase == "weights" else step.kernel_cells)
    classes = gh.classes_for(shape, kern=~marked, **{"cur" if step.phase == "weights" else "win": marked})
    return gh.grid(back.kernel, classes=classes, cell=gh.cell_size(*shape, 200, 48, 26), name="kernel",
                   title="Kernel w")


def scene(back: ConvBackward, k: int, hide: bool = False, same: bool = False) -> list[str]:
    """Step k: where its gradient gathers from, the gradient filled in so far and the working.

    `hide` keeps the cell's value and its working back ('?') until the student has locked an answer in;
    `same`: the padding was asked for as 'same' (the input's title says so).
    """
    step = back.step(k)
    phase = step.phase
    done = k - back.phase_range(phase).start
    result = filling(gradient(back, phase), done, phase, hide)
    answer = gh.working(["?"] if hide else step.lines, head=f"{step.label} = ", result=not hide)
    if phase == "weights":
        figures = [_kernel(back, step), _input(back, step, same), gh.op("×"), _grad_out(back, step)]
    elif phase == "bias":
        figures = [_grad_out(back, step)]
    else:
        figures = [_input(back, step, same), _grad_out(back, step), gh.op("×"), _kernel(back, step)]
    padded = phase != "bias" and back.pad_mask.any()
    items = [("pad", "padding (zeros)")] if padded else []
    times = " (small blue: what it is multiplied by)" if phase != "bias" else ""
    items += [("win", "gathered: one term each" + times), ("cur", "whose gradient this is"),
              ("todo", "still to come")]
    return [gh.legend(items), gh.row(*figures, gh.op("→"), result, answer)]


def ask(back: ConvBackward, k: int) -> Ask:
    """Gradient cell k: a sum of products (for the bias, a plain sum)."""
    step = back.step(k)
    if step.phase == "bias":
        why = "The bias is in every output cell, so every cell of ∂L/∂y counts once."
    elif not step.products.size:
        why = "No window of the forward pass covered this cell, so the loss does not depend on it."
    elif step.phase == "weights":
        why = (f"Multiply each input cell that w{list(step.cell)} sat on by its window's ∂L/∂y, and add the "
               "products up.")
    else:
        why = (f"Multiply the ∂L/∂y of each window that covered x{list(step.cell)} by the weight it put there, "
               "and add the products up.")
    return Ask(step.cell, step.value, HINTS[step.phase], why, NAMES[step.phase])


# ---------------------------------------------------------------------------------------------- one SGD step
def brief(v: Number) -> str:
    """A number short enough for a grid cell or a metric: as `fmt` writes it, whole past 99,999 (3,456,789), in
    powers of ten past a billion (a step that blew up)."""
    if abs(v) < 1e5:
        return fmt(v)
    return f"{v:,.0f}" if abs(v) < 1e9 else f"{v:.2e}"


def sgd_scene(w: np.ndarray, b: Number, target: np.ndarray, step: SGDStep) -> list[str]:
    """w − lr × ∂L/∂w = the new w (and the same for the bias), then the target beside the output before and after."""
    lr = f"{step.lr:g}"
    kcell = gh.cell_size(*w.shape, 160, 44, 28)
    ocell = gh.cell_size(*target.shape, 220, 48, 28)
    kern = np.full(w.shape, "kern", dtype=object)
    update = gh.row(gh.grid(w, classes=kern, cell=kcell, name="w", title="w"), gh.op("−"), gh.text(f"{lr} ×", 26),
                    gh.grid(step.grad_w, cell=kcell, name="sgd_grad_w", title="∂L/∂w", fmt=brief), gh.op("="),
                    gh.grid(step.w_after, classes=kern, cell=kcell, name="w_after", title="New w", fmt=brief))
    bias = gh.working([f"{fmt(b)} − {lr} × {factor(step.grad_b)} = {brief(step.b_after)}"], head="New bias b =")
    outputs = gh.row(gh.grid(target, cell=ocell, name="target", title="Target", fmt=brief),
                     gh.grid(step.output_before, cell=ocell, name="y_before", title="Output y before", fmt=brief),
                     gh.op("→"), gh.grid(step.output_after, cell=ocell, name="y_after", title="y after the step",
                                         fmt=brief))
    return [update, bias, outputs]


def loss_gradient(y: np.ndarray, target: np.ndarray) -> str:
    """y − target = ∂L/∂y: the gradient of ½‖y − target‖², cell by cell."""
    cell = gh.cell_size(*y.shape, 240, 52, 28)
    return gh.row(gh.grid(y, cell=cell, name="y", title="Output y"), gh.op("−"),
                  gh.grid(target, cell=cell, name="loss_target", title="Target"), gh.op("="),
                  gh.grid(y - target, cell=cell, name="loss_grad", title="∂L/∂y"))
