"""Lesson: the backward pass of a convolution, gradient cell by gradient cell, then one step of gradient descent."""
from __future__ import annotations

import streamlit as st

from app import charts, nav, stepper, urlstate
from app.views import backward as view
from cnnviz.lessons import backfigures, figures, kernels, playback
from cnnviz.lessons.backward import GRAD_PHASES, ConvBackward, sgd_step
from cnnviz.lessons.stepping import Conv

SIDES, KSIZES, BIASES = list(range(3, 13)), list(range(1, 8)), range(-99, 100)
SOURCES = {"grad": "Type ∂L/∂y in", "loss": "From a tiny loss ½‖y − target‖²"}
LRS = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]  # log spaced

urlstate.init({"image": "Square", "rows": 5, "cols": 5, "x": "", "kernel": "Sobel x", "k": 3, "w": "", "bias": 0,
               "pad": "0", "stride": 1, "dil": 1, "src": "grad", "g": "", "t": "", "step": 0, "quiz": False,
               "lr": 0.0002},
              allowed={"image": kernels.IMAGES, "kernel": kernels.KERNELS, "pad": stepper.PADDINGS,
                       "stride": stepper.STRIDES, "dil": stepper.DILATIONS, "rows": SIDES, "cols": SIDES, "k": KSIZES,
                       "bias": BIASES,                       "src": list(SOURCES), "step": stepper.STEPS, "lr": LRS})
st.html(stepper.BIG_TEXT)

st.title("⬅️ The backward pass")
st.markdown("##### Training asks how the loss L changes with every number. The layer above sends back ∂L/∂y, "
            "one number per output cell; each weight, the bias and each input cell then collects its gradient "
            "as a sum of products, just like the forward pass.")


# ---------------------------------------------------------------------------------------------- settings
bar = st.container(horizontal=True, gap="medium")  # fixed-width controls that wrap on narrow screens
urlstate.control("selectbox", "Input", "image", where=bar, options=kernels.IMAGES, width=180,
                 on_change=stepper.reset_text("x"))
urlstate.control("selectbox", "Kernel", "kernel", where=bar, options=kernels.KERNELS, width=180,
                 on_change=stepper.reset_text("w"))
stepper.geometry_controls(bar)
source_col, size_col = st.columns([1, 1], vertical_alignment="center")
source = urlstate.control("radio", "Where ∂L/∂y comes from", "src", where=source_col, options=list(SOURCES),
                          format_func=SOURCES.get, horizontal=True)
quiz = stepper.quiz_toggle(source_col, "the gradient cell")
size_slot = size_col.empty()  # the output size, once the settings are known

rows, cols, ksize, bias = (int(st.session_state[k]) for k in ("rows", "cols", "k", "bias"))
pad = st.session_state["pad"]
padding = pad if pad == "same" else int(pad)
stride, dil = int(st.session_state["stride"]), int(st.session_state["dil"])
with st.expander("✏️ Sizes, bias and the numbers themselves: input, kernel, "
                 + ("∂L/∂y" if source == "grad" else "target") + " (click a cell to type)"):
    s = st.columns(4)
    urlstate.control("select_slider", "Input rows", "rows", where=s[0], options=SIDES)
    urlstate.control("select_slider", "Input columns", "cols", where=s[1], options=SIDES)
    urlstate.control("select_slider", "Kernel size", "k", where=s[2], options=KSIZES)
    urlstate.control("number_input", "Bias", "bias", where=s[3], step=1, min_value=BIASES.start,
                     max_value=BIASES.stop - 1)
    try:
        xs, ws = stepper.input_and_kernel((1, rows, cols), ksize, [3, 2])  # (1, H, W): one channel
        x, w = xs[0], ws[0]
        y = Conv.make(x, w, bias, padding, stride, dil).output()
        problem = None
    except ValueError as err:  # an even-sized Sobel kernel, a kernel that does not fit
        problem = str(err)
    if not problem:
        g, target = view.upstream(y, source)
if problem:
    stepper.error(problem)

back = ConvBackward.make(x, w, g, padding, stride, dil)
size_slot.markdown(figures.conv_size(back.forward))


# ---------------------------------------------------------------------------------------------- stepping
def jump() -> None:
    """Move the step to the first cell of the phase just picked."""
    if st.session_state["phase"] is not None:
        st.session_state["step"] = back.phase_range(st.session_state["phase"]).start


def draw(k: int) -> None:
    """Step k under the step controls: the phase jump, what this gradient sums, the figures, the quiz."""
    phase = back.locate(k)[0]
    jumps, why = st.columns([1, 2], vertical_alignment="center")
    if not urlstate.hidden("step"):
        st.session_state["phase"] = phase
        jumps.segmented_control("Jump to the gradient of", GRAD_PHASES, format_func=backfigures.NAMES.get,
                                key="phase", on_change=jump, disabled=urlstate.locked("step"))
    why.markdown(f"**{backfigures.NAMES[phase]}:** {backfigures.WHY[phase]}")
    hide = quiz and stepper.guess(question, k) is None
    stepper.show(*backfigures.scene(back, k, hide, same=pad == "same"))
    if quiz:
        stepper.answer_box(question, k, backfigures.ask(back, k))
    if phase == "input":
        nav.link("transposed", "The same sum, painted input cell by input cell: the transposed convolution")


# A click leaves the focus on the jump's radio, whose arrow keys pick a gradient instead of stepping: a pointer's
# click hands the focus back to the page, so ← and → step again (a keyboard's choice keeps its focus).
st.html("<script>if (!window.cvLetGo) { window.cvLetGo = true; document.addEventListener('click', e => {"
        " if (e.detail > 0 && e.target.closest('.st-key-phase')) setTimeout(() => document.activeElement.blur());"
        " }, true); }</script>", unsafe_allow_javascript=True)
question = playback.question(back)
stepper.stepped("step", back.n_steps, draw, lambda k: back.step(k).label, noun="gradient cell", play=not quiz)


# ---------------------------------------------------------------------------------------------- one SGD step
st.divider()
st.subheader("⛰️ One step of gradient descent")
st.markdown("Move every weight a little *against* its gradient, **w ← w − lr × ∂L/∂w** (and the bias by "
            "∂L/∂b), then run the forward pass again: did the loss go down?")
if source == "grad":
    st.caption("The loss here is ½‖y − target‖² with target = y − ∂L/∂y: the loss whose gradient is the ∂L/∂y "
               "you typed.")
lr = urlstate.control("select_slider", "Learning rate lr", "lr", options=LRS, format_func=lambda v: f"{v:g}",
                      help="How far one step moves the weights, in units of the gradient.")
steps = [sgd_step(x, w, bias, target, rate, padding, stride, dil) for rate in LRS]
now = steps[LRS.index(lr)]
said, plot = st.columns([2, 3])
m = said.columns(2)
m[0].metric("Loss before", backfigures.brief(now.loss_before))
m[1].metric("Loss after one step", backfigures.brief(now.loss_after),
            delta=backfigures.brief(now.loss_after - now.loss_before), delta_color="inverse")
if now.overshot:
    said.warning(f"**The step overshot:** the loss went *up*. With lr = {lr:g} the weights moved so far that "
                 "they jumped past the bottom of the valley and up its other side: the step was too big. Try a "
                 "smaller learning rate.", icon="⚠️")
elif now.loss_after == now.loss_before:
    said.info("The loss stayed where it was: every gradient is 0, so the step moved nothing (the weights already "
              "sit at the bottom of the valley).")
else:
    said.success(f"The loss went down: lr = {lr:g} moved the weights downhill without jumping past the bottom.")

plot.markdown("**Loss after one step, for every lr** (dashed: the loss before; ringed: your lr; on the top edge: "
              "off the chart)")
charts.show(view.lr_chart(steps, lr), where=plot)
stepper.show(*backfigures.sgd_scene(w, bias, target, now))
urlstate.publish()
