"""A training run on disk: config, per-epoch history and best checkpoint, each written atomically."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cnnviz import paths

HISTORY_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
STAMP = "%Y%m%d-%H%M%S"  # a run folder's name starts with when it was created (local time), so names sort by age


def safe_name(name: str) -> str:
    """A user-given run name reduced to a folder name that cannot leave the runs folder."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip(".-")[:60]
    return cleaned or "run"


def write_json(path: Path, obj: Any) -> None:
    """Write JSON through a temporary file so a killed process never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    os.replace(tmp, path)


@dataclass
class Run:
    """One run folder: run.json (config, status, results), history.json and checkpoint.pt."""

    path: Path

    @classmethod
    def create(cls, name: str, root: Path | None = None) -> Run:
        """A new, empty run folder under `root` (default: the runs folder) with a unique safe name."""
        root = Path(root or paths.runs_dir()).resolve()
        stem = f"{time.strftime(STAMP)}-{safe_name(name)}"
        for i in range(1000):
            path = root / (stem if i == 0 else f"{stem}-{i}")
            try:
                path.mkdir(parents=True)
                break
            except FileExistsError:
                continue
        if path.parent != root:
            raise ValueError(f"run name {name!r} escapes the runs folder")
        return cls(path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def created(self) -> datetime | None:
        """When the run was created (local time, to the second), as `create` wrote it into the folder's name;
        None for a folder not named that way."""
        try:
            return datetime.strptime(self.name[:15], STAMP)
        except ValueError:
            return None

    def info(self) -> dict[str, Any]:
        """Config, status and final results (empty before the run starts)."""
        f = self.path / "run.json"
        return json.loads(f.read_text()) if f.is_file() else {}

    def update(self, **fields: Any) -> None:
        """Merge `fields` into run.json."""
        write_json(self.path / "run.json", {**self.info(), **fields})

    def history(self) -> list[dict[str, float]]:
        """Per-epoch records written so far."""
        f = self.path / "history.json"
        return json.loads(f.read_text()) if f.is_file() else []

    def write_history(self, history: list[dict[str, float]]) -> None:
        write_json(self.path / "history.json", history)

    def history_csv(self) -> str:
        """The history as CSV text, for download."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.history())
        return out.getvalue()


def list_runs(root: Path | None = None) -> list[Run]:
    """Runs under `root`, newest first (folders without run.json are skipped)."""
    root = Path(root or paths.runs_dir())
    if not root.is_dir():
        return []
    runs = [Run(p) for p in root.iterdir() if (p / "run.json").is_file()]
    return sorted(runs, key=lambda r: r.name, reverse=True)
