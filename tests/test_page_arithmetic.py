"""The conv arithmetic page under Streamlit's AppTest: calculator, solver and network table, as a student uses them."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.nets import netspec

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "app" / "lessons" / "arithmetic.py")


def _open(**params: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _texts(at: AppTest, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# ---------------------------------------------------------------------------------------- output size

def test_calculator_works_out_height_and_width_separately():
    at = _open()
    _clean(at)
    assert "### Height and width: 32 → **32**" in _texts(at, "markdown")  # the default: 5x5 kernel, padding 2
    at.toggle(key="square").set_value(False).run()
    at.number_input(key="w").set_value(28)
    at.number_input(key="k").set_value(3)
    at.number_input(key="p").set_value(1)
    at.number_input(key="s").set_value(2).run()
    _clean(at)
    md = _texts(at, "markdown")
    assert "### Height: 32 → **16**" in md and "### Width: 28 → **14**" in md
    assert any("PyTorch floors it to 15" in m and "last 1 row" in m for m in md)
    assert any(r"\dfrac{27}{2}" in latex for latex in _texts(at, "latex"))          # width: (28 + 2 - 2 - 1) / 2
    assert "Output: 16 × 14" in _texts(at, "success")[0]
    assert "nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=2, dilation=1)" in at.code[0].value
    assert at.query_params["s"] == "2" and at.query_params["w"] == "28"           # the URL keeps the controls


def test_calculator_pooling_transposed_and_an_impossible_kernel():
    at = _open(op="maxpool", h="7", mk="2", mp="0", ms="2")
    _clean(at)
    assert "### Height and width: 7 → **3**" in _texts(at, "markdown")
    at.toggle(key="mceil").set_value(True).run()
    assert "### Height and width: 7 → **4**" in _texts(at, "markdown")

    at = _open(op="transposed", h="16", tk="4", tp="1", ts="2")
    _clean(at)
    assert "### Height and width: 16 → **32**" in _texts(at, "markdown")

    at = _open(h="4", w="9", square="0", k="5", p="0")
    _clean(at)
    errors = _texts(at, "error")
    assert len(errors) == 1 and errors[0].startswith("**Height: impossible.**")
    assert "larger than the padded input" in errors[0]
    assert "### Width: 9 → **5**" in _texts(at, "markdown")


def _add_layer(at: AppTest) -> AppTest:
    """Press "Add this layer to the chain", as a student does."""
    at.button(key="add_layer").click().run()
    _clean(at)
    return at


def _chain(at: AppTest) -> list[str]:
    """The chain table's "Size in → out" column."""
    return list(at.dataframe[0].value["sizes"])


def test_the_512_chain_answers_252_as_a_student_types_it():
    at = _open()
    at.number_input(key="h").set_value(512).run()              # square: the width follows
    at.number_input(key="p").set_value(0).run()                # conv k5, stride 1, padding 0
    assert "Output: 508 × 508" in _texts(at, "success")[0]
    _add_layer(at)
    at.segmented_control(key="op").set_value("maxpool").run()  # pool 2: stride 2
    assert "Output: 254 × 254  (from 508 × 508)" in _texts(at, "success")[0]
    _add_layer(at)
    at.segmented_control(key="op").set_value("conv").run()     # convolution again: its own stride 1, not pooling's 2
    assert [at.number_input(key=k).value for k in ("k", "p", "s", "d")] == [5, 0, 1, 1]
    at.number_input(key="k").set_value(3).run()
    assert "Output: 252 × 252  (from 254 × 254)" in _texts(at, "success")[0]
    assert "**Layer 3** works on the output of layer 2: **254 × 254**" in _texts(at, "markdown")
    _add_layer(at)
    assert _chain(at) == ["512 × 512 → 508 × 508", "508 × 508 → 254 × 254", "254 × 254 → 252 × 252"]
    assert list(at.dataframe[0].value["operation"]) == ["Convolution", "Max pooling", "Convolution"]
    assert at.dataframe[0].value["settings"][2] == "kernel 3, padding 0, stride 1, dilation 1"
    assert at.query_params["chain"] == "conv k5 p0 s1 d1;maxpool k2 p0 s2 d1;conv k3 p0 s1 d1"

    shared = _open(**dict(at.query_params))  # the link shows the same chain
    _clean(shared)
    assert _chain(shared) == _chain(at) and "Output: 250 × 250  (from 252 × 252)" in _texts(shared, "success")[0]


def test_removing_a_layer_of_the_chain_works_the_rest_out_again_and_names_one_that_no_longer_fits():
    at = _open(h="8", chain="conv k3 p0 s1 d1;maxpool k2 p0 s2 d1;conv k3 p0 s1 d1")
    _clean(at)
    assert _chain(at) == ["8 × 8 → 6 × 6", "6 × 6 → 3 × 3", "3 × 3 → 1 × 1"]
    at.button(key="remove_layer_1").click().run()  # without the pool, the last conv sees 6 × 6
    assert _chain(at) == ["8 × 8 → 6 × 6", "6 × 6 → 4 × 4"]
    assert at.query_params["chain"] == "conv k3 p0 s1 d1;conv k3 p0 s1 d1"
    at.number_input(key="h").set_value(4).run()  # too small for two 3×3 convolutions
    _clean(at)
    assert _chain(at) == ["4 × 4 → 2 × 2", "2 × 2 → impossible"]
    errors = _texts(at, "error")
    assert len(errors) == 1 and errors[0].startswith("**Layer 2 (Convolution) cannot work on 2 × 2:** the kernel (3)")
    assert "remove the layer" in errors[0]
    assert not _texts(at, "success") and "add_layer" not in [b.key for b in at.button]  # no next layer until it works


@pytest.mark.parametrize("square, width", [(True, 512), (False, 32)])
def test_height_moves_the_width_while_the_input_is_square(square, width):
    at = _open(**({} if square else {"square": "0"}))
    at.number_input(key="h").set_value(512).run()
    _clean(at)
    assert at.number_input(key="w").value == width
    if square:
        at.number_input(key="w").set_value(100).run()  # and the width moves the height
        assert at.number_input(key="h").value == 100 and "Output: 100 × 100" in _texts(at, "success")[0]
        assert at.query_params["h"] == at.query_params["w"] == "100"


def test_each_operation_keeps_its_own_settings():
    at = _open()
    at.number_input(key="k").set_value(3)
    at.number_input(key="p").set_value(1).run()
    for op, key, value in (("maxpool", "mk", 3), ("transposed", "ts", 4), ("avgpool", "as", 1)):
        at.segmented_control(key="op").set_value(op).run()
        at.number_input(key=key).set_value(value).run()
        _clean(at)
    expected = {"conv": {"k": 3, "p": 1, "s": 1, "d": 1}, "maxpool": {"mk": 3, "mp": 0, "ms": 2, "md": 1},
                "transposed": {"tk": 4, "tp": 1, "ts": 4, "td": 1, "topad": 0}, "avgpool": {"ak": 2, "ap": 0, "as": 1}}
    for op, boxes in expected.items():
        at.segmented_control(key="op").set_value(op).run()
        assert {k: at.number_input(key=k).value for k in boxes} == boxes, op


def test_impossible_link_values_fall_back_with_a_note():
    at = _open(h="0", mk="999", chain="conv k5 p0 s1;pool 2", op="maxpool")
    _clean(at)
    toasts = [t.value for t in at.toast]
    for key, raw in (("h", "0"), ("mk", "999"), ("chain", "conv k5 p0 s1;pool 2")):
        assert any(f"`{key}={raw}` is not possible here" in t for t in toasts), (key, toasts)
    assert at.number_input(key="h").value == 32 and at.number_input(key="mk").value == 2 and not at.dataframe
    assert "Output: 16 × 16" in _texts(at, "success")[0]

    at = _open(chain="conv k5 p0 s1 d1;" * 40)  # longer than any lesson needs
    _clean(at)
    assert not at.dataframe and any("`chain=" in t.value for t in at.toast)


def test_every_term_of_the_calculator_has_help():
    at = _open(op="maxpool", split="1", chain="conv k3 p1 s1 d1")
    _clean(at)
    boxes = {n.key: n.proto.help for n in at.number_input}
    assert all(boxes.values()), boxes
    assert all(t.proto.help for t in at.toggle) and at.segmented_control(key="op").proto.help
    columns = json.loads(at.dataframe[0].proto.columns)
    assert all(columns[c]["help"] for c in ("operation", "sizes", "settings"))


# ---------------------------------------------------------------------------------------- solving

def test_solver_answers_and_checks_its_answer():
    at = _open(part="solve")
    _clean(at)
    assert _texts(at, "success") == ["### padding = 2"]                          # keep 32 with a 5x5 kernel
    next(b for b in at.button if b.label == "512 → 508: which kernel?").click().run()
    _clean(at)
    assert _texts(at, "success") == ["### kernel = 5"]
    assert any("508" in latex for latex in _texts(at, "latex"))
    at.number_input(key="sout").set_value(513).run()                           # no padding: a conv never grows
    assert _texts(at, "warning") == ["### No whole kernel turns 512 into 513. Closest: kernel 1 gives 512."]


def test_solver_keeps_the_size_with_an_even_kernel_explains_same_padding():
    at = _open(part="solve", sop="conv", unk="padding", sin="32", sout="32", sk="4")
    _clean(at)
    assert _texts(at, "warning")[0].startswith("### No whole padding turns 32 into 32")
    assert any("1 before and 2 after" in i for i in _texts(at, "info"))


# ---------------------------------------------------------------------------------------- network table

def test_table_from_a_typed_description_is_checked_against_torch():
    at = _open(part="table")
    _clean(at)
    at.text_area(key="net").input("conv 8 k3 p1\nrelu\npool max 2\nflatten\nlinear 10")
    at.text_input(key="shape").input("1x8x8").run()
    _clean(at)
    frame = at.dataframe[0].value
    assert list(frame["name"]) == ["conv1", "relu1", "pool1", "flatten", "fc1"]
    assert list(frame["output_shape"]) == ["8 × 8 × 8", "8 × 8 × 8", "8 × 4 × 4", "128", "10"]
    # conv: 8·1·3·3 + 8 = 80; linear: 128·10 + 10 = 1,290
    assert list(frame["total_params"]) == [80, 80, 80, 80, 1370]
    assert [m.value for m in at.metric][:1] == ["1,370"]
    success = _texts(at, "success")
    assert len(success) == 1 and "Checked against a real torch model" in success[0] and "1,370" in success[0]
    assert [b.label for b in at.download_button] == ["⬇ Layer table (CSV)"]


def test_impossible_description_names_the_layer_without_a_traceback():
    at = _open(part="table", net="conv 8 k3\npool max 2\nconv 8 k5", shape="1x8x8")
    _clean(at)
    errors = _texts(at, "error")
    assert len(errors) == 1
    assert errors[0].startswith("**This network cannot work.** Layer 3 (conv2: conv 8 k5): its input is 8×3×3, "
                                "and the kernel (5) is larger")
    assert not at.dataframe and not _texts(at, "success") and not at.download_button



@pytest.mark.parametrize("shape, net, limit", [
    ("3x4096x4096", "conv 4096 k3 p1",  # the audit's link: 256 GiB of activations for one image
     "Layer 1 (conv1: conv 4096 k3 p1) makes 4096 × 4096 × 4096 activations (256 GiB) for one image; cnnviz allows "
     "at most 512 MiB per image."),
    ("3x256x256", "conv 16 k3 p1; flatten; linear 100000",  # 1,048,576 × 100,000 weights: 419 GB
     "Layer 3 (fc1: linear 100000) has 100,000 outputs; cnnviz allows at most 65,536 units per linear layer."),
])
def test_a_link_to_a_network_too_large_for_the_server_shows_the_limit_without_building_it(shape, net, limit):
    start = time.perf_counter()
    at = _open(part="table", src="describe", shape=shape, net=net)
    assert time.perf_counter() - start < 3  # arithmetic only: nothing the size of the network is allocated
    _clean(at)
    errors = _texts(at, "error")
    assert len(errors) == 1 and errors[0].startswith("**This network is too large for cnnviz.**") and limit in errors[0]
    assert not at.dataframe and not _texts(at, "success")

    at.text_area(key="net").input("conv 8 k3 p1\nrelu\npool max 2\nflatten\nlinear 10")  # the page goes on working
    at.text_input(key="shape").input("1x8x8").run()
    _clean(at)
    assert not _texts(at, "error") and "1,370" in _texts(at, "success")[0]


def test_pasted_pytorch_code_builds_the_table_with_its_output_whole():
    pasted = """model = nn.Sequential(
    nn.Conv2d(1, 1, 5),
    nn.MaxPool2d(2),
    nn.Conv2d(1, 1, kernel_size=3, padding=0),
)"""
    at = _open(part="table", shape="1x512x512")
    at.text_area(key="net").input(pasted).run()
    _clean(at)
    frame = at.dataframe[0].value
    assert list(frame["output_shape"]) == ["1 × 508 × 508", "1 × 254 × 254", "1 × 252 × 252"]
    assert [m.value for m in at.metric][2] == "1 × 252 × 252"
    assert "Checked against a real torch model" in _texts(at, "success")[0] and not at.error
    width = json.loads(at.dataframe[0].proto.columns)["output_shape"]["width"]
    assert width >= 8 * len("1×252×252") + 18  # pixels: a digit or × is 7.8 wide, 9 padding a side


@pytest.mark.parametrize("net, shape, lead, said", [
    ("conv 8 k3\nconv 8 k3 x9", "1x8x8", "cnnviz cannot read this description",
     'Line 2 ("conv 8 k3 x9"): cannot read \'x9\' for conv; write e.g. \'conv 32 k5 s1 p2 d1\''),
    ("nn.Conv2d(1, 8, kernal_size=3)", "1x8x8", "cnnviz cannot read this description", "Line 1"),
    ("", "1x8x8", "cnnviz cannot read this description", "The description has no layers: write one layer per line"),
    ("conv 8 k3", "1x512", "cnnviz cannot read the input shape", "Could not read the input shape '1x512'"),
])
def test_a_line_that_does_not_read_shows_a_worded_error_not_a_traceback(net, shape, lead, said):
    at = _open(part="table", net=net, shape=shape)
    _clean(at)
    errors = _texts(at, "error")
    assert len(errors) == 1 and errors[0].startswith(f"**{lead}") and said in errors[0], errors
    assert "Traceback" not in errors[0] and "Error" not in errors[0] and not at.dataframe


def test_the_syntax_is_in_plain_view_beside_the_box_and_every_figure_and_column_has_help():
    at = _open(part="table")
    _clean(at)
    shown = _texts(at, "markdown")
    assert any(netspec.CHEAT_SHEET.strip() in m for m in shown) and not at.expander
    assert any("nn.Sequential(...)" in m and "PyTorch code" in m for m in shown)
    assert all(m.proto.help for m in at.metric), [m.proto.help for m in at.metric]
    columns = json.loads(at.dataframe[0].proto.columns)
    assert all(c["help"].count(".") >= 2 for n, c in columns.items() if n != "_index"), columns  # what, and why
    assert "Receptive field" in columns["receptive_field"]["help"] and "larger things" in \
        columns["receptive_field"]["help"]


def test_preset_and_quiz_mode():
    at = _open(part="table")
    at.selectbox(key="preset").set_value("mnist_cnn").run()
    _clean(at)
    assert at.text_area(key="net").value == netspec.PRESETS["mnist_cnn"].text
    assert at.text_input(key="shape").value == "1x28x28"
    assert "21,840" in _texts(at, "success")[0]
    at.toggle(key="quiz").set_value(True).run()
    _clean(at)
    assert list(at.dataframe[0].value.columns) == ["name", "layer", "receptive_field"]
    assert [m.value for m in at.metric][:3] == ["?", "?", "?"]
    assert "21,840" not in _texts(at, "success")[0]  # the check does not give the answer away

    _lock_in(at, {"Parameters in all (weights and biases)": 20_000})
    assert "You said 20,000, 1,840 too low." in _texts(at, "error")[0] and "21,840" in _texts(at, "error")[0]
    assert "params" in at.dataframe[0].value.columns and at.metric[0].value == "21,840"  # revealed
    at.selectbox(key="preset").set_value("cifar_cnn").run()  # another network: another question
    assert at.metric[0].value == "?" and "params" not in at.dataframe[0].value.columns
    _lock_in(at, {"Parameters in all (weights and biases)": 390_410})
    assert "You said 390,410: right" in _texts(at, "success")[0] and not at.error


def _lock_in(at: AppTest, answers: dict[str, int]) -> None:
    """Type the answers into the predict-first form (by label) and lock them in."""
    boxes = {n.label: n for n in at.number_input}
    for label, value in answers.items():
        boxes[label].set_value(value)
    next(b for b in at.button if b.label.startswith("🔒")).click().run()
    _clean(at)


def test_predict_first_output_size_is_worked_out_once_an_answer_is_locked_in():
    at = _open(part="size", quiz="1", h="28", w="28", k="5", p="0")  # (28 - 5) / 1 + 1 = 24
    _clean(at)
    shown = " ".join(_texts(at, "markdown") + [c.value for c in at.code] + _texts(at, "success"))
    assert "24" not in shown and not at.code  # neither the working nor the PyTorch line with its shape
    next(b for b in at.button if b.label.startswith("🔒")).click().run()  # an empty box is not an answer
    assert "Fill in every box first." in _texts(at, "warning")[0]
    _lock_in(at, {"Output height and width": 23})
    assert "**Output height and width: 24.** You said 23, 1 too low." in _texts(at, "error")[0]
    assert any("28 → **24**" in t for t in _texts(at, "markdown")) and at.latex  # the working: why it is 24

    at.number_input(key="p").set_value(2).run()  # a new setting is a new question
    assert not any("→ **" in t for t in _texts(at, "markdown"))
    at.toggle(key="split").set_value(True).run()
    at.number_input(key="pw").set_value(0).run()  # width (28 + 0 - 5) + 1 = 24, height (28 + 4 - 5) + 1 = 28
    _lock_in(at, {"Output height": 28, "Output width": 24})
    assert len(_texts(at, "success")) >= 2 and not at.error
    assert "28 × 24" in " ".join(_texts(at, "success"))


@pytest.mark.parametrize("name, total", [("mnist_cnn", "21,840"), ("cifar_cnn_plus", None)])
def test_zoo_model_table(name, total):
    at = _open(part="table", src="zoo", zoo=name)
    _clean(at)
    frame = at.dataframe[0].value
    assert len(frame) > 5
    success = _texts(at, "success")[0]
    assert "Checked against the real torch model" in success
    if total:
        assert total in success


def test_calculator_and_solver_do_not_import_torch():
    """The arithmetic parts must show without PyTorch (its import takes seconds); only the table needs it."""
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({PAGE!r}, default_timeout=60).run()
assert not at.exception
at.segmented_control(key="part").set_value("solve").run()
assert not at.exception and at.success
print("torch" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_page_opens_from_the_app_navigation():
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120).run()
    at.switch_page("lessons/arithmetic.py").run()
    _clean(at)
    assert at.title[0].value == "📐 Conv arithmetic"


def test_a_link_that_names_a_preset_shows_its_network_and_stays_short():
    at = _open(part="table", preset="mnist_cnn")
    _clean(at)
    assert at.text_area(key="net").value == netspec.PRESETS["mnist_cnn"].text
    assert at.text_input(key="shape").value == "1x28x28" and "21,840" in _texts(at, "success")[0]
    chosen = _open(part="table")
    chosen.selectbox(key="preset").set_value("mnist_cnn").run()
    assert dict(chosen.query_params) == {"part": "table", "preset": "mnist_cnn"}  # not the layers' text
    chosen.text_area(key="net").set_value("conv 4 k3\nflatten\nlinear 10").run()  # an edit goes into the link
    assert chosen.query_params["net"] == "conv 4 k3\nflatten\nlinear 10"
