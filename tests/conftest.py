"""Shared test set-up: offline data settings, temporary runs and caches, tiny seeded models."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"

os.environ.setdefault("CNNVIZ_DOWNLOAD", "0")  # tests never touch the network
if "CNNVIZ_DATA_DIR" not in os.environ and SHARED.is_dir():
    os.environ["CNNVIZ_DATA_DIR"] = str(SHARED)
os.environ.setdefault("CNNVIZ_CACHE_DIR", str(ROOT / ".cache"))


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test writes its training runs into its own temporary folder."""
    monkeypatch.setenv("CNNVIZ_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))


def _has(name: str) -> bool:
    from cnnviz.datasets import data

    return name in data.available()


def needs_data(name: str) -> pytest.MarkDecorator:
    """Skip unless data set `name` is under $CNNVIZ_DATA_DIR (set it, or put ../shared beside the clone)."""
    reason = f"{name} not found under CNNVIZ_DATA_DIR={os.environ.get('CNNVIZ_DATA_DIR', '(unset)')}"
    return pytest.mark.skipif(not _has(name), reason=reason)
