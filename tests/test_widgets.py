"""The shared widgets through the real Streamlit runtime (AppTest): image picker, model picker, preprocessing view."""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.conftest import needs_data

ROOT = Path(__file__).resolve().parent.parent

# A tiny page that uses the widgets the way the Inside-a-model page does; it keeps the tensor it was shown
# in session_state so the test can compare it with an independent computation.
PAGE = textwrap.dedent("""
    import streamlit as st
    from app import state, urlstate, widgets

    urlstate.init({})
    model = widgets.model_picker()
    st.session_state["test.model"] = model
    if st.session_state.get("test.show_picker", True):
        spec = state.model_spec(model)
        image = widgets.image_picker(spec.dataset)
        st.session_state["test.image"] = image
        if image is not None:
            st.session_state["test.x"] = widgets.show_preprocessing(image, model)
    else:
        st.write("another page, without the picker")
    urlstate.publish()
""")


@pytest.fixture
def page(tmp_path: Path):
    """A factory: a fresh AppTest of the tiny page, opened with the given query string."""
    script = tmp_path / "page.py"
    script.write_text(PAGE)

    def open_link(**params: str) -> AppTest:
        at = AppTest.from_file(str(script), default_timeout=90)
        at.query_params.update(params)
        return run(at)

    return open_link


def run(at) -> AppTest:
    """Run the page (after a widget change, when given the widget) and check it raised nothing."""
    at = at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def chosen(at: AppTest) -> dict:
    return {k: v for k, v in at.session_state["cnnviz.image"].items() if k != "image"}


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def photo(w: int = 300, h: int = 200) -> Image.Image:
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    a[..., 2] = 180
    return Image.fromarray(a)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def upload(at: AppTest, name: str, data: bytes, mime: str) -> AppTest:
    if at.radio(key="img.source").value != "upload":
        run(at.radio(key="img.source").set_value("upload"))
    at.file_uploader(key="img.upload").set_value((name, data, mime))
    return run(at)


# ---- samples and the preprocessing view ------------------------------------------------------------------

def steps(at: AppTest) -> list[str]:
    """The titles under the preprocessing pictures, which are one image element."""
    return next(image.captions for image in at.image if "Your image" in image.captions)


def test_first_visit_shows_a_sample_that_suits_the_model_and_leaves_the_link_as_it_was(page) -> None:
    import models
    from cnnviz.datasets import samples

    at = page(model="cifar_cnn")
    assert chosen(at) == {"source": "sample", "name": "cat"}
    assert at.query_params == {"model": "cifar_cnn"}  # the default sample needs no word in the link
    expected = models.transform("cifar_cnn")(samples.load("cat"))
    assert at.session_state["test.x"].shape == (3, 32, 32)
    assert np.allclose(at.session_state["test.x"].numpy(), expected.numpy(), atol=1e-6)
    assert steps(at) == ["Your image", "Centre cut out", "What the model sees"]  # one element, titled under each
    assert "- **What the model sees**: Tensor 3×32×32" in " ".join(c.value for c in at.caption)


def test_a_link_to_a_sample_opens_it(page) -> None:
    at = page(model="cifar_cnn", img="sample:coffee")
    assert chosen(at) == {"source": "sample", "name": "coffee"}
    assert at.selectbox(key="img.sample").value == "coffee"
    run(at.selectbox(key="img.sample").set_value("rocket"))
    assert chosen(at)["name"] == "rocket" and at.query_params["img"] == "sample:rocket"


def test_a_bad_link_falls_back_to_a_sample(page) -> None:
    at = page(model="nonsense", img="test:../../etc:passwd")
    assert at.session_state["test.model"] == "mnist_cnn"  # the zoo's first model
    assert chosen(at)["source"] == "sample"
    assert any("not one this app knows" in t.value for t in at.toast)


def test_a_link_naming_a_folder_elsewhere_reads_and_writes_nothing_there(page, tmp_path: Path) -> None:
    outside = tmp_path / "x"  # a folder of the shape a data set has, outside the data folder
    for split in ("train", "test"):
        (outside / split / "cat").mkdir(parents=True)
        Image.new("RGB", (32, 32), (255, 0, 0)).save(outside / split / "cat" / "0.png")
    before = sorted(outside.rglob("*"))
    at = page(model="cifar_cnn", img=f"test:{outside}:0")
    assert chosen(at)["source"] == "sample"
    assert any("not one this app knows" in t.value for t in at.toast)
    assert sorted(outside.rglob("*")) == before  # no tensor cache written beside it


def test_mnist_models_show_every_digit_step_and_feed_their_result(page) -> None:
    import models
    from cnnviz.datasets import digits, samples

    at = page(model="mnist_cnn")
    assert chosen(at) == {"source": "sample", "name": "digit_3"}
    assert steps(at) == ["Your image", "1. Grayscale", "2. Inverted", "3. Paper removed", "4. Cropped",
                         "5. Fitted in 20×20", "6. Centred in 28×28", "What the model sees"]
    expected = models.transform("mnist_cnn")(digits.prepare(samples.load("digit_3")).image)
    assert np.allclose(at.session_state["test.x"].numpy(), expected.numpy(), atol=1e-6)


# ---- uploads and the camera --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,mime", [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_upload_a_real_image(page, fmt: str, mime: str) -> None:
    at = page(model="cifar_cnn")
    upload(at, f"my photo.{fmt.lower()}", encode(photo(), fmt), mime)
    assert not errors(at)
    assert chosen(at)["source"] == "upload" and chosen(at)["name"] == f"my photo.{fmt.lower()}"
    assert at.session_state["test.image"].size == (300, 200)
    assert "img" not in at.query_params  # uploads never go into links
    x = at.session_state["test.x"]
    assert x.shape == (3, 32, 32)
    red = x[0].numpy()  # the red ramp runs left to right in the normalised tensor too
    assert red[:, -1].mean() > red[:, 0].mean() + 2


@pytest.mark.parametrize("name,data,says", [
    ("homework.png", b"My homework: a CNN has convolution layers\n" * 3, "text, not a picture"),
    ("empty.png", b"", "empty"),
    ("cut.jpg", encode(photo(), "JPEG")[:2000], "cut off"),
])
def test_a_bad_upload_shows_an_error_and_keeps_the_previous_image(page, name: str, data: bytes, says: str) -> None:
    at = page(model="cifar_cnn")
    upload(at, "good.png", encode(photo(), "PNG"), "image/png")
    upload(at, name, data, "image/png")
    assert len(errors(at)) == 1 and says in errors(at)[0] and name in errors(at)[0]
    assert chosen(at)["name"] == "good.png"  # the page keeps working with the last good image
    assert at.session_state["test.x"].shape == (3, 32, 32)


def test_a_decompression_bomb_upload_is_refused(page) -> None:
    from tests.test_images import bomb_png

    at = page(model="mnist_cnn")
    upload(at, "bomb.png", bomb_png(), "image/png")
    assert "megapixel" in errors(at)[0]
    assert chosen(at) == {"source": "sample", "name": "digit_3"}


def test_camera_photo(page) -> None:
    at = page(model="cifar_cnn")
    run(at.radio(key="img.source").set_value("camera"))
    assert chosen(at)["source"] == "sample"  # nothing taken yet: the previous image stays
    at.camera_input(key="img.camera").upload("photo.jpg", encode(photo(640, 480), "JPEG"))
    run(at)
    assert chosen(at)["source"] == "camera" and at.session_state["test.image"].size == (640, 480)


def test_the_choice_survives_a_page_without_the_picker(page) -> None:
    """Leaving a page drops its widgets' state; the chosen image and its source must come back."""
    at = page(model="cifar_cnn")
    upload(at, "keep me.png", encode(photo(), "PNG"), "image/png")
    at.session_state["test.show_picker"] = False
    run(at)
    assert "img.source" not in at.session_state
    at.session_state["test.show_picker"] = True
    run(at)
    assert chosen(at)["name"] == "keep me.png"
    assert at.radio(key="img.source").value == "upload"


# ---- the test set ------------------------------------------------------------------------------------------

@needs_data("cifar10")
def test_a_test_set_image_by_class_and_number(page) -> None:
    from cnnviz.datasets import data

    test = data.load("cifar10", "test", download=False)
    at = page(model="cifar_cnn", img="test:cifar10:1234")
    label = int(test.labels[1234])
    assert at.selectbox(key="img.class").value == label
    members = (test.labels == label).nonzero().flatten().tolist()
    assert at.number_input(key="img.number").value == members.index(1234)
    assert np.array_equal(np.asarray(at.session_state["test.image"]), test.images[1234].permute(1, 2, 0).numpy())
    number = at.number_input(key="img.number").value
    run(at.selectbox(key="img.class").set_value(3))  # cat: the same image number, in the new class
    cat = (test.labels == 3).nonzero().flatten().tolist()[number]
    assert chosen(at) == {"source": "test", "dataset": "cifar10", "index": cat, "label": "cat"}
    assert at.query_params["img"] == f"test:cifar10:{cat}"
    run(at.number_input(key="img.number").set_value(5))
    assert chosen(at)["index"] == (test.labels == 3).nonzero().flatten().tolist()[5]


@needs_data("cifar10")
def test_an_image_chosen_on_another_page_is_shown(page) -> None:
    """The Evaluate page sets the shared key and switches page: the picker follows it."""
    at = page(model="cifar_cnn")
    at.session_state["cnnviz.image"] = {"source": "test", "dataset": "cifar10", "index": 42}
    run(at)
    assert at.radio(key="img.source").value == "test"
    assert chosen(at)["index"] == 42 and at.query_params["img"] == "test:cifar10:42"


def test_missing_test_data_gives_a_clear_message(page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import state

    monkeypatch.setenv("CNNVIZ_DATA_DIR", str(tmp_path / "nothing here"))
    monkeypatch.setenv("CNNVIZ_DOWNLOAD", "0")
    state.dataset.clear()
    try:
        at = page(model="cifar_cnn")
        run(at.radio(key="img.source").set_value("test"))
        assert any("not on this computer" in i.value for i in at.info)
        assert chosen(at) == {"source": "sample", "name": "cat"}  # still an image to work with
        assert at.session_state["test.image"] is not None
    finally:
        state.dataset.clear()


# ---- drawing pad, teacher mode, model picker ----------------------------------------------------------------

def test_the_drawing_pad_renders_and_its_pixels_land_on_the_right_background(page) -> None:
    from app.widgets import canvas_image

    at = page(model="mnist_cnn")
    run(at.radio(key="img.source").set_value("drawing"))
    assert at.radio(key="img.ink").value == "black on white"
    strokes = np.zeros((280, 280, 4), np.uint8)
    strokes[100:180, 130:150] = (255, 255, 255, 255)  # a white stroke on a transparent canvas
    dark = np.asarray(canvas_image(strokes, dark=True))
    assert dark[0, 0] == 0 and dark[140, 140] == 255
    strokes[..., :3] = 0  # the same stroke in black ink
    light = np.asarray(canvas_image(strokes, dark=False))
    assert light[0, 0] == 255 and light[140, 140] == 0


def test_teacher_mode_can_hide_the_picker(page) -> None:
    at = page(model="cifar_cnn", img="sample:rocket", hide="img")
    assert not [r for r in at.radio if r.key == "img.source"]
    assert chosen(at)["name"] == "rocket" and at.session_state["test.image"] is not None


def test_teacher_mode_can_lock_the_picker(page) -> None:
    at = page(model="cifar_cnn", lock="img,model")
    assert at.radio(key="img.source").disabled and at.selectbox(key="img.sample").disabled
    assert at.selectbox(key="model").disabled


def test_model_picker_lists_runs_with_a_checkpoint_and_returns_their_path(page) -> None:
    import models
    from cnnviz.training import checkpoint, runs

    run_dir = runs.Run.create("my first cnn")
    run_dir.update(config={"model": "mnist_cnn", "dataset": "mnist"})
    entry = models.ZOO["mnist_cnn"]
    checkpoint.save(run_dir.checkpoint, models.build("mnist_cnn"), {
        "arch": "mnist_cnn", "arch_args": {}, "dataset": "mnist", "input_shape": list(entry.input_shape),
        "classes": list(entry.classes), "mean": [0.5], "std": [0.25]})
    runs.Run.create("no checkpoint yet").update(config={"model": "cifar_cnn"})

    at = page(model="cifar_cnn")
    options = at.selectbox(key="model").options
    assert any(o.startswith(f"Your run: {run_dir.name}") for o in options)
    assert not any("no-checkpoint-yet" in o for o in options)
    run(at.selectbox(key="model").set_value(f"run:{run_dir.name}"))
    assert at.session_state["test.model"] == str(run_dir.checkpoint)
    assert at.query_params["model"] == f"run:{run_dir.name}"
    # the run's own normalisation (mean 0.5, std 0.25) is applied after the MNIST steps
    x = at.session_state["test.x"]
    assert x.shape == (1, 28, 28) and float(x.min()) == pytest.approx(-2.0)


def test_switching_from_a_digit_model_to_a_photo_model_starts_from_its_own_sample_and_says_so(page) -> None:
    at = page(model="mnist_cnn")
    assert chosen(at) == {"source": "sample", "name": "digit_3"}
    at = run(at.selectbox(key="model").set_value("cifar_cnn"))
    assert chosen(at) == {"source": "sample", "name": "cat"}
    (note,) = [i.value for i in at.info if "is for MNIST models" in i.value]
    assert "**Handwritten 3 on paper" in note and "starts from **Chelsea the cat**" in note
    at = run(at.selectbox(key="model").set_value("mnist_cnn"))  # and back: the digit again
    assert chosen(at) == {"source": "sample", "name": "digit_3"}


def test_a_link_that_shows_a_photo_model_a_digit_on_purpose_keeps_it(page) -> None:
    at = page(model="cifar_cnn", img="sample:digit_7")
    at = run(at)  # a second run of the same page: nothing switched
    assert chosen(at) == {"source": "sample", "name": "digit_7"}
    assert not [i for i in at.info if "is for" in i.value]


def test_the_students_own_picture_stays_when_the_model_changes(page) -> None:
    at = upload(page(model="mnist_cnn"), "mine.png", encode(photo(), "PNG"), "image/png")
    at = run(at.selectbox(key="model").set_value("cifar_cnn"))
    assert chosen(at)["source"] == "upload"


@needs_data("cifar10")
def test_a_test_image_of_another_data_set_gives_way_to_the_new_models_sample(page) -> None:
    at = page(model="cifar_cnn", img="test:cifar10:5")
    at = run(at.selectbox(key="model").set_value("mnist_cnn"))
    assert chosen(at) == {"source": "sample", "name": "digit_3"}
    assert any("Test image 5 of CIFAR-10" in i.value and "is for CIFAR-10 models" in i.value for i in at.info)
