"""Where cnnviz reads data and writes caches and runs, all overridable by environment variables."""
from __future__ import annotations

import os
from pathlib import Path


def _user_cache() -> Path:
    """The per-user cache root (XDG on Linux, ~/.cache elsewhere)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnviz"


def cache_dir() -> Path:
    """Folder for derived files (decoded data sets, prediction caches): $CNNVIZ_CACHE_DIR."""
    path = Path(os.environ.get("CNNVIZ_CACHE_DIR") or _user_cache())
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Folder holding the data sets: $CNNVIZ_DATA_DIR, else a per-user folder."""
    return Path(os.environ.get("CNNVIZ_DATA_DIR") or _user_cache() / "data")


def runs_dir() -> Path:
    """Folder holding training runs: $CNNVIZ_RUNS_DIR, else <cache>/runs."""
    path = Path(os.environ.get("CNNVIZ_RUNS_DIR") or cache_dir() / "runs")
    path.mkdir(parents=True, exist_ok=True)
    return path
