"""The stepped lesson pages through the real app (AppTest): they run, step, check answers and keep their URL.

Truth comes from torch.nn.functional applied to the very grid each page shows.
"""
from __future__ import annotations

import re
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "app" / "lessons"
TIMEOUT = 60


class _Grids(HTMLParser):
    """Collect every cv-grid: name -> {(row, col): (classes, text)}."""

    def __init__(self) -> None:
        super().__init__()
        self.grids: dict[str, dict[tuple[int, int], tuple[set[str], str]]] = {}
        self._grid: str | None = None
        self._cell: tuple[int, int] | None = None
        self._classes: set[str] = set()
        self._text = ""
        self._depth_note = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and "data-grid" in a:
            self._grid = a["data-grid"]
            self.grids[self._grid] = {}
        elif tag == "td" and self._grid is not None:
            r, c = a["data-cell"].split(",")
            self._cell, self._classes, self._text = (int(r), int(c)), set((a.get("class") or "").split()), ""
        elif tag == "span" and self._cell is not None:
            self._depth_note += 1

    def handle_endtag(self, tag):
        if tag == "span" and self._depth_note:
            self._depth_note -= 1
        elif tag == "td" and self._cell is not None:
            self.grids[self._grid][self._cell] = (self._classes, self._text.strip())
            self._cell = None
        elif tag == "table":
            self._grid = None

    def handle_data(self, data):
        if self._cell is not None and not self._depth_note:
            self._text += data


def grids(at: AppTest) -> dict[str, dict[tuple[int, int], tuple[set[str], str]]]:
    parser = _Grids()
    for h in at.html:
        parser.feed(h.body)
    return parser.grids


def values(grid: dict[tuple[int, int], tuple[set[str], str]]) -> np.ndarray:
    """A parsed grid's numbers (NaN where blank)."""
    rows = 1 + max(r for r, _ in grid)
    cols = 1 + max(c for _, c in grid)
    out = np.full((rows, cols), np.nan)
    for (r, c), (_, text) in grid.items():
        if text:
            out[r, c] = -np.inf if text == "-∞" else float(text)
    return out


def cells_with(grid: dict, cls: str) -> set[tuple[int, int]]:
    return {cell for cell, (classes, _) in grid.items() if cls in classes}


def _text(html: str) -> str:
    """Visible text: tags become spaces, runs of white space one space."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def working(at: AppTest) -> str:
    """The text of the (first) worked answer on screen."""
    bodies = [h.body for h in at.html if 'data-working="1"' in h.body]
    assert bodies, "no worked answer on the page"
    return _text(bodies[0][bodies[0].index('data-working="1"'):].split(">", 1)[1])


def page_text(at: AppTest) -> str:
    """Everything the HTML blocks say, tags and style sheets removed."""
    return " ".join(_text(re.sub(r"<style>.*?</style>", "", h.body, flags=re.S)) for h in at.html)


def run_page(name: str, params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def tensor(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.array(a, dtype=np.float64))[None, None]


# ---------------------------------------------------------------------------------------------- convolution
def _lock_in(at: AppTest, value: float | None) -> None:
    box = next(n for n in at.number_input if n.label.startswith("🤔"))  # "🤔 Output cell (i, j) =" or "Canvas"
    box.set_value(value)
    next(b for b in at.button if b.label.startswith("🔒")).click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_predicting_each_cell_hides_it_until_an_answer_is_locked_in():
    at = run_page("convolution.py", {"quiz": "1"})
    out = grids(at)["output"]
    assert out[(0, 0)][1] == "?" and "24" not in working(at)  # neither the cell nor its working
    assert at.button(key="step_play").disabled  # playing would step past the questions
    _lock_in(at, None)
    assert "Type a number first." in at.warning[0].value
    _lock_in(at, 23)
    assert "You said 23; cell (0, 0) is **24**" in at.error[0].value
    assert grids(at)["output"][(0, 0)][1] == "24" and working(at).endswith("= 24")  # now the why
    at.button(key="step_next").click().run()
    assert grids(at)["output"][(0, 1)][1] == "?" and grids(at)["output"][(0, 0)][1] == "24"
    expected = F.conv2d(tensor(values(grids(at)["input0"])), tensor(values(grids(at)["kernel0"])))[0, 0, 0, 1]
    _lock_in(at, float(expected))
    assert f"You said {expected:g}: right." in at.success[0].value and not at.error
    at.button(key="step_prev").click().run()  # an answered cell stays answered
    assert grids(at)["output"][(0, 0)][1] == "24" and "You said 23" in at.error[0].value


def test_convolution_steps_and_matches_torch():
    at = run_page("convolution.py")
    g = grids(at)
    x, k = values(g["input0"]), values(g["kernel0"])
    # Square preset 6x6 with Sobel x, no padding: cell (0, 0) covers rows 0-2, cols 0-2
    assert cells_with(g["input0"], "win") == {(r, c) for r in range(3) for c in range(3)}
    assert cells_with(g["output"], "cur") == {(0, 0)}
    first = working(at)
    assert first.endswith("= 24")  # rows 1,1,1 / 1,9,9 / 1,9,9 against Sobel x: 0 + 16 + 8

    at.button(key="step_next").click().run()
    g = grids(at)
    assert at.session_state["step"] == 1
    assert cells_with(g["input0"], "win") == {(r, c) for r in range(3) for c in range(1, 4)}
    assert cells_with(g["output"], "cur") == {(0, 1)}
    assert working(at) != first and working(at).startswith("Output cell (0, 1)")

    at.select_slider(key="step").set_value(15).run()  # the last of 4 x 4 cells: the output is complete
    g = grids(at)
    assert cells_with(g["output"], "cur") == {(3, 3)} and not cells_with(g["output"], "todo")
    expected = F.conv2d(tensor(x), tensor(k))[0, 0].numpy()
    np.testing.assert_array_equal(values(g["output"]), expected)
    at.button(key="step_prev").click().run()
    assert cells_with(grids(at)["output"], "cur") == {(3, 2)} and at.query_params["step"] == "14"


def test_convolution_settings_from_the_link_padding_stride_dilation_flip_channels_bias():
    at = run_page("convolution.py", {"image": "Random digits", "rows": "7", "cols": "5", "chans": "2",
                                     "kernel": "Sharpen", "pad": "2", "stride": "2", "dil": "2", "bias": "3",
                                     "mode": "conv", "step": "0"})
    g = grids(at)
    x = np.stack([values(g[f"input{c}"]) for c in range(2)])  # the padded inputs as drawn
    kern = np.stack([values(g[f"kernel{c}"]) for c in range(2)])  # the kernels as applied (rotated)
    assert cells_with(g["input0"], "pad") and x.shape == (2, 11, 9)  # padding 2 on every side
    assert cells_with(g["input0"], "win") == {(r, c) for r in (0, 2, 4) for c in (0, 2, 4)}  # dilation 2
    at.select_slider(key="step").set_value(len(grids(at)["output"]) - 1).run()
    got = values(grids(at)["output"])
    expected = F.conv2d(torch.as_tensor(x)[None], torch.as_tensor(kern)[None], torch.tensor([3.0], dtype=torch.float64),
                        stride=2, dilation=2)[0, 0].numpy()
    np.testing.assert_array_equal(got, expected)
    text = working(at)
    assert "channel 1:" in text and "channel 2:" in text and "(bias)" in text
    assert "rotates the kernel by 180°" in " ".join(i.value for i in at.info)


def test_same_padding_keeps_the_size_and_pads_an_even_kernel_at_the_bottom_right():
    at = run_page("convolution.py", {"pad": "same", "kernel": "Box blur", "k": "4", "rows": "5", "cols": "5"})
    g = grids(at)
    assert len(values(g["output"])) == 5  # 'same': 5 rows in, 5 rows out
    pad = cells_with(g["input0"], "pad")
    assert {(0, 2), (2, 0), (7, 2), (6, 2), (2, 7), (2, 6)} <= pad and (1, 1) not in pad  # 1 above, 2 below
    assert "padded 1 above, 2 below, 1 left, 2 right ('same')" in page_text(at)


def test_teacher_links_hide_and_lock_controls():
    at = run_page("convolution.py", {"teacher": "1", "hide": "kernel,step", "lock": "pad"})
    assert not [s for s in at.selectbox if s.key == "kernel"]
    assert at.selectbox(key="pad").disabled and not at.selectbox(key="stride").disabled
    assert not at.button and "step" not in [s.key for s in at.select_slider]  # a link to one fixed cell
    assert working(at).startswith("Output cell (0, 0)")


@pytest.mark.parametrize("params, side_by_side", [
    ({}, {"x_editor_0", "w_editor_0"}),  # one channel: input and kernel side by side
    ({"chans": "2", "rows": "4", "cols": "4"}, {"x_editor_0", "x_editor_1", "w_editor_0", "w_editor_1"}),
    ({"chans": "3", "rows": "8", "cols": "8"}, set()),  # 3 x (8 + 1) grid columns cannot share one row: they stack
])
def test_channel_editors_sit_side_by_side_only_when_their_grids_fit(params, side_by_side):
    at = run_page("convolution.py", params)
    editors = {d.key.rsplit("_v", 1)[0] for d in at.data_editor if d.key.startswith(("x_editor", "w_editor"))}
    in_columns = {d.key.rsplit("_v", 1)[0] for col in at.columns for d in col.data_editor}
    assert len(editors) == 2 * int(params.get("chans", 1)) and editors & in_columns == side_by_side


def test_true_convolution_shows_the_rotated_kernel():
    at = run_page("convolution.py", {"mode": "conv"})
    g = grids(at)
    np.testing.assert_array_equal(values(g["kernel0"]), values(g["given0"])[::-1, ::-1])


@pytest.mark.parametrize("page, params, message", [
    ("convolution.py", {"pad": "same", "stride": "2"}, "stride 1"),
    ("convolution.py", {"k": "4"}, "odd sizes"),
    ("convolution.py", {"rows": "3", "cols": "3", "k": "3", "dil": "3"}, "does not fit"),
    ("transposed.py", {"kernel": "Sobel x", "k": "2"}, "odd sizes"),
])
def test_impossible_settings_show_an_error_not_a_traceback(page, params, message):
    at = run_page(page, params)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


def _answer_key(at: AppTest) -> str:
    keys = [d.key for d in at.data_editor if d.key and d.key.startswith("answer_")]
    assert len(keys) == 1
    return keys[0]


def test_check_my_answer_marks_the_wrong_cell_with_its_working():
    at = run_page("convolution.py")
    truth = F.conv2d(tensor(values(grids(at)["input0"])), tensor(values(grids(at)["kernel0"])))[0, 0].numpy()
    key = _answer_key(at)
    at.session_state[key] = {"edited_rows": {0: {"0": float(truth[0, 0]), "1": float(truth[0, 1]) + 5}},
                             "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    marks = grids(at)["answer"]
    assert cells_with(marks, "right") == {(0, 0)} and cells_with(marks, "wrong") == {(0, 1)}
    assert any("1 right, 1 wrong" in e.value for e in at.error)
    said = page_text(at)
    assert f"Cell (0, 1): you wrote {int(truth[0, 1]) + 5}, the answer is {int(truth[0, 1])}" in said
    assert working(at).startswith("Output cell (0, 0)")  # the stepper's working is still there too


def test_editing_the_input_goes_into_the_link_and_the_output():
    at = run_page("convolution.py")
    editor = [d.key for d in at.data_editor if d.key and d.key.startswith("x_editor_0")][0]
    at.session_state[editor] = {"edited_rows": {0: {"0": 100}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert at.query_params["x"].startswith("100,1,1,1,1,1;")
    assert values(grids(at)["input0"])[0, 0] == 100
    assert working(at).startswith("Output cell (0, 0) = 100×(-1)")
    # a second edit in the same editor adds to the first (the editor is not rebuilt under the student)
    at.session_state[editor] = {"edited_rows": {0: {"0": 100, "1": 50}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert at.query_params["x"].startswith("100,50,1,1,1,1;")
    # another preset drops the edits
    at.selectbox(key="image").set_value("Zeros").run()
    assert at.query_params["x"] == "" and (values(grids(at)["input0"]) == 0).all()


# ---------------------------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_steps_and_matches_torch(mode):
    at = run_page("pooling.py", {"pool": mode, "k": "3", "stride": "2", "pad": "1", "incl": "0"})
    g = grids(at)
    padded = values(g["input"])  # -inf (max) or 0 (avg) around the input
    x = padded[1:-1, 1:-1]
    assert cells_with(g["input"], "win") == {(r, c) for r in range(3) for c in range(3)}
    if mode == "max":
        assert (padded[0] == -np.inf).all() and cells_with(g["input"], "best")
    first = working(at)
    at.button(key="step_next").click().run()
    assert working(at) != first
    assert cells_with(grids(at)["input"], "win") == {(r, c) for r in range(3) for c in range(2, 5)}
    at.select_slider(key="step").set_value(8).run()
    got = values(grids(at)["output"])
    pool = F.max_pool2d if mode == "max" else (lambda t, *a: F.avg_pool2d(t, *a, count_include_pad=False))
    np.testing.assert_allclose(got, pool(tensor(x), 3, 2, 1)[0, 0].numpy(), atol=0.006)  # shown to 2 decimals


def test_predicting_each_pooled_cell_hides_the_value_and_the_maximum_until_locked_in():
    at = run_page("pooling.py", {"quiz": "1"})  # max pooling, 2x2 windows, stride 2
    g = grids(at)
    truth = F.max_pool2d(tensor(values(g["input"])), 2, 2)[0, 0].numpy()
    assert g["output"][(0, 0)][1] == "?" and not cells_with(g["input"], "best")  # the maximum would tell
    assert working(at).endswith("?") and at.button(key="step_play").disabled
    _lock_in(at, truth[0, 0] - 1)
    assert f"cell (0, 0) is **{truth[0, 0]:g}**" in at.error[0].value and "largest number" in at.error[0].value
    assert cells_with(grids(at)["input"], "best") and grids(at)["output"][(0, 0)][1] == f"{truth[0, 0]:g}"
    at.button(key="step_next").click().run()
    _lock_in(at, truth[0, 1])
    assert f"You said {truth[0, 1]:g}: right." in at.success[0].value and not at.error


def test_pooling_refuses_too_much_padding():
    at = run_page("pooling.py", {"k": "2", "pad": "2"})
    assert any("half the kernel" in e.value for e in at.error)


# ---------------------------------------------------------------------------------------------- transposed
def test_transposed_scatters_adds_overlaps_and_matches_torch():
    at = run_page("transposed.py", {"stride": "2", "pad": "1", "opad": "1"})
    assert "U-Net decoder" in " ".join(i.value for i in at.info)
    g = grids(at)
    x, w = values(g["input"]), values(g["kernel"])
    assert cells_with(g["input"], "cur") == {(0, 0)} and cells_with(g["canvas"], "hit") == {
        (r, c) for r in range(3) for c in range(3)}
    at.button(key="step_next").click().run()
    g = grids(at)
    assert cells_with(g["input"], "cur") == {(0, 1)}
    assert cells_with(g["canvas"], "hit") == {(r, c) for r in range(3) for c in range(2, 5)}
    assert "overlaps add up" in working(at)  # column 2 was painted by both (0, 0) and (0, 1)
    at.select_slider(key="step").set_value(8).run()
    got = values(grids(at)["output"])
    expected = F.conv_transpose2d(tensor(x), tensor(w), stride=2, padding=1, output_padding=1)[0, 0].numpy()
    np.testing.assert_array_equal(got, expected)


def test_transposed_check_answer_explains_with_the_gathered_sum():
    at = run_page("transposed.py", {"stride": "1", "k": "2", "kernel": "Box blur", "rows": "2", "cols": "2",
                                    "image": "Gradient"})
    # input [[0, 1], [1, 2]], kernel of ones, stride 1: the centre gets all four, 0 + 1 + 1 + 2 = 4
    key = _answer_key(at)
    at.session_state[key] = {"edited_rows": {1: {"1": 5}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert cells_with(grids(at)["answer"], "wrong") == {(1, 1)}
    assert "Cell (1, 1): you wrote 5, the answer is 4 0×1 + 1×1 + 1×1 + 2×1 = 4" in page_text(at)
    assert "Step 1 of 4: input cell (0, 0)" in page_text(at)


def test_predicting_a_transposed_step_asks_for_a_sum_where_blocks_overlap():
    at = run_page("transposed.py", {"quiz": "1", "kernel": "Sobel x", "pad": "1", "step": "3"})
    g = grids(at)
    x, w = values(g["input"]), values(g["kernel"])
    scattered = x.copy()
    scattered.flat[4:] = 0  # after step 3: input cells 0-3, row by row, have painted the canvas (nothing cut off)
    canvas = F.conv_transpose2d(tensor(scattered), tensor(w), stride=2)[0, 0].numpy()
    before = F.conv_transpose2d(tensor(np.where(np.arange(9).reshape(3, 3) < 3, x, 0)), tensor(w), stride=2)
    # input cell (1, 0) paints rows 2-4, columns 0-2; row 2 already holds the first row's blocks: (2, 0) is asked
    assert g["canvas"][(2, 0)][1] == "?" and {text for _, text in g["block"].values()} == {"?"}
    assert g["canvas"][(1, 2)][1] == f"{before[0, 0, 1, 2].item():g}" and working(at).endswith("?")  # as it was
    assert at.button(key="step_play").disabled
    _lock_in(at, canvas[2, 0] + 1)
    assert f"cell (2, 0) is **{canvas[2, 0]:g}**" in at.error[0].value
    assert f"It held {before[0, 0, 2, 0].item():g}" in at.error[0].value
    shown = values(grids(at)["canvas"])
    reached = ~np.isnan(shown)  # rows 0-2 by the first row of input cells, rows 2-4 columns 0-2 by cell (1, 0)
    assert reached.sum() == 3 * 7 + 2 * 3 and reached[:3].all() and reached[3:5, :3].all()
    np.testing.assert_array_equal(shown[reached], canvas[reached])  # now revealed, as conv_transpose2d has them
    at.button(key="step_next").click().run()
    asked = next(n.label for n in at.number_input if n.label.startswith("🤔"))
    assert asked == "🤔 Canvas cell (2, 2) =", asked  # input cell (1, 1): rows 2-4, columns 2-4, (2, 2) overlaps
    scattered.flat[4] = x[1, 1]
    _lock_in(at, F.conv_transpose2d(tensor(scattered), tensor(w), stride=2)[0, 0, 2, 2].item())
    assert "right." in at.success[0].value and not at.error


def test_transposed_refuses_output_padding_as_large_as_the_stride():
    at = run_page("transposed.py", {"stride": "1", "opad": "1"})
    assert any("smaller than the stride" in e.value for e in at.error)


# ---------------------------------------------------------------------------------------------- picture
@pytest.mark.parametrize("view", ["signed", "abs", "clip"])
def test_kernels_on_a_picture_shows_the_full_resolution_response_and_its_range(view):
    from cnnviz.lessons import kernels

    at = run_page("filters_on_image.py", {"pic": "Checkerboard", "kernel": "Sobel y", "view": view})
    pic = kernels.picture("Checkerboard").astype(np.float64)
    resp = F.conv2d(tensor(pic), tensor(kernels.kernel("Sobel y", 3)), padding=1)[0, 0].numpy()
    heads = " ".join(m.value for m in at.markdown)
    assert f"Input: {pic.shape[1]}×{pic.shape[0]} pixels" in heads
    assert f"values from {int(resp.min())} to {int(resp.max())}" in heads
    assert len(at.image) == 2


def test_kernels_on_a_picture_with_a_photo_or_upload_source():
    at = run_page("filters_on_image.py", {"src": "picture", "kernel": "Box blur", "k": "5"})
    assert not at.error
    assert any("values from" in m.value for m in at.markdown) or any(i.value for i in at.info)


# ---------------------------------------------------------------------------------------------- the app
def test_every_page_opens_from_the_app_and_appears_in_the_navigation():
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=TIMEOUT).run()
    for page in ("convolution", "pooling", "transposed", "filters_on_image"):
        at.switch_page(f"lessons/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.title, page


def test_stepped_pages_do_not_import_torch():
    """The convolution lessons must appear without the 4.5 s PyTorch import."""
    code = ("import sys; from streamlit.testing.v1 import AppTest\n"
            "for p in ('convolution', 'pooling', 'transposed'):\n"
            f"    at = AppTest.from_file({str(PAGES)!r} + f'/{{p}}.py', default_timeout=60).run()\n"
            "    assert not at.exception, p\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
