"""Links and jumps between lessons (app.nav) keep a teacher's projector view, and Back returns to the page left."""
from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

import models
from app import nav, urlstate
from app.widgets import IMAGE
from tests.conftest import ROOT, needs_data

TEACHER = {"teacher": "1", "lock": "stride,k", "hide": "pad"}  # a projector link's own parameters


def links_to(at: AppTest, stem: str) -> list[dict[str, list[str]]]:
    """The query of each link on the page to lesson `stem`, parsed."""
    return [parse_qs(e.proto.query_string) for e in at.get("page_link") if e.proto.page.strip("/") == stem]


def lesson(name: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "lessons" / f"{name}.py"), default_timeout=60)
    at.query_params.update(query)
    return at.run()


@pytest.mark.parametrize("query", [TEACHER, {"teacher": "1"}])
def test_a_link_to_another_lesson_keeps_the_projector_view(query: dict[str, str]) -> None:
    at = lesson("transposed", **query)
    assert not at.exception, at.exception
    found = links_to(at, "segment")
    assert found == [{k: [v] for k, v in query.items()}]


def test_a_link_without_teacher_mode_stays_bare() -> None:
    at = lesson("transposed", stride="1")
    assert links_to(at, "segment") == [{}]  # the lesson's own settings are not the next lesson's


def _open_from_learned() -> None:
    """A page of What it learned whose Inside button was pressed."""
    from app.views import learned
    learned.open_inside("mnist", 7, "mnist_cnn")


def test_the_learned_pages_open_inside_through_nav_go(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, str]]] = []
    monkeypatch.setattr(nav, "go", lambda stem, **query: calls.append((stem, query)))
    at = AppTest.from_function(_open_from_learned, default_timeout=60).run()
    assert not at.exception, at.exception
    assert calls == [("inside", {"img": "test:mnist:7", "model": "mnist_cnn"})]
    assert at.session_state[IMAGE] == {"source": "test", "dataset": "mnist", "index": 7}


def _back_here() -> None:
    """A page that calls nav.came_back, as Evaluate, What a channel learned and the projector do."""
    from app import nav
    nav.came_back()


@pytest.mark.parametrize("history, address, restored", [
    (True, {"img": "test:mnist:7", "teacher": "1"}, True),   # Back onto the step the switch left: the page left
    (False, {"img": "test:mnist:7", "teacher": "1"}, False),  # a link to that address is a link: it wins
    (True, {"img": "test:mnist:8", "teacher": "1"}, False),  # Back onto another step of the page's history
])
def test_back_returns_to_the_address_left_only_on_the_step_the_switch_left(
        monkeypatch: pytest.MonkeyPatch, history: bool, address: dict[str, str], restored: bool) -> None:
    left = {"layer": "conv2", "ch": "5", "teacher": "1"}
    monkeypatch.setattr(urlstate, "history_step", lambda: history)
    at = AppTest.from_function(_back_here)
    at.session_state[nav.LEFT] = ({"img": "test:mnist:7", "teacher": "1"}, left)
    at.query_params.update(address)
    at.run()
    assert not at.exception, at.exception
    assert dict(at.query_params) == (left if restored else address)


@pytest.mark.data
@needs_data("mnist")
@pytest.mark.skipif(not models.ZOO["mnist_cnn"].checkpoint.is_file(), reason="mnist_cnn checkpoint not trained yet")
def test_evaluate_opens_inside_in_teacher_mode_and_back_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_EVAL_LIMIT", "1000")
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=180)
    at.query_params.update({"model": "mnist_cnn", "kind": "correct", **TEACHER})
    at.switch_page("lessons/evaluate.py").run()
    assert not at.exception, at.exception
    left = dict(at.query_params)
    index = min(int(b.key.rsplit("-", 1)[1]) for b in at.button if b.key and b.key.startswith("gallery-"))
    at.button(key=f"gallery-{index}").click().run()
    assert not at.exception, at.exception
    assert any("Inside a model" in t.value for t in at.title)
    via = {"img": f"test:mnist:{index}", "model": "mnist_cnn", **TEACHER}
    assert dict(at.query_params) == via  # before: only img and model, and the sidebar came back on the projector

    monkeypatch.setattr(urlstate, "history_step", lambda: True)  # Back: the browser reruns Evaluate at that address
    at.switch_page("lessons/evaluate.py").run()
    assert not at.exception, at.exception
    assert dict(at.query_params) == left
