"""Lesson: transposed convolution, stepped input cell by input cell: each one paints value × kernel into the output."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app import stepper, urlstate
from cnnviz.lessons import gridhtml as gh
from cnnviz.lessons import kernels
from cnnviz.lessons.stepping import TransposedConv, fmt, transposed_size_text

# each control's choices, for its widget and for the link alike
SIDES, KSIZES, STRIDES, PADDINGS, DILATIONS = [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5], [1, 2, 3, 4], [0, 1, 2, 3], [1, 2, 3]

urlstate.init({"image": "Gradient", "rows": 3, "cols": 3, "x": "", "kernel": "Box blur", "k": 3, "w": "",
               "stride": 2, "pad": 0, "opad": 0, "dil": 1, "step": 0, "quiz": False},
              allowed={"image": kernels.IMAGES, "rows": SIDES, "cols": SIDES, "kernel": kernels.KERNELS,
                       "k": KSIZES, "stride": STRIDES, "pad": PADDINGS, "opad": PADDINGS,
                       "dil": DILATIONS, "step": stepper.STEPS})
st.html(stepper.BIG_TEXT)

st.title("🔼 Transposed convolution")
st.markdown("#### Convolution run backwards: every input cell paints *its value × the kernel* onto a bigger "
            "output, each block `stride` cells further on. Where blocks overlap, the values add up.")
st.info("This is the **upsampling of a U-Net decoder** (and of GAN generators): `nn.ConvTranspose2d(…, "
        "kernel_size=2, stride=2)` doubles the height and width of a feature map, with learned kernel weights "
        "instead of a fixed resize. With kernel 3 and stride 2 the blocks overlap unevenly, the cause of the "
        "'checkerboard' pattern upsampled images sometimes show.", icon="🧩")

bar = st.container(horizontal=True, gap="medium")  # fixed-width controls that wrap on narrow screens
stepper.control(bar, "selectbox", "Input", "image", options=kernels.IMAGES, on_change=stepper.reset_text("x"),
                width=180)
stepper.control(bar, "selectbox", "Kernel", "kernel", options=kernels.KERNELS, on_change=stepper.reset_text("w"),
                width=180)
stepper.control(bar, "selectbox", "Kernel size", "k", options=KSIZES, width=130)
stepper.control(bar, "selectbox", "Stride", "stride", options=STRIDES, width=130,
                help="How far apart the painted blocks start: the upsampling factor.")
stepper.control(bar, "selectbox", "Padding", "pad", options=PADDINGS, width=130,
                help="In a transposed convolution padding *removes* this many rows and columns from every "
                     "side of the result.")
stepper.control(bar, "selectbox", "Output padding", "opad", options=PADDINGS, width=160,
                help="Adds rows/columns at the bottom and right; must be smaller than the stride or the dilation. "
                     "It picks the output size when several input sizes would give the same conv output.")
stepper.control(bar, "selectbox", "Dilation", "dil", options=DILATIONS, width=130,
                help="Gaps between the kernel's taps.")
quiz = stepper.quiz_toggle(bar, "what one cell of the block holds after the step")
rows, cols, ksize = (int(st.session_state[key]) for key in ("rows", "cols", "k"))


with st.expander("✏️ Sizes and the numbers themselves (click a cell to type)"):
    s = st.columns(2)
    stepper.control(s[0], "select_slider", "Input rows", "rows", options=SIDES)
    stepper.control(s[1], "select_slider", "Input columns", "cols", options=SIDES)
    try:
        x, w = stepper.input_and_kernel((1, rows, cols), ksize, [1, 1])
        problem = None
    except ValueError as err:  # e.g. an even-sized Sobel kernel
        problem = str(err)
if problem:
    stepper.error(problem)

stride, pad, opad, dil = (int(st.session_state[key]) for key in ("stride", "pad", "opad", "dil"))
try:
    tconv = TransposedConv.make(x, w, 0, stride, pad, opad, dil)
except ValueError as err:
    stepper.error(str(err))

out = tconv.output()
oh, ow = tconv.shape
size = transposed_size_text(rows, ksize, stride, pad, opad, dil, "rows")
st.markdown(f"**Output size:** {size}" + (" (the same for the columns)" if rows == cols else
                                          f";  {transposed_size_text(cols, ksize, stride, pad, opad, dil, 'columns')}"))


question = ("tconv", x.tobytes(), w.tobytes(), x.shape, w.shape, stride, pad, opad, dil)


def draw(k: int) -> None:
    """The input cell being scattered, value × kernel, and the canvas with everything added so far."""
    step = tconv.step(k)
    i, j = step.cell
    inp_class = np.full((rows, cols), "", dtype=object)
    inp_class[i, j] = "cur"
    cell = gh.cell_size(rows, cols, 320, 60, 36)
    canvas, hits = tconv.canvas(k), tconv.hits(k)
    before, seen = tconv.canvas(k - 1), tconv.hits(k - 1)
    ch, cw = tconv.canvas_shape
    block = np.zeros((ch, cw), dtype=bool)
    block[np.ix_(step.rows, step.cols)] = True
    crop = tconv.crop_mask
    overlaps = [(r, q) for r in step.rows for q in step.cols if seen[r, q] > 0]
    asked = overlaps[0] if overlaps else (step.rows[0], step.cols[0])  # the one to predict: a sum, when there is one
    hide = quiz and stepper.guess(question, k) is None  # the block and the new sums wait for the student's answer
    shown = np.where(hits > 0, canvas, None)  # cells nothing has reached yet stay blank
    if hide:  # the canvas as it was before this step, the asked cell to be worked out
        shown = np.where(seen > 0, before, None)
        shown[asked] = "?"
    cclass = gh.classes_for((ch, cw), pad=crop, hit=block, todo=(hits == 0) & ~crop)
    kcell = gh.cell_size(ksize, ksize, 260, 56, 30)
    canvas_title = "Output so far" if not crop.any() else f"Canvas (hatched: cut off by padding {pad})"
    canvas_title += ", orange: just added"
    scatter = [gh.grid(x[0], classes=inp_class, cell=cell, name="input", title="Input"), gh.op("×"),
               gh.grid(w[0], classes=np.full((ksize, ksize), "kern", dtype=object), cell=kcell,
                       name="kernel", title="Kernel"), gh.op("="),
               gh.grid(np.full((ksize, ksize), "?", dtype=object) if hide else step.contribution,
                       classes=np.full((ksize, ksize), "hit", dtype=object), cell=kcell,
                       name="block", title=f"{fmt(step.value)} × kernel")]
    painted = [gh.op("→"),
               gh.grid(shown, classes=cclass, cell=gh.cell_size(ch, cw, 620, 60, 26, height=480), name="canvas",
                       title=canvas_title)]
    if crop.any() and k == tconv.n_steps - 1 and not hide:
        painted += [gh.op("→"), gh.grid(out, cell=gh.cell_size(oh, ow, 480, 60, 26), name="output",
                                        title=f"Output ({oh} × {ow})")]
    lines = list(step.lines)
    if overlaps:
        sums = [f"({r}, {q}): {fmt(before[r, q])} + {fmt(canvas[r, q] - before[r, q])} = "
                f"{fmt(canvas[r, q])}" for r, q in overlaps[:6]]
        lines.append("overlaps add up: " + "; ".join(sums) + ("; …" if len(overlaps) > 6 else ""))
    legend = [("cur", "the input cell being scattered"), ("hit", "where value × kernel is added"),
              ("todo", "nothing added yet")] + ([("pad", "cut off by padding")] if crop.any() else [])
    stepper.show(gh.legend(legend), gh.row(*scatter, *painted), gh.working(
        ["?"] if hide else lines, head=f"Step {k + 1} of {tconv.n_steps}: input cell ({i}, {j})", result=False))
    if quiz:
        tap = step.rows.index(asked[0]), step.cols.index(asked[1])  # the kernel weight that lands on the cell
        added, was, now = f"{fmt(step.value)} × {fmt(w[0][tap])}", fmt(before[asked]), fmt(canvas[asked])
        why = (f"It held {was} and gets {added}: {was} + {added} = {now}." if seen[asked] > 0 else
               f"Nothing was there yet, so it holds {added} = {now}.")
        stepper.prediction(question, k, asked, canvas[asked], "what was there + value × its kernel weight", why,
                           grid="Canvas" if crop.any() else "Output")


stepper.stepped("step", tconv.n_steps, draw, lambda n: "input cell ({1}, {2})".format(*tconv.source(n)),
                noun="input cell", play=not quiz)

st.divider()
st.subheader("✍️ Check my answer")
stepper.check_answer("transposed", out, lambda r, q: [tconv.gather(r, q)[1]])
urlstate.publish()
