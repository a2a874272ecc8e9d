"""Run comparison maths: overlay histories, mean with a min-max band over seeds, mean ± std tables.

Everything here works on plain dicts and lists (what run folders and model cards hold) and returns plain
rows and tables, so the Compare page only has to draw them.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from cnnviz.training.runs import Run

CURVES = ("train_loss", "val_loss", "train_acc", "val_acc")
SUMMARY = ("train_loss", "train_acc", "val_acc", "test_acc")
IGNORED = ("seed",)  # config fields that do not make a different configuration
NOT_SHOWN = ("layers", "dataset", "model", "seed")  # left out of the "what differs" labels (shown elsewhere)
SPLITS = {"val": "validation", "train": "train"}  # a history's metric prefix -> the split a chart names
LINES = ["series", "split", "kind", "epoch", "value"]  # columns of `series`' lines
BANDS = ["series", "split", "kind", "epoch", "low", "high"]  # and of its bands


@dataclass
class Entry:
    """One comparable result: a run folder or a shipped zoo checkpoint."""

    label: str                       # unique, human-readable name
    config: dict[str, Any]           # TrainConfig as a dict
    history: list[dict[str, float]]  # per-epoch records
    metrics: dict[str, float] = field(default_factory=dict)  # final train/val/test loss and accuracy
    status: str = ""                 # finished | stopped | early-stopped | diverged | running
    source: str = "run"              # "run" or "zoo"
    created: datetime | None = None  # when a run was created (None for the zoo)


def from_run(run: Run) -> Entry:
    """An Entry for a run folder (its history so far, even when the run was stopped or killed)."""
    info = run.info()
    return Entry(run.name, dict(info.get("config", {})), run.history(), dict(info.get("metrics", {})),
                 str(info.get("status", "")), "run", run.created)


def from_card(name: str, meta: dict[str, Any]) -> Entry:
    """An Entry for a shipped zoo checkpoint, from its checkpoint meta (config + model card)."""
    card = meta.get("card", {})
    return Entry(f"zoo: {name}", dict(meta.get("config", {})), list(card.get("history", [])),
                 dict(card.get("metrics", {})), str(card.get("status", "")), "zoo")


def zoo_entries(metas: Mapping[str, dict[str, Any]]) -> list[Entry]:
    """Entries of the shipped checkpoints (zoo name -> checkpoint meta) whose model card holds a history."""
    return [entry for entry in (from_card(name, meta) for name, meta in metas.items()) if entry.history]


def describe(entry: Entry) -> str:
    """One line for a picker: model, data, seed, when a run was created, status, test accuracy (or epochs)."""
    c, test = entry.config, entry.metrics.get("test_acc")
    when = f" · {entry.created:%d %b %H:%M}" if entry.created else ""
    return (f"{'📦 shipped ' if entry.source == 'zoo' else ''}{c.get('model', '?')} on {c.get('dataset', '?')}"
            f" · seed {c.get('seed', '?')}{when} · {entry.status or '?'}"
            + (f" · test {test:.1%}" if test is not None else f" · {len(entry.history)} epochs"))


def config_key(config: dict[str, Any]) -> str:
    """A stable text key for a configuration, ignoring the seed: runs sharing it are seeds of one config."""
    items = sorted((k, _hashable(v)) for k, v in config.items() if k not in IGNORED)
    return repr(items)


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def group_by_config(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """Entries grouped by config_key, in first-seen order."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(config_key(entry.config), []).append(entry)
    return groups


def differences(configs: list[dict[str, Any]]) -> list[str]:
    """For each config, a short label of the fields whose values differ between the configs.

    The model and data set lead each label; then only what varies (say "lr 0.01, batch_size 64"), so
    a legend of overlaid runs reads as the experiment that was done.
    """
    keys = sorted({k for c in configs for k in c} - set(NOT_SHOWN))
    varying = [k for k in keys if len({repr(_hashable(c.get(k))) for c in configs}) > 1]
    labels = []
    for c in configs:
        head = f"{c.get('model', '?')} on {c.get('dataset', '?')}"
        parts = [f"{k} {'all' if k.endswith('_limit') and not c.get(k) else _show(c.get(k))}" for k in varying]
        labels.append(head + (": " + ", ".join(parts) if parts else ""))
    return labels


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(str(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def long_rows(entries: Iterable[Entry], metrics: tuple[str, ...] = CURVES) -> list[dict[str, Any]]:
    """Histories in long form, one row per (entry, epoch, metric): what an overlay chart plots."""
    rows = []
    for entry in entries:
        for record in entry.history:
            for m in metrics:
                value = record.get(m)
                if value is not None and math.isfinite(value):
                    rows.append({"run": entry.label, "epoch": int(record["epoch"]), "metric": m,
                                 "split": m.split("_")[0], "kind": m.split("_")[1], "value": float(value)})
    return rows


def band(histories: list[list[dict[str, float]]], metric: str) -> list[dict[str, float]]:
    """Per epoch, the mean, min and max of `metric` over several histories (seeds of one config).

    Epochs that only some histories reached (early stopping, a stopped run) use those that did; `n`
    says how many.
    """
    by_epoch: dict[int, list[float]] = {}
    for history in histories:
        for record in history:
            value = record.get(metric)
            if value is not None and math.isfinite(value):
                by_epoch.setdefault(int(record["epoch"]), []).append(float(value))
    return [{"epoch": e, "mean": sum(v) / len(v), "min": min(v), "max": max(v), "n": len(v)}
            for e, v in sorted(by_epoch.items())]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1 in the denominator; 0 for a single value)."""
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def summary_rows(groups: dict[str, list[Entry]], metrics: tuple[str, ...] = SUMMARY) -> list[dict[str, Any]]:
    """One row per configuration: its label, the number of seeds, and mean ± std of each final metric.

    Each metric appears twice: `<metric>` as text ("85.1 ± 0.3 %" for accuracies) and `<metric>_mean` /
    `<metric>_std` as numbers, so a table can show the text and still sort by the number.
    """
    configs = [members[0].config for members in groups.values()]
    labels = differences(configs)
    rows = []
    for label, members in zip(labels, groups.values()):
        row: dict[str, Any] = {"configuration": label, "seeds": len(members),
                               "runs": ", ".join(m.label for m in members)}
        for m in metrics:
            values = [e.metrics[m] for e in members if m in e.metrics and math.isfinite(e.metrics[m])]
            mean, std = mean_std(values)
            row[f"{m}_mean"], row[f"{m}_std"] = mean, std
            row[m] = format_mean_std(mean, std, len(values), percent=m.endswith("_acc"))
        rows.append(row)
    return rows


def format_mean_std(mean: float, std: float, n: int, percent: bool) -> str:
    """'85.1 ± 0.3 %' (accuracies) or '0.4321 ± 0.0100' (losses); just the mean for one value; '–' for none."""
    if n == 0:
        return "–"
    if percent:
        return f"{100 * mean:.1f} %" if n == 1 else f"{100 * mean:.1f} ± {100 * std:.1f} %"
    return f"{mean:.4f}" if n == 1 else f"{mean:.4f} ± {std:.4f}"


def series(groups: dict[str, list[Entry]], banded: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(lines, bands) to chart: a line per entry, or per configuration (the mean) where `banded` and it has several
    seeds, with its min-max band. Columns LINES and BANDS; `split` is "validation" or "train", `kind` "loss" or "acc".
    """
    labels = differences([members[0].config for members in groups.values()])
    lines, bands = [], []
    for label, members in zip(labels, groups.values()):
        if banded and len(members) > 1:
            name = f"{label} (mean of {len(members)} runs)"
            for prefix, split in SPLITS.items():
                for kind in ("loss", "acc"):
                    for row in band([m.history for m in members], f"{prefix}_{kind}"):
                        lines.append((name, split, kind, row["epoch"], row["mean"]))
                        bands.append((name, split, kind, row["epoch"], row["min"], row["max"]))
            continue
        for m in members:
            name = _line_name(label, m, alone=len(groups) == len(members) == 1)
            lines += [(name, SPLITS[r["split"]], r["kind"], r["epoch"], r["value"]) for r in long_rows([m])]
    return pd.DataFrame(lines, columns=LINES), pd.DataFrame(bands, columns=BANDS)


def _line_name(label: str, entry: Entry, alone: bool) -> str:
    """A legend name: a zoo entry's or a lone entry's label; a run's recipe label, seed and creation time."""
    if entry.source == "zoo" or alone:
        return entry.label
    when = f"{entry.created:%H%M%S}" if entry.created else entry.label
    return f"{label} · seed {entry.config.get('seed', '?')} ({when})"


FIRST_METRICS = ("test_acc", "mean_iou", "val_acc", "foreground_f1", "test_loss", "val_loss", "train_acc",
                 "train_loss")  # the final figures a comparison offers first, the fair final mark leading


def final_value(entry: Entry, metric: str) -> float:
    """`entry`'s final `metric` as a number; NaN when it has none (a diverged, failed or running run)."""
    value = entry.metrics.get(metric)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def final_metrics(*groups: list[Entry]) -> list[str]:
    """The final figures that every one of `groups` has a finite value of in at least one run, FIRST_METRICS first."""
    if not groups:
        return []
    shared = set.intersection(*({m for e in members for m in e.metrics if math.isfinite(final_value(e, m))}
                                for members in groups))
    return [m for m in FIRST_METRICS if m in shared] + sorted(shared - set(FIRST_METRICS))


def missing_seeds(used: Iterable[int], count: int) -> list[int]:
    """The `count` smallest seeds (0, 1, 2, ...) not in `used`: the seeds that add runs to a recipe."""
    taken, seeds, seed = set(used), [], 0
    while len(seeds) < count:
        if seed not in taken:
            seeds.append(seed)
        seed += 1
    return seeds
