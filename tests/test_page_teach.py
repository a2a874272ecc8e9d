"""The Teach page under AppTest: pictures in the session, training, the hold-out result, and the taught model opened
on Evaluate, Inside a model and What a channel learned in the same session, and without its pictures in another."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import models
from app import state
from app.views import teach as view
from cnnviz.training.runs import list_runs
from tests.conftest import ROOT
from tests.test_teach import squares

pytestmark = pytest.mark.skipif(not models.ZOO["cifar_cnn_plus"].checkpoint.is_file(),
                                reason="cifar_cnn_plus not trained yet")
TOKEN = "0123456789abcdef0123456789abcdef"  # the browser's run key, the same in both sessions of one browser


def page(path: str, token: str = TOKEN) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=180)
    at.session_state["cnnviz.session"] = token
    at.switch_page(path)
    return at


def given_pictures(at: AppTest, per_class: int = 12) -> None:
    """Pictures as the uploaders leave them: (id, PIL image) per class, in the session only."""
    found: dict[int, list] = {}
    for i, (picture, c) in enumerate(squares(per_class)):
        found.setdefault(c, []).append((f"shot-{i}", picture))
    at.session_state[view.PICTURES] = found


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.fixture
def taught() -> AppTest:
    """One session that named three classes, gave them pictures and trained."""
    at = page("lessons/teach.py").run()
    assert not at.exception, at.exception
    for i, name in enumerate(["red", "green", "blue"]):
        at.text_input(key=f"teach.name.{i}").set_value(name)
    given_pictures(at)
    at.run()
    train = next(b for b in at.button if b.label.startswith("🏋️ Train"))
    assert not train.disabled
    train.click().run()
    assert not at.exception, at.exception
    return at


def test_the_page_asks_for_pictures_before_it_trains() -> None:
    at = page("lessons/teach.py").run()
    assert not at.exception, at.exception
    assert next(b for b in at.button if b.label.startswith("🏋️ Train")).disabled
    assert any("at least 2 pictures" in i.value for i in at.info)
    assert any("Your pictures stay in this tab: close it and they are gone" in i.value for i in at.info)


def run_of_this_browser() -> str:
    runs = [r for r in list_runs() if r.info().get("owner") == TOKEN]
    assert len(runs) == 1 and runs[0].checkpoint.is_file()
    return runs[0].name


def test_training_shows_the_hold_out_and_every_page_opens_the_model_in_the_same_session(taught: AppTest) -> None:
    hold_out = metric(taught, "Hold-out accuracy")
    assert float(hold_out.rstrip("%")) >= 90
    run = run_of_this_browser()
    links = {e.proto.page.strip("/") for e in taught.get("page_link") if f"model=run%3A{run}" in e.proto.query_string}
    assert links == {"inside", "evaluate", "channels"}

    taught.query_params["model"] = f"run:{run}"  # as the link opens Evaluate
    taught.switch_page("lessons/evaluate.py").run()
    assert not taught.exception, taught.exception
    assert taught.selectbox(key="model").value == f"run:{run}"
    assert metric(taught, "Test images") == "9"  # the hold-out: a quarter of 3 x 12
    assert float(metric(taught, "Test accuracy").rstrip("%")) == pytest.approx(float(hold_out.rstrip("%")), abs=0.5)
    assert len(taught.get("vega_lite_chart")) >= 2  # per-class accuracy and the confusion matrix
    said = " ".join(c.value for c in taught.caption)
    assert "kept aside when you taught it" in said and "mine:" not in said  # words, not the internal name

    for lesson in ("inside", "channels", "projector"):
        taught.query_params["model"] = f"run:{run}"
        taught.query_params["steps"] = "32"
        taught.switch_page(f"lessons/{lesson}.py").run()
        assert not taught.exception, (lesson, taught.exception)
        assert not taught.error, (lesson, [e.value for e in taught.error])
        assert not [i for i in taught.info if state.GONE in i.value], lesson


def test_without_its_pictures_a_page_says_where_they_stayed_and_another_browser_never_lists_it(taught) -> None:
    run = run_of_this_browser()
    for lesson in ("evaluate", "channels", "projector", "inside"):
        at = page(f"lessons/{lesson}.py")  # a reload of the same browser: a new session, the same run key
        at.query_params.update({"model": f"run:{run}", "steps": "32"})
        at.run()
        assert not at.exception, (lesson, at.exception)
        assert at.selectbox(key="model").value == f"run:{run}"
        said = [i.value for i in at.info if "The pictures of this model stayed in the tab that taught it" in i.value]
        assert bool(said) == (lesson != "inside"), lesson  # Inside a model needs none of them

    at = page("lessons/evaluate.py", token="f" * 32)
    at.query_params["model"] = f"run:{run}"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="model").value != f"run:{run}"
