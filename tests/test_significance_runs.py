"""What the significance panel reads from runs: each run's final figure, the figures two recipes share, new seeds."""
from __future__ import annotations

import math

from cnnviz.results import compare


def _entry(status: str = "finished", **metrics: float) -> compare.Entry:
    return compare.Entry("run", {"dataset": "cifar10", "model": "cifar_cnn", "seed": 0}, [], metrics, status)


def test_final_value_is_the_number_or_nan_when_a_run_has_none() -> None:
    assert compare.final_value(_entry(test_acc=0.61), "test_acc") == 0.61
    assert math.isnan(compare.final_value(_entry("diverged"), "test_acc"))
    assert math.isnan(compare.final_value(_entry(test_acc=math.nan), "test_acc"))


def test_final_metrics_are_those_every_group_has_a_finite_value_of_the_fair_mark_first() -> None:
    a = [_entry(test_acc=0.6, val_acc=0.62, train_loss=0.9, zeta=1.0), _entry("diverged", val_loss=math.nan)]
    b = [_entry(train_loss=0.8, val_acc=0.61, zeta=2.0, val_loss=0.7), _entry(test_acc=0.59, alpha=3.0)]
    assert compare.final_metrics(a, b) == ["test_acc", "val_acc", "train_loss", "zeta"]
    assert compare.final_metrics([_entry(mean_iou=0.8, foreground_f1=0.9)]) == ["mean_iou", "foreground_f1"]
    assert compare.final_metrics(a, [_entry("running")]) == []
    assert compare.final_metrics() == []


def test_missing_seeds_are_the_smallest_unused_ones() -> None:
    assert compare.missing_seeds([0], 2) == [1, 2]
    assert compare.missing_seeds([0, 2, 5, 1], 3) == [3, 4, 6]
    assert compare.missing_seeds([], 1) == [0]
    assert compare.missing_seeds([0, 1], 0) == []
