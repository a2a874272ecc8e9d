"""Step through a convolution with several output channels, grouped or depthwise (AppTest): the page steps one output
channel over its group's input channels only, fills every output channel as it goes, checks the channel stepped,
and keeps it all in the link. Truth: torch.nn.functional.conv2d(groups=...) on the very numbers the page draws."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from tests.test_pages_convolution import cells_with, grids, page_text, run_page, values, working

DEPTHWISE = {"chans": "3", "outs": "3", "groups": "3"}


def toasts(at: AppTest) -> list[str]:
    return [t.value for t in at.toast]


def drawn_layer(at: AppTest) -> tuple[np.ndarray, np.ndarray]:
    """The depthwise layer's input (3, H, W) and weight (3, 1, k, k) as the page draws them, one channel a step."""
    xs, ws = [], []
    for o in (1, 2, 3):
        at.radio(key="och").set_value(o).run()
        g = grids(at)
        assert [n for n in g if n.startswith("input")] == [f"input{o - 1}"]  # its own input channel, no other
        xs.append(values(g[f"input{o - 1}"]))
        ws.append(values(g[f"kernel{o - 1}"]))
    return np.stack(xs), np.stack(ws)[:, None]


def test_three_groups_of_three_channels_step_a_depthwise_convolution_equal_to_torch():
    at = run_page("convolution.py", {"chans": "3"})
    assert "och" not in [r.key for r in at.radio]  # one output channel: nothing to pick
    at.selectbox(key="outs").set_value(3).run()
    assert at.selectbox(key="groups").options == ["1", "3 (depthwise)"]  # only what divides 3 and 3
    at.selectbox(key="groups").set_value(3).run()
    assert not at.exception and at.query_params["groups"] == "3"
    x, w = drawn_layer(at)
    truth = F.conv2d(torch.as_tensor(x)[None], torch.as_tensor(w), groups=3)[0].numpy()  # (3, 4, 4)
    assert not np.array_equal(truth[0], truth[1]) and not np.array_equal(truth[0], truth[2])  # kernels differ
    assert list(w[:, 0, 0, 1]) == [0, -2, 1]  # Sobel x, then Sobel y and the Laplacian: each channel its own
    at.select_slider(key="step").set_value(15).run()  # the last cell: every output channel complete
    for o in (1, 2, 3):
        at.radio(key="och").set_value(o).run()
        g = grids(at)
        np.testing.assert_array_equal(values(g["output"]), truth[o - 1])
        for other in {0, 1, 2} - {o - 1}:
            np.testing.assert_array_equal(values(g[f"output{other}"]), truth[other])
    assert at.session_state["step"] == 15  # picking another channel keeps the cell


def test_a_link_opens_on_output_channel_2_of_a_depthwise_convolution():
    at = run_page("convolution.py", {**DEPTHWISE, "och": "2", "step": "5"})
    assert not toasts(at) and at.radio(key="och").value == 2
    g = grids(at)
    assert {n for n in g if n.startswith("input")} == {"input1"} and cells_with(g["output"], "cur") == {(1, 1)}
    assert {"output0", "output2"} <= set(g) and "output1" not in g  # the others, small, beside it
    assert "Output channel 2 reads input channel 2 only" in " ".join(m.value for m in at.markdown)
    assert "Input channel 2" in page_text(at) and working(at).startswith("Output channel 2, cell (1, 1) =")
    # the next step fills every output channel's next cell
    at.button(key="step_next").click().run()
    g = grids(at)
    assert cells_with(g["output"], "cur") == {(1, 2)} and g["output0"][(1, 2)][1] != "" and \
        g["output0"][(1, 3)][1] == ""
    assert at.query_params["och"] == "2" and at.query_params["step"] == "6"


def test_four_channels_in_two_groups_read_half_the_input_each():
    at = run_page("convolution.py", {"chans": "4", "outs": "2", "groups": "2", "och": "2", "bias": "1"})
    g = grids(at)
    assert {n for n in g if n.startswith("input")} == {"input2", "input3"}
    x = np.stack([values(g[f"input{c}"]) for c in (2, 3)])
    w = np.stack([values(g[f"kernel{c}"]) for c in (2, 3)])
    cell = F.conv2d(torch.as_tensor(x)[None], torch.as_tensor(w)[None], torch.tensor([1.0], dtype=torch.float64))
    text = working(at)
    assert "input channel 3:" in text and "input channel 4:" in text and text.endswith(f"= {cell[0, 0, 0, 0]:g}")
    assert "reads input channels 3–4 (2 of 4), group 2 of 2" in " ".join(m.value for m in at.markdown)


def test_impossible_link_values_fall_back_with_the_usual_note():
    at = run_page("convolution.py", {"chans": "3", "outs": "3", "groups": "5", "och": "7"})
    said = toasts(at)
    assert any("`groups=5` is not possible here; showing `1`" in t for t in said), said
    assert any("`och=7` is not possible here; showing `1`" in t for t in said), said
    assert at.session_state["groups"] == 1 and at.radio(key="och").value == 1 and not at.error
    at = run_page("convolution.py", {"chans": "2", "outs": "3", "groups": "2"})  # 2 does not divide 3
    assert any("`groups=2` is not possible here" in t for t in toasts(at)) and at.session_state["groups"] == 1


def test_fewer_channels_later_keep_groups_and_the_picked_channel_possible():
    at = run_page("convolution.py", {**DEPTHWISE, "och": "3"})
    at.selectbox(key="chans").set_value(2).run()  # 3 groups cannot split 2 channels: back to 1 group
    assert not at.exception and at.session_state["groups"] == 1 and at.selectbox(key="groups").value == 1
    at.selectbox(key="outs").set_value(2).run()  # channel 3 is gone: the last one left
    assert not at.exception and at.radio(key="och").value == 2 and at.query_params["och"] == "2"


def test_check_my_answer_checks_the_channel_being_stepped():
    at = run_page("convolution.py", {**DEPTHWISE, "och": "3", "step": "15"})
    truth = values(grids(at)["output"])  # the last step: channel 3 complete (held equal to torch above)
    key = next(d.key for d in at.data_editor if d.key and d.key.startswith("answer_"))
    at.session_state[key] = {"edited_rows": {0: {"0": float(truth[0, 0]), "1": float(truth[0, 1]) + 1}},
                             "added_rows": [], "deleted_rows": []}
    at.run()
    assert "Type the output channel 3 you worked out by hand" in " ".join(m.value for m in at.markdown)
    marks = grids(at)["answer"]
    assert cells_with(marks, "right") == {(0, 0)} and cells_with(marks, "wrong") == {(0, 1)}
    assert f"Cell (0, 1): you wrote {truth[0, 1] + 1:g}, the answer is {truth[0, 1]:g}" in page_text(at)


def test_predicting_names_the_output_channel_asked_about():
    at = run_page("convolution.py", {**DEPTHWISE, "och": "2", "quiz": "1"})
    box = next(n for n in at.number_input if n.label.startswith("🤔"))
    assert box.label == "🤔 Output channel 2, cell (0, 0) =" and grids(at)["output"][(0, 0)][1] == "?"


def test_teacher_links_lock_and_hide_the_new_controls():
    at = run_page("convolution.py", {**DEPTHWISE, "teacher": "1", "lock": "groups,och", "hide": "outs"})
    assert at.selectbox(key="groups").disabled and not [s for s in at.selectbox if s.key == "outs"]
    assert at.radio(key="och").disabled and at.radio(key="och").value == 1
