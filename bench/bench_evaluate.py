"""First and second evaluation of a checkpoint on the full test set: computed, then served from the disk cache.

Usage: .venv/bin/python bench/bench_evaluate.py [model] [repeats]   (default cifar_cnn, 3; needs the data set)

Prints the baseline (the first evaluation: hash the file, load the model, predict every test image in
chunks, write the cache), the second (same checkpoint, read from the disk cache, as after a server
restart), the page's in-memory hit, and their ratios. The plain engine (`cnnviz.training.train.evaluate`) is timed
too, to show what the chunked, progress-reporting evaluation costs over it.
"""
from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import models
from cnnviz.datasets import data
from cnnviz.results import evaluation
from cnnviz.training import train

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("CNNVIZ_DOWNLOAD", "0")
if "CNNVIZ_DATA_DIR" not in os.environ and (ROOT.parent / "shared" / "datasets").is_dir():
    os.environ["CNNVIZ_DATA_DIR"] = str(ROOT.parent / "shared" / "datasets")
os.environ.setdefault("CNNVIZ_CACHE_DIR", str(ROOT / ".cache"))  # read when first used, not at import


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "cifar_cnn"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    entry = models.ZOO[name]
    if not entry.checkpoint.is_file():
        sys.exit(f"{name}: no checkpoint at {entry.checkpoint}")
    test = data.load(entry.dataset, "test")  # decoded once into the normal cache, outside the timing
    print(f"{name} on the {entry.dataset} test set: {len(test):,} images; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; checkpoint {entry.checkpoint.stat().st_size / 1e6:.1f} MB")

    firsts, seconds = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:  # an empty predictions cache each time
            os.environ["CNNVIZ_CACHE_DIR"] = cache
            first, p1 = timed(lambda: evaluation.cached_predict(entry.checkpoint, test, models.load_file))
            second, p2 = timed(lambda: evaluation.cached_predict(entry.checkpoint, test, models.load_file))
            assert (p1.probs == p2.probs).all() and p1.loss == p2.loss
            firsts.append(first)
            seconds.append(second)

    model, meta = models.load_file(entry.checkpoint)
    engine = statistics.median(timed(lambda: train.evaluate(model, test, meta["mean"], meta["std"]))[0]
                               for _ in range(repeats))
    hash_s = statistics.median(timed(lambda: evaluation.checkpoint_hash(entry.checkpoint))[0] for _ in range(5))

    logging.disable(logging.WARNING)  # st.cache_* outside a server warns that there is no runtime
    from app import state

    with tempfile.TemporaryDirectory() as cache:
        os.environ["CNNVIZ_CACHE_DIR"] = cache
        state.predictions(str(entry.checkpoint), entry.dataset)  # fills memory (and disk)
        memory = statistics.median(timed(lambda: state.predictions(str(entry.checkpoint), entry.dataset))[0]
                                   for _ in range(20))

    first, second = statistics.median(firsts), statistics.median(seconds)
    print(f"accuracy {p1.accuracy:.2%}, loss {p1.loss:.4f} (median of {repeats})")
    print(f"baseline  first evaluation (hash + load + predict + write): {first:8.3f} s")
    print(f"          plain engine train.evaluate (predict only):       {engine:8.3f} s")
    print(f"          sha256 of the checkpoint file:                     {hash_s * 1e3:8.1f} ms")
    print(f"figure    second evaluation (disk cache):                    {second * 1e3:8.1f} ms")
    print(f"          page's in-memory hit (app.state.predictions):      {memory * 1e3:8.3f} ms")
    print(f"ratio     first / second (disk): {first / second:,.0f}x;  first / memory: {first / memory:,.0f}x")


if __name__ == "__main__":
    main()
