"""Run comparison maths against hand-computed values and the statistics module."""
from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnviz.results import compare
from cnnviz.training.runs import Run


def _history(*val_acc: float) -> list[dict[str, float]]:
    return [{"epoch": i + 1, "train_loss": 1.0 / (i + 1), "val_loss": 2.0 / (i + 1), "train_acc": a, "val_acc": a}
            for i, a in enumerate(val_acc)]


def _entry(label: str, seed: int = 0, lr: float = 0.05, history=None, **metrics: float) -> compare.Entry:
    config = {"dataset": "cifar10", "model": "cifar_cnn", "lr": lr, "batch_size": 128, "augment": ["flip"],
              "seed": seed}
    return compare.Entry(label, config, history or _history(0.5), metrics)


def test_band_is_mean_min_max_per_epoch_and_uses_the_runs_that_reached_an_epoch() -> None:
    histories = [_history(0.2, 0.4, 0.6), _history(0.4, 0.5), _history(0.3, 0.9, 0.8)]
    rows = compare.band(histories, "val_acc")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[0] == pytest.approx({"epoch": 1, "mean": 0.3, "min": 0.2, "max": 0.4, "n": 3})
    assert rows[1] == pytest.approx({"epoch": 2, "mean": 0.6, "min": 0.4, "max": 0.9, "n": 3})
    assert rows[2] == pytest.approx({"epoch": 3, "mean": 0.7, "min": 0.6, "max": 0.8, "n": 2})


def test_band_skips_nan_values() -> None:
    rows = compare.band([_history(0.2), _history(math.nan)], "val_acc")
    assert rows == [{"epoch": 1, "mean": 0.2, "min": 0.2, "max": 0.2, "n": 1}]


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=20))
def test_mean_std_matches_the_statistics_module(values: list[float]) -> None:
    mean, std = compare.mean_std(values)
    assert mean == pytest.approx(statistics.fmean(values), rel=1e-9, abs=1e-6)
    assert std == pytest.approx(statistics.stdev(values), rel=1e-6, abs=1e-6)


def test_mean_std_of_one_and_of_no_value() -> None:
    assert compare.mean_std([0.7]) == (0.7, 0.0)
    assert all(math.isnan(v) for v in compare.mean_std([]))


def test_config_key_ignores_only_the_seed() -> None:
    a, b, c = _entry("a", seed=0), _entry("b", seed=1), _entry("c", seed=0, lr=0.01)
    assert compare.config_key(a.config) == compare.config_key(b.config)
    assert compare.config_key(a.config) != compare.config_key(c.config)
    groups = compare.group_by_config([a, c, b])
    assert [[e.label for e in g] for g in groups.values()] == [["a", "b"], ["c"]]


def test_summary_rows_give_mean_and_sample_std_per_config() -> None:
    groups = compare.group_by_config([
        _entry("s0", seed=0, train_loss=0.5, train_acc=0.80, val_acc=0.70, test_acc=0.71),
        _entry("s1", seed=1, train_loss=0.7, train_acc=0.90, val_acc=0.74, test_acc=0.73),
        _entry("other", lr=0.01, train_loss=0.9, train_acc=0.6, val_acc=0.6, test_acc=0.61),
    ])
    first, second = compare.summary_rows(groups)
    assert first["seeds"] == 2 and first["runs"] == "s0, s1"
    assert first["test_acc_mean"] == pytest.approx(0.72)
    assert first["test_acc_std"] == pytest.approx(statistics.stdev([0.71, 0.73]))
    assert first["test_acc"] == "72.0 ± 1.4 %"
    assert first["train_loss"] == "0.6000 ± 0.1414"
    assert second["test_acc"] == "61.0 %" and second["seeds"] == 1
    assert first["configuration"] == "cifar_cnn on cifar10: lr 0.05"
    assert second["configuration"] == "cifar_cnn on cifar10: lr 0.01"


def test_summary_of_a_run_without_final_metrics_shows_a_dash() -> None:
    (row,) = compare.summary_rows(compare.group_by_config([_entry("killed")]))
    assert row["test_acc"] == "–" and math.isnan(row["test_acc_mean"])


def test_differences_name_only_what_varies() -> None:
    configs = [{"model": "m", "dataset": "d", "lr": 0.1, "augment": ["flip", "crop"], "seed": 0},
               {"model": "m", "dataset": "d", "lr": 0.1, "augment": [], "seed": 1}]
    assert compare.differences(configs) == ["m on d: augment flip+crop", "m on d: augment none"]
    assert compare.differences(configs[:1]) == ["m on d"]
    limits = [{"model": "m", "dataset": "d", "train_limit": 0}, {"model": "m", "dataset": "d", "train_limit": 500}]
    assert compare.differences(limits) == ["m on d: train_limit all", "m on d: train_limit 500"]


def test_long_rows_have_one_row_per_epoch_and_metric() -> None:
    rows = compare.long_rows([_entry("a", history=_history(0.1, 0.2))])
    assert len(rows) == 2 * 4
    assert {"run": "a", "epoch": 2, "metric": "val_acc", "split": "val", "kind": "acc", "value": 0.2} in rows


def test_entries_from_a_run_folder_and_a_model_card(tmp_path) -> None:
    run = Run.create("cmp", root=tmp_path)
    run.update(config={"model": "mnist_cnn", "dataset": "mnist", "seed": 3}, status="stopped",
               metrics={"test_acc": 0.9})
    run.write_history(_history(0.5, 0.6))
    entry = compare.from_run(run)
    assert (entry.label, entry.status, entry.metrics, entry.source) == (run.name, "stopped", {"test_acc": 0.9}, "run")
    assert [r["val_acc"] for r in entry.history] == [0.5, 0.6]

    meta = {"config": {"model": "cifar_cnn"}, "card": {"history": _history(0.7), "metrics": {"test_acc": 0.85},
                                                       "status": "finished"}}
    zoo = compare.from_card("cifar_cnn", meta)
    assert (zoo.label, zoo.source, zoo.metrics["test_acc"], len(zoo.history)) == ("zoo: cifar_cnn", "zoo", 0.85, 1)


def test_zoo_entries_are_the_cards_that_hold_a_history() -> None:
    metas = {"a": {"config": {"model": "a"}, "card": {"history": _history(0.5)}},
             "untrained": {"config": {"model": "b"}, "card": {}}, "c": {"card": {"history": _history(0.1, 0.2)}}}
    assert [(e.label, len(e.history)) for e in compare.zoo_entries(metas)] == [("zoo: a", 1), ("zoo: c", 2)]


def test_describe_names_model_data_seed_time_status_and_result(tmp_path) -> None:
    run = Run(tmp_path / "20260102-030405-cifar_cnn-seed3")
    run.path.mkdir()
    run.update(config={"model": "cifar_cnn", "dataset": "cifar10", "seed": 3}, status="finished",
               metrics={"test_acc": 0.8512})
    described = compare.describe(compare.from_run(run))
    assert described == "cifar_cnn on cifar10 · seed 3 · 02 Jan 03:04 · finished · test 85.1%"
    zoo = compare.from_card("mnist_cnn", {"config": {"model": "mnist_cnn", "dataset": "mnist", "seed": 0},
                                          "card": {"history": _history(0.5, 0.6)}})
    assert compare.describe(zoo) == "📦 shipped mnist_cnn on mnist · seed 0 · ? · 2 epochs"


def test_series_of_seeds_is_their_mean_and_band_or_one_line_each() -> None:
    from datetime import datetime

    a = _entry("a", seed=0, history=_history(0.2, 0.4))
    b = _entry("b", seed=1, history=_history(0.6))
    a.created, b.created = datetime(2026, 1, 1, 10, 0, 1), None
    other = _entry("other", lr=0.01, history=_history(0.9))
    groups = compare.group_by_config([a, b, other])
    lines, bands = compare.series(groups, banded=True)
    mean = "cifar_cnn on cifar10: lr 0.05 (mean of 2 runs)"
    val_acc = lines[(lines["series"] == mean) & (lines["split"] == "validation") & (lines["kind"] == "acc")]
    assert val_acc[["epoch", "value"]].values.ravel().tolist() == pytest.approx([1, 0.4, 2, 0.4])
    band = bands[(bands["series"] == mean) & (bands["split"] == "train") & (bands["kind"] == "acc")]
    assert band[["epoch", "low", "high"]].values.ravel().tolist() == pytest.approx([1, 0.2, 0.6, 2, 0.4, 0.4])
    # the lone run of lr 0.01: its four curves, no band; the validation loss of epoch 1 is 2.0 (see _history)
    lone = lines[lines["series"] == "cifar_cnn on cifar10: lr 0.01 · seed 0 (other)"]
    assert len(lone) == 4 and set(bands["series"]) == {mean}
    assert lone[(lone["split"] == "validation") & (lone["kind"] == "loss")]["value"].tolist() == [2.0]

    lines, bands = compare.series(groups, banded=False)
    assert bands.empty and list(bands.columns) == compare.BANDS
    assert set(lines["series"]) == {"cifar_cnn on cifar10: lr 0.05 · seed 0 (100001)",
                                    "cifar_cnn on cifar10: lr 0.05 · seed 1 (b)",
                                    "cifar_cnn on cifar10: lr 0.01 · seed 0 (other)"}
    alone, _ = compare.series(compare.group_by_config([a]), banded=True)
    assert set(alone["series"]) == {"a"}


# ---- the Compare page -------------------------------------------------------------------------------------
def _saved_run(root, seed: int, lr: float, val_acc: list[float], test_acc: float) -> Run:
    run = Run.create(f"cifar_cnn-seed{seed}", root=root)
    run.update(config={"dataset": "cifar10", "model": "cifar_cnn", "lr": lr, "seed": seed}, status="finished",
               metrics={"train_loss": 0.5, "train_acc": 0.8, "val_acc": val_acc[-1], "test_acc": test_acc})
    run.write_history(_history(*val_acc))
    return run


def test_compare_page_bands_seeds_and_tables_mean_and_std(tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    monkeypatch.setenv("CNNVIZ_RUNS_DIR", str(tmp_path))
    runs = [_saved_run(tmp_path, 0, 0.05, [0.5, 0.6], 0.70), _saved_run(tmp_path, 1, 0.05, [0.4, 0.7], 0.74),
            _saved_run(tmp_path, 0, 0.01, [0.3, 0.4], 0.41)]
    at = AppTest.from_file(str(ROOT / "app" / "lessons" / "compare.py"), default_timeout=60)
    at.run()
    assert not at.exception
    at.multiselect(key="pick").set_value([r.name for r in runs]).run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("recipe (what differs)")
    assert table.loc["cifar_cnn on cifar10: lr 0.05", "runs"] == 2
    assert table.loc["cifar_cnn on cifar10: lr 0.05", "test accuracy"] == "72.0 ± 2.8 %"
    assert table.loc["cifar_cnn on cifar10: lr 0.01", "test accuracy"] == "41.0 %"
    assert [b.label for b in at.download_button] == ["⬇ Results (CSV)"]
    spec = at.get("vega_lite_chart")[0].proto.spec
    assert '"type": "area"' in spec  # the min-max band of the two seeds of lr 0.05
    at.toggle(key="band").set_value(False).run()  # without bands: one line per run
    assert '"type": "area"' not in at.get("vega_lite_chart")[0].proto.spec


def test_compare_page_does_not_list_another_sessions_runs(tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    monkeypatch.setenv("CNNVIZ_RUNS_DIR", str(tmp_path))
    theirs = _saved_run(tmp_path, 77, 0.05, [0.5], 0.5)
    theirs.update(owner="another-session")
    _saved_run(tmp_path, 78, 0.05, [0.5], 0.5)  # no owner: made outside the app
    at = AppTest.from_file(str(ROOT / "app" / "lessons" / "compare.py"), default_timeout=60)
    at.run()
    options = at.multiselect(key="pick").options
    assert any("seed 78" in o for o in options) and not any("seed 77" in o for o in options)  # cli, theirs
    monkeypatch.setenv("CNNVIZ_SHARE_RUNS", "1")  # one person's own machine: every run
    at.run()
    assert any("seed 77" in o for o in at.multiselect(key="pick").options)
