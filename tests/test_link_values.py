"""Every value a link can carry, on every page (AppTest through app/main.py): none crashes a page, and one that a
control cannot show falls back, or to the nearest end, with the note "The link's value `k=v` is not possible here"."""
from __future__ import annotations

import functools
import re
import textwrap
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz.lessons import kernels
from tests.conftest import ROOT, needs_data

MAIN = str(ROOT / "app" / "main.py")
PAGES = sorted(p.name for p in (ROOT / "app" / "lessons").glob("*.py"))
PICKERS = ("model", "model_b", "img")  # URL keys of the shared pickers (app/widgets.py), beside urlstate's own
VALUES = {"huge": "100000", "negative": "-3", "junk": "junk%$"}
NUMBER = re.compile(r"-?\d+(\.\d+)?")
CRASH = re.compile(r"Traceback|\b\w+(Error|Exception)\b")
# Parts of a page that only a setting opens (their controls are drawn nowhere else), reached with these values
PARTS = {
    "inside.py": [{"view": v} for v in ("closeup", "filters", "gradcam",
                                        "compare")],
    "arithmetic.py": [{"split": "1"}, {"op": "transposed", "split": "1"}, {"part": "solve"},
                      {"part": "solve", "sop": "maxpool"}, {"part": "table"}, {"part": "table", "src": "zoo"},
                      {"part": "groups"}, {"part": "groups", "gkind": "separable"}],
    "evaluate.py": [{"compare": "1"}],
    "filters_on_image.py": [{"src": "picture"}],
    "pooling.py": [{"pool": "avg"}],
}
CAM = "gradcam"


@pytest.fixture(autouse=True)
def _few_test_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Evaluate page runs its model on the first 500 test images only (fast; the galleries still fill)."""
    monkeypatch.setenv("CNNVIZ_EVAL_LIMIT", "500")


def open_page(name: str, **link: str) -> AppTest:
    """A new session on app/lessons/<name>, opened with `link` as its query string, run once."""
    at = AppTest.from_file(MAIN, default_timeout=180)
    at.query_params.update(link)
    at.switch_page(f"lessons/{name}")
    return at.run()


def crashes(at: AppTest) -> list[str]:
    """Exceptions the run raised, and error boxes that show one (a traceback or an exception's name)."""
    return [e.message for e in at.exception] + [e.value for e in at.error if CRASH.search(e.value)]


def toasts(at: AppTest) -> list[str]:
    return [t.value for t in at.toast]


def noted(at: AppTest, key: str, raw: str) -> bool:
    """Whether a toast says that the link's `key=raw` is not possible here."""
    return any(f"`{key}={raw}` is not possible here" in t for t in toasts(at))


@functools.cache
def link_keys(name: str) -> tuple[tuple[str, str], ...]:
    """The page's URL keys with their defaults as URL text (what urlstate.init seeded), found by opening it once."""
    at = open_page(name)
    assert not crashes(at), (name, crashes(at))
    return tuple(at.session_state["_urlstate_keys"].items()) if "_urlstate_keys" in at.session_state else ()


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("name", PAGES)
def test_every_key_of_a_link_out_of_range_never_crashes_a_page(name: str, value: str) -> None:
    """All the page's keys (and the pickers') set to one impossible value; again in each part a setting opens.

    A number or switch the page cannot show is never taken silently: the address keeps what the link said (the
    control took it), or a toast says it is not possible.
    """
    raw = VALUES[value]
    defaults = dict(link_keys(name))
    checked = [k for k, d in defaults.items() if NUMBER.fullmatch(d)]  # numbers and switches (0/1)
    for part in [{}, *PARTS.get(name, [])]:
        link = {key: raw for key in [*defaults, *PICKERS]} | part
        at = open_page(name, **link)
        assert not crashes(at), (name, part, crashes(at))
        silent = [k for k in checked if k not in part and at.query_params.get(k) != raw and not noted(at, k, raw)]
        assert not silent, (name, part, f"{silent} dropped {raw!r} without a note", toasts(at))


# ---- the audit's examples, and ranges known only once the page runs ---------------------------------------

@pytest.mark.parametrize("raw, view", [("5", CAM), ("-3", CAM), ("-3", "compare")])
def test_inside_an_opacity_outside_0_to_1_shows_the_default_with_a_note(raw: str, view: str) -> None:
    at = open_page("inside.py", view=view, opacity=raw)
    assert not crashes(at), crashes(at)
    assert at.session_state["opacity"] == 0.5
    if view == CAM:
        assert at.slider(key="opacity").value == 0.5
    assert noted(at, "opacity", raw), toasts(at)
    assert at.query_params["opacity"] == "0.5"  # the address is corrected too


@pytest.fixture
def toy_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A three-class image folder as the only data set (no real data needed); the explorer's caches cleared."""
    from app import state

    for cls, colour in {"apple": (255, 0, 0), "kiwi": (0, 255, 0), "sky": (0, 0, 255)}.items():
        for split, n in (("train", 12), ("test", 3)):
            folder = tmp_path / "toy" / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (8, 8), colour).save(folder / f"{i}.png")
    monkeypatch.setenv("CNNVIZ_DATA_DIR", str(tmp_path))
    caches = (state.dataset, state.explore_splits)
    for cache in caches:
        cache.clear()
    yield
    for cache in caches:
        cache.clear()


@pytest.mark.parametrize("key, raw, shown", [("per_class", "100000", 8), ("per_class", "-3", 8), ("seed", "-3", 0),
                                             ("cls", "zebra", "all classes"), ("split", "validation!", "train")])
def test_dataset_a_value_outside_its_control_shows_the_default_with_a_note(toy_data, key: str, raw: str,
                                                                          shown: object) -> None:
    at = open_page("dataset.py", **{key: raw})
    assert not crashes(at), crashes(at)
    assert at.session_state[key] == shown
    if key == "per_class":
        assert at.slider(key="per_class").value == shown
    assert noted(at, key, raw), toasts(at)


def test_dataset_a_class_of_the_data_set_is_taken_without_a_note(toy_data) -> None:
    at = open_page("dataset.py", cls="kiwi", per_class="16")
    assert not crashes(at) and not toasts(at), (crashes(at), toasts(at))
    assert at.selectbox(key="cls").value == "kiwi" and at.slider(key="per_class").value == 16


@pytest.mark.parametrize("name", ["convolution.py", "pooling.py", "transposed.py"])
def test_a_step_past_the_last_shows_the_last_with_a_note(name: str) -> None:
    at = open_page(name, step="9999")
    assert not crashes(at), crashes(at)
    last = at.select_slider(key="step").options[-1]
    assert at.session_state["step"] == at.select_slider(key="step").value == int(last.split(":")[0]) - 1
    assert noted(at, "step", "9999"), toasts(at)


def test_a_grid_number_too_large_for_a_cell_falls_back_to_the_preset_with_a_note() -> None:
    huge = str(10**30)  # past int64: parsing it into the grid used to raise OverflowError
    at = open_page("convolution.py", x=f"1,2;{huge}", w="1,0,-1")
    assert not crashes(at), crashes(at)
    assert at.session_state["x"] == "" and noted(at, "x", f"1,2;{huge}"), toasts(at)
    assert at.session_state["w"] != ""  # the readable kernel is kept
    assert kernels.from_text(f"{kernels.CELLS.stop}", (1, 1, 1)) is None
    assert kernels.from_text(f"{kernels.CELLS.stop - 1}", (1, 1, 1)).item() == kernels.CELLS.stop - 1


@pytest.mark.parametrize("link, key, shown", [
    ({"view": "closeup", "ch": "100000"}, "ch", 0),
    ({"view": "closeup", "layer": "nope"}, "layer", None),
    ({"view": CAM, "cam_class": "100000"}, "cam_class", -1),
    ({"view": CAM, "cam_layer": "nope"}, "cam_layer", ""),
    ({"view": "filters", "flayer": "nope"}, "flayer", None),
    ({"view": "nope"}, "view", "maps"),
])
def test_inside_a_layer_channel_or_class_the_model_lacks_falls_back_with_a_note(link: dict, key: str,
                                                                               shown: object) -> None:
    at = open_page("inside.py", **link)
    assert not crashes(at), crashes(at)
    if shown is not None:
        assert at.session_state[key] == shown
    assert at.session_state[key] != link[key]
    assert noted(at, key, link[key]), toasts(at)


def test_inside_a_test_image_past_the_end_or_a_junk_model_never_crashes() -> None:
    """The pickers' own checks (app/widgets.py): a warning for the image, the first zoo model for the model."""
    for link in ({"img": f"test:mnist:{10**12}"}, {"img": f"test:cifar10:{10**30}", "model": "cifar_cnn"},
                 {"img": "test:mnist:-3"}, {"img": "test::7"}, {"model": "junk%$"}, {"model": "run:../../etc"}):
        at = open_page("inside.py", **link)
        assert not crashes(at), (link, crashes(at))
        assert at.session_state["model"] in ("mnist_cnn", "cifar_cnn"), link


@pytest.mark.data
@needs_data("mnist")
def test_evaluate_a_gallery_page_past_the_end_shows_the_last_with_a_note() -> None:
    at = open_page("evaluate.py", model="mnist_cnn", gpage="100000", kind="correct")
    assert not crashes(at), crashes(at)
    pages = at.number_input(key="gpage").max
    assert at.session_state["gpage"] == at.number_input(key="gpage").value == pages > 1
    assert noted(at, "gpage", "100000"), toasts(at)


def test_train_a_copy_that_caps_the_training_images_refuses_a_links_0_all_with_a_note(monkeypatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_TRAIN_IMAGES", "5000")  # a hosted copy: the box then starts at 1
    at = open_page("train.py", limit="0")
    assert not crashes(at), crashes(at)
    assert at.number_input(key="limit").value == 5000 and noted(at, "limit", "0"), toasts(at)
    assert not toasts(open_page("train.py", limit="300"))


def test_train_a_network_for_another_data_set_is_refused_with_a_note() -> None:
    at = open_page("train.py", data="mnist", net="cifar_cnn")
    assert not crashes(at) and at.selectbox(key="net").value == "mnist_cnn" and noted(at, "net", "cifar_cnn")


def test_a_predicate_may_read_a_key_seeded_before_it() -> None:
    at = open_page("arithmetic.py", part="solve", sop="avgpool", unk="dilation")  # avg pooling has no dilation
    assert not crashes(at) and at.session_state["unk"] == "padding" and noted(at, "unk", "dilation"), toasts(at)
    at = open_page("arithmetic.py", part="solve", sop="maxpool", unk="dilation")
    assert not toasts(at) and at.radio(key="unk").value == "dilation"


# ---- urlstate's contract ----------------------------------------------------------------------------------

PAGE = textwrap.dedent("""
    import streamlit as st
    from app import urlstate

    SIZES = range(1, 9)
    urlstate.init({"size": 4, "cell": 0, "name": ""}, allowed={"size": SIZES, "cell": lambda c: c >= 0})
    st.slider("Size", SIZES.start, SIZES.stop - 1, key="size")
    cells = int(st.session_state["size"]) ** 2  # known only now
    urlstate.confine("cell", range(cells), cells - 1 if st.session_state["cell"] >= cells else 0)
    st.number_input("Cell", 0, cells - 1, key="cell")
    urlstate.publish()
""")


@pytest.fixture
def page(tmp_path: Path):
    script = tmp_path / "page.py"
    script.write_text(PAGE)

    def open_link(**link: str) -> AppTest:
        at = AppTest.from_file(str(script), default_timeout=30)
        at.query_params.update(link)
        return at.run()

    return open_link


def test_a_number_without_a_range_is_refused_when_the_page_is_written(tmp_path: Path) -> None:
    script = tmp_path / "unruled.py"
    script.write_text("from app import urlstate\n"
                      "urlstate.init({'size': 8, 'ok': 1, 'flip': False, 'text': ''}, allowed={'ok': range(3)})\n")
    at = AppTest.from_file(str(script)).run()
    assert at.exception and "['size']" in at.exception[0].message and "no range" in at.exception[0].message


def test_confine_clamps_a_links_value_with_a_note_and_keeps_a_good_one(page) -> None:
    at = page(size="3", cell="50")
    assert at.number_input(key="cell").value == 8 and noted(at, "cell", "50")
    assert at.query_params["cell"] == "8"
    at = page(size="3", cell="5")
    assert at.number_input(key="cell").value == 5 and not toasts(at)


def test_confine_is_silent_when_the_student_not_the_link_made_the_value_impossible(page) -> None:
    at = page(size="8", cell="60")
    assert not toasts(at) and at.number_input(key="cell").value == 60
    at.slider(key="size").set_value(2).run()  # 4 cells now: the student's own change, not the link
    assert not at.exception and at.number_input(key="cell").value == 3 and not toasts(at)


def test_a_view_is_named_by_a_word_in_links_and_an_emoji_label_is_refused_like_any_other_value() -> None:
    at = open_page("inside.py", model="cifar_cnn", img="sample:cat", view="gradcam")
    assert not at.exception and at.session_state["view"] == "gradcam"
    assert any("**Grad-CAM** asks" in m.value for m in at.markdown)
    at = open_page("inside.py", model="cifar_cnn", img="sample:cat", view="🔥 Where it looks")
    assert not at.exception and at.session_state["view"] == "maps"
    assert any("view" in t.value for t in at.toast)
