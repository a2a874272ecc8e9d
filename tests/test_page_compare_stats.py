"""The Compare page's "Is the difference real?" panel under AppTest: runs with known final figures are written into
the test's runs folder, and the z-score, Welch's t, df and p on screen are checked against scipy and by hand; the
button's seeds train for real, through the Train page's job, one at a time."""
from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import Any

import pytest
from scipy import stats
from streamlit.testing.v1 import AppTest

from cnnviz.results import compare
from cnnviz.training import train
from cnnviz.training.runs import Run, list_runs
from tests.conftest import ROOT, needs_data

PAGE = str(ROOT / "app" / "lessons" / "compare.py")
RECIPE = asdict(train.TrainConfig("cifar10", "cifar_cnn", epochs=4, train_limit=2000, augment=("flip",)))
A = [0.612, 0.634, 0.621, 0.640]  # flip only
B = [0.652, 0.668, 0.649]         # flip + crop
TINY = asdict(train.TrainConfig("mnist", "mnist_cnn", optimizer="sgd", lr=0.05, batch_size=32, epochs=1,
                                schedule="none", augment=(), train_limit=320, test_limit=200))


def write_run(config: dict[str, Any], seed: int, status: str = "finished", **metrics: float) -> Run:
    """A run folder as training leaves it (no owner: made outside the app, so every session lists it)."""
    run = Run.create(f"{config['model']}-seed{seed}")
    run.update(config={**config, "seed": seed}, status=status, metrics=metrics)
    run.write_history([{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.5}])
    return run


CROP = {**RECIPE, "augment": ["flip", "crop"]}


def two_recipes() -> None:
    for seed, acc in enumerate(A):
        write_run(RECIPE, seed, test_acc=acc, val_acc=acc + 0.01, train_loss=0.9)
    write_run(RECIPE, len(A), status="diverged")  # no final figures: left out
    for seed, acc in enumerate(B):
        write_run(CROP, seed, test_acc=acc, val_acc=acc + 0.01, train_loss=0.9)


def opened(a: dict[str, Any], b: dict[str, Any]) -> AppTest:
    """The page with recipe `a` as A and recipe `b` as B."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    at.selectbox(key="stats_a").set_value(compare.config_key(a))
    at.selectbox(key="stats_b").set_value(compare.config_key(b)).run()
    assert not at.exception
    return at


def shown(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def as_number(text: str) -> float:
    return float(text.replace("−", "-"))


def test_the_tests_on_screen_equal_scipy_and_the_hand_computed_z() -> None:
    two_recipes()
    at = opened(RECIPE, CROP)
    assert any("**A** cifar_cnn on cifar10: augment flip · **B** cifar_cnn on cifar10: augment flip+crop" in c.value
               for c in at.caption)
    assert at.selectbox(key="stats_metric").value == "test_acc"
    options = at.selectbox(key="stats_a").options  # the student's recipes by what differs; a shipped model by name
    assert options[:2] == ["cifar_cnn on cifar10: augment flip · 5 runs",
                           "cifar_cnn on cifar10: augment flip+crop · 3 runs"]
    assert "📦 shipped cifar_cnn · 1 run" in options
    welch = stats.ttest_ind(A, B, equal_var=False)
    z = (stats.tmean(A) - stats.tmean(B)) / math.hypot(stats.tstd(A), stats.tstd(B))
    assert as_number(shown(at, "z-score")) == pytest.approx(z, abs=5e-4)
    assert as_number(shown(at, "Welch's t")) == pytest.approx(welch.statistic, abs=5e-4)
    assert as_number(shown(at, "degrees of freedom")) == pytest.approx(welch.df, abs=5e-3)
    assert as_number(shown(at, "p-value")) == pytest.approx(welch.pvalue, rel=5e-3)
    assert shown(at, "A: mean ± std (n = 4)") == f"{stats.tmean(A):.4f} ± {stats.tstd(A):.4f}"
    assert shown(at, "B: mean ± std (n = 3)") == f"{stats.tmean(B):.4f} ± {stats.tstd(B):.4f}"
    assert any("Left out: 1 run diverged" in c.value for c in at.caption)
    assert welch.pvalue < 0.05 and at.success[0].value.startswith("**A against B.** test accuracy: a difference of")
    assert "distinguishable from luck" in at.success[0].value
    assert all(m.help and len(m.help) > 60 for m in at.metric)  # every term says what it means


def test_another_figure_gives_its_own_test() -> None:
    two_recipes()
    at = opened(RECIPE, CROP)
    at.selectbox(key="stats_metric").set_value("val_acc").run()
    welch = stats.ttest_ind([a + 0.01 for a in A], [b + 0.01 for b in B], equal_var=False)
    assert as_number(shown(at, "Welch's t")) == pytest.approx(welch.statistic, abs=5e-4)
    assert at.success[0].value.startswith("**A against B.** validation accuracy:")
    assert at.selectbox(key="stats_metric").options == ["test accuracy", "validation accuracy", "training loss"]


def test_a_lone_run_asks_for_more_and_equal_runs_give_no_p() -> None:
    write_run(RECIPE, 0, test_acc=0.62)
    for seed in range(3):
        write_run({**RECIPE, "lr": 0.01}, seed, test_acc=0.6)
    at = opened({**RECIPE, "lr": 0.01}, RECIPE)
    text = " ".join(w.value for w in at.warning)
    assert "A spread needs at least 2 runs: recipe B has 1" in text
    assert shown(at, "Welch's t") == "–" and shown(at, "p-value") == "–"
    assert "one run cannot tell a real difference from luck" in at.info[0].value
    assert at.button(key="queue_B").label == "▶ Queue 2 more runs of recipe B (seeds 1, 2)"
    assert not any(b.key == "queue_A" for b in at.button)  # 3 runs already
    for seed in (1, 2):
        write_run(RECIPE, seed, test_acc=0.62)
    at.run()
    assert "every run of each gave exactly the same value" in at.info[0].value
    assert shown(at, "z-score") == "–" and shown(at, "p-value") == "–"  # no spread: nothing to divide by


def test_a_recipe_over_this_copys_caps_is_not_offered_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_EPOCHS", "2")
    two_recipes()
    at = opened(RECIPE, CROP)
    at.number_input(key="stats_n").set_value(5).run()
    assert not any(b.key.startswith("queue_") for b in at.button)
    assert any("asks for more epochs or images than this copy allows" in c.value for c in at.caption)


def wait_for_runs(at: AppTest, count: int, timeout: float = 120) -> None:
    """Rerun the page (what its 1-second fragment does in the browser) until `count` runs have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception
        if sum(r.info().get("status") == "finished" for r in list_runs()) >= count:
            job = at.session_state["train.job"]
            if job.done and not at.session_state["compare.queue"]:
                at.run()
                return
    raise AssertionError("the queued runs did not end in time")


@needs_data("mnist")
@pytest.mark.data
def test_the_button_trains_the_missing_seeds_one_at_a_time_and_they_join_their_recipe() -> None:
    write_run(TINY, 0, test_acc=0.5)
    write_run({**TINY, "lr": 0.01}, 0, test_acc=0.4)
    at = opened(TINY, {**TINY, "lr": 0.01})
    at.number_input(key="stats_n").set_value(3).run()
    assert at.button(key="queue_A").label.endswith("(seeds 1, 2)")
    at.button(key="queue_A").click().run()
    assert not at.exception
    assert len(at.session_state["compare.queue"]) == 1  # one run at a time per session: seed 1 trains, 2 waits
    assert at.session_state["train.job"].config.seed == 1
    assert any("Waiting, one run at a time per session: seed 2 of A" in c.value for c in at.caption)
    wait_for_runs(at, 4)
    runs = list_runs()
    same = [r for r in runs if compare.config_key(r.info()["config"]) == compare.config_key(TINY)]
    assert sorted(r.info()["config"]["seed"] for r in same) == [0, 1, 2]
    assert all(r.info()["owner"] == at.session_state["cnnviz.session"] for r in same if r.info().get("owner"))
    assert any(m.label.startswith("A: mean ± std (n = 3)") for m in at.metric)  # the new runs joined recipe A
    assert not any(b.key == "queue_A" for b in at.button)


@needs_data("mnist")
@pytest.mark.data
def test_the_queue_is_bounded_per_session_and_says_so() -> None:
    write_run(TINY, 0, test_acc=0.5)
    write_run({**TINY, "lr": 0.01}, 0, test_acc=0.4)
    at = opened(TINY, {**TINY, "lr": 0.01})
    at.number_input(key="stats_n").set_value(5).run()
    at.button(key="queue_A").click().run()  # seeds 1-4: one starts, three wait
    at.button(key="queue_B").click().run()  # two more fit, two do not
    note = " ".join(w.value for w in at.warning)
    assert "The queue holds at most 5 runs per session, so seeds 3, 4 of B" in note
    assert len(at.session_state["compare.queue"]) == 5
    at.button(key="queue_clear").click().run()
    assert at.session_state["compare.queue"] == []
    at.session_state["train.job"].stop()


def test_the_train_pages_compare_link_opens_the_run_just_finished_selected_beside_its_shipped_model() -> None:
    from app.views.train import compare_picks

    run = write_run(asdict(train.TrainConfig("cifar10", "cifar_cnn", epochs=1)), 0, test_acc=0.5)
    other = write_run(RECIPE, 1, test_acc=0.6)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["pick"] = compare_picks(run)
    at.run()
    assert not at.exception
    assert at.session_state["pick"] == [run.name, "zoo: cifar_cnn"] and other.name not in at.session_state["pick"]
