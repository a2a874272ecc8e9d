"""Lesson: step through a convolution cell by cell, with the window, the kernel and the worked sum on screen; with
several output channels, one of them at a time, grouped or depthwise as MobileNet's layers are."""
from __future__ import annotations

import streamlit as st

from app import stepper, urlstate
from cnnviz.lessons import figures, groups, kernels
from cnnviz.lessons.groups import GroupedConv

MODES = {"cross": "Cross-correlation (what PyTorch computes)", "conv": "True convolution (textbook)"}
# each control's choices, for its widget and for the link alike
CHANNELS, OUTPUTS = [1, 2, 3, 4], [1, 2, 3, 4]
SIDES, KSIZES, BIASES = list(range(3, 13)), list(range(1, 8)), range(-99, 100)


def _groups(g: int) -> bool:
    """A link's groups: they must divide the channel counts seeded before them."""
    return g in groups.valid_groups(int(st.session_state["chans"]), int(st.session_state["outs"]))


urlstate.init({"image": "Square", "rows": 6, "cols": 6, "chans": 1, "outs": 1, "groups": 1, "och": 1, "x": "",
               "kernel": "Sobel x", "k": 3, "w": "", "bias": 0, "pad": "0", "stride": 1, "dil": 1, "mode": "cross",
               "step": 0, "quiz": False},
              allowed={"image": kernels.IMAGES, "kernel": kernels.KERNELS, "chans": CHANNELS, "outs": OUTPUTS,
                       "groups": _groups, "och": lambda o: 1 <= o <= int(st.session_state["outs"]),
                       "pad": stepper.PADDINGS, "stride": stepper.STRIDES, "dil": stepper.DILATIONS,
                       "mode": list(MODES), "rows": SIDES, "cols": SIDES, "k": KSIZES, "bias": BIASES,
                       "step": stepper.STEPS})
st.html(stepper.BIG_TEXT)

st.title("🔢 Step through a convolution")
if not urlstate.teacher_mode():  # on a projector the teacher says it, and the grids get the room
    st.markdown("##### Slide the kernel over the input: multiply the numbers that overlap, add the products up, "
                "write the sum into the output.")

# ---------------------------------------------------------------------------------------------- settings
# On a projector in teacher mode the settings fold into one button: the grids and the working get the screen.
top = st.container(horizontal=True, vertical_alignment="center", gap="medium")
place = top.popover("⚙️ Settings", width="content") if urlstate.teacher_mode() else st.container()
bar = place.container(horizontal=True, gap="medium")  # fixed-width controls that wrap on narrow screens
urlstate.control("selectbox", "Input", "image", where=bar, options=kernels.IMAGES, width=180,
                 on_change=stepper.reset_text("x"))
urlstate.control("selectbox", "Kernel", "kernel", where=bar, options=kernels.KERNELS, width=180,
                 on_change=stepper.reset_text("w"),
                 help="; ".join(f"{k}: {v}" for k, v in kernels.ABOUT_KERNELS.items()))
urlstate.control("selectbox", "Input channels", "chans", where=bar, options=CHANNELS, width=140,
                 help="Input channels (a colour image has 3). Each has its own kernel slice; the sums are added, "
                      "then the bias.")
urlstate.control("selectbox", "Output channels", "outs", where=bar, options=OUTPUTS, width=160,
                 on_change=stepper.reset_text("w"),  # a new layout of kernels starts from the preset
                 help="Filters in the layer: each output channel has a kernel of its own and you step one of them.")
chans, outs = int(st.session_state["chans"]), int(st.session_state["outs"])
urlstate.confine("groups", groups.valid_groups(chans, outs), 1)  # another channel count may not split by them
urlstate.control("selectbox", "Groups", "groups", where=bar, options=groups.valid_groups(chans, outs), width=160,
                 on_change=stepper.reset_text("w"),
                 format_func=lambda g: f"{g} (depthwise)" if g == chans > 1 else str(g),
                 help="Split the channels into groups: each output channel reads only the input channels of its own "
                      "group. As many groups as input channels is a depthwise convolution (MobileNet). Only numbers "
                      "that divide both channel counts are offered.")
stepper.geometry_controls(bar)
mode_col, size_col = place.columns([1, 1], vertical_alignment="center")
urlstate.control("radio", "Mode", "mode", where=mode_col, options=list(MODES), format_func=MODES.get, horizontal=True,
                 label_visibility="collapsed")
quiz = stepper.quiz_toggle(mode_col)
pick_slot = top.empty() if urlstate.teacher_mode() else None  # the output channel to step, beside the settings
# the output size (and which inputs the channel reads), once the settings are known
size_slot = top.container(key="size_line") if urlstate.teacher_mode() else size_col.empty()
flip = st.session_state["mode"] == "conv"
if flip:
    st.info("**True convolution rotates the kernel by 180° before sliding it** (shown below). Textbooks use it "
            "because it makes convolution commutative, as in signal processing; PyTorch's `Conv2d` skips the "
            "rotation (cross-correlation), which costs a network nothing: it simply learns the rotated kernel.",
            icon="🔄")

rows, cols, ksize, n_groups = (int(st.session_state[k]) for k in ("rows", "cols", "k", "groups"))
with place.expander("✏️ Sizes, bias and the numbers themselves (click a cell to type)"):
    s = st.columns(4)
    urlstate.control("select_slider", "Input rows", "rows", where=s[0], options=SIDES)
    urlstate.control("select_slider", "Input columns", "cols", where=s[1], options=SIDES)
    urlstate.control("select_slider", "Kernel size", "k", where=s[2], options=KSIZES)
    urlstate.control("number_input", "Bias", "bias", where=s[3], step=1, min_value=BIASES.start,
                     max_value=BIASES.stop - 1)
    try:
        x, w = stepper.input_and_kernel((chans, rows, cols), ksize, [3, 2],
                                        groups.kernel_slices(chans, outs, n_groups))
        problem = None
    except ValueError as err:  # e.g. an even-sized Sobel kernel
        problem = str(err)
if problem:
    stepper.error(problem)

pad = st.session_state["pad"]
try:
    bias = int(st.session_state["bias"])  # one bias for every output channel
    layer = GroupedConv.make(x, w.reshape(outs, chans // n_groups, ksize, ksize), [bias] * outs, n_groups,
                             pad if pad == "same" else int(pad), int(st.session_state["stride"]),
                             int(st.session_state["dil"]), flip=flip)
except ValueError as err:
    stepper.error(str(err))
pick = pick_slot or st.container()
och = stepper.output_channel(outs, pick)  # the output channel stepped, from 0
conv = layer.channel(och)
reading = groups.reading_sentence("grouped", chans, outs, ksize, n_groups, och) if outs > 1 else ""
if urlstate.teacher_mode():  # one line less on a projector: which inputs it reads goes above the output size
    size_slot.markdown("  \n".join(filter(None, [reading, figures.conv_size(conv)])))
else:
    size_slot.markdown(figures.conv_size(conv))
    if reading:
        pick.markdown(reading)

# ---------------------------------------------------------------------------------------------- stepping
stepper.walk(conv, lambda k, hide: figures.grouped_scene(layer, och, k, hide, same=pad == "same"),
             lambda k: figures.grouped_ask(layer, och, k), lambda k: "cell ({}, {})".format(*conv.cell(k)), quiz)

st.divider()
st.subheader("✍️ Check my answer")
stepper.check_answer("conv", conv.output(), lambda i, j: figures.grouped_working(layer, och, i, j),
                     noun=f"output channel {och + 1}" if outs > 1 else "output")
urlstate.publish()
