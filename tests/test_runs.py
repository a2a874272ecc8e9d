"""Run folders: names that stay inside the runs folder, atomic JSON, history as CSV, listing."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz import paths
from cnnviz.training import runs
from cnnviz.training.runs import HISTORY_FIELDS, Run, list_runs

NASTY = ["../../etc/passwd", "..", ".", "/abs/path", "a/../../b", "..\\..\\win", "~root", "", "   ", "name\x00nul",
         "ünïcödé name", "x" * 500, "-rf", ".hidden"]


@pytest.mark.parametrize("name", NASTY)
def test_run_names_cannot_escape_the_runs_folder(tmp_path: Path, name: str) -> None:
    root = tmp_path / "runs"
    run = Run.create(name, root=root)
    assert run.path.parent == root.resolve()
    assert run.path.is_dir()
    assert len(run.name) < 100
    assert not run.name.startswith(".")


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=80))
def test_safe_name_is_a_single_plain_path_component(name: str) -> None:
    safe = runs.safe_name(name)
    assert safe and safe not in (".", "..")
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert Path(safe).name == safe and not safe.startswith((".", "-"))


def test_two_runs_with_the_same_name_get_two_folders(tmp_path: Path) -> None:
    a, b = Run.create("same", root=tmp_path), Run.create("same", root=tmp_path)
    assert a.path != b.path and a.path.is_dir() and b.path.is_dir()


def test_default_root_is_the_runs_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_RUNS_DIR", str(tmp_path / "elsewhere"))
    run = Run.create("env")
    assert run.path.parent == (tmp_path / "elsewhere").resolve() == paths.runs_dir().resolve()


def test_update_merges_and_history_round_trips(tmp_path: Path) -> None:
    run = Run.create("r", root=tmp_path)
    assert run.info() == {} and run.history() == []
    run.update(status="running", config={"lr": 0.1})
    run.update(status="finished", metrics={"test_acc": 0.5})
    assert run.info() == {"status": "finished", "config": {"lr": 0.1}, "metrics": {"test_acc": 0.5}}
    history = [{"epoch": 1, "train_loss": 1.5, "train_acc": 0.4, "val_loss": 1.2, "val_acc": 0.5, "lr": 0.1,
                "seconds": 3.0}]
    run.write_history(history)
    assert run.history() == history
    assert not [p for p in run.path.iterdir() if ".tmp" in p.name]  # temporary files were renamed into place


def test_history_csv_has_the_fields_in_order(tmp_path: Path) -> None:
    run = Run.create("csv", root=tmp_path)
    run.write_history([{"epoch": e, "train_loss": 1 / e, "train_acc": 0.1 * e, "val_loss": 2 / e, "val_acc": 0.2 * e,
                        "lr": 0.01, "seconds": 1.0, "extra": "ignored"} for e in (1, 2)])
    rows = list(csv.DictReader(io.StringIO(run.history_csv())))
    assert list(rows[0]) == list(HISTORY_FIELDS)
    assert [float(r["val_acc"]) for r in rows] == [0.2, 0.4]


def test_list_runs_newest_first_skipping_folders_without_run_json(tmp_path: Path) -> None:
    older = Run(tmp_path / "20240101-000000-a")
    newer = Run(tmp_path / "20250101-000000-b")
    for r in (older, newer):
        r.path.mkdir()
        r.update(status="finished")
    (tmp_path / "20260101-000000-empty").mkdir()
    assert [r.name for r in list_runs(tmp_path)] == [newer.name, older.name]
    assert list_runs(tmp_path / "missing") == []


def test_a_run_knows_when_it_was_created(tmp_path: Path) -> None:
    from datetime import datetime, timedelta

    before = datetime.now().replace(microsecond=0)
    run = Run.create("when", root=tmp_path)
    assert before <= run.created <= datetime.now() + timedelta(seconds=1)
    assert Run(tmp_path / "20260102-030405-cli").created == datetime(2026, 1, 2, 3, 4, 5)
    assert Run(tmp_path / "copied-by-hand").created is None
