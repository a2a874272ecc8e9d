"""What watching a run costs: the same small training run with and without live logging (`cnnviz.training.live`).

Usage: CNNVIZ_DATA_DIR=... python bench/bench_live.py [--model mnist_cnn] [--images 6000] [--epochs 2] [--pairs 3]

Each pair trains the same run twice (same seed, same data, same initial weights): once plainly, once with a
`live.Recorder` taking snapshots every 512 images and at each epoch's end, as the Train page does. The two are
run alternately so a busy machine slows both alike; the figure is the median of each. Wall and CPU time (all
threads) are printed: other jobs inflate wall time, not CPU time. The recorder also times its own snapshots.
Target: with / without <= 1.05.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace

import torch

import models
from cnnviz import paths
from cnnviz.datasets import data
from cnnviz.training import live, train
from cnnviz.training.device import describe, pick_device

TARGET = 1.05


def one_run(config: train.TrainConfig, splits: train.Splits, watched: bool) -> tuple[float, float, float]:
    """(wall s, CPU s, s spent in snapshots) of one seeded run of `config`, with or without a recorder."""
    with train.seeded(config.seed):
        model = models.build(config.model)
    recorder = live.Recorder(model, live.strip(splits.test, splits.mean, splits.std)) if watched else None
    wall, cpu = time.perf_counter(), time.process_time()
    train.fit(config, model, splits, watch=recorder)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu, recorder.overhead_s if recorder else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mnist_cnn", help="a zoo classifier, trained on its own data set")
    parser.add_argument("--images", type=int, default=6000, help="training images per run")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=3, help="runs with and without, alternately")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: no idle pool threads spinning, so CPU time measures the work)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ds = models.ZOO[args.model].dataset
    try:
        train_set, test_set = data.load(ds, "train"), data.load(ds, "test")
    except data.DatasetUnavailable as exc:
        print(f"skipped: {ds} is not under CNNVIZ_DATA_DIR={paths.data_dir()} ({exc})")
        return 0
    config = replace(train.defaults(ds, args.model), epochs=args.epochs, train_limit=args.images, test_limit=500)
    splits = train.make_splits(config, train_set, test_set)
    print(f"{args.model} on {ds}: {len(splits.train):,} training images x {args.epochs} epochs, batch "
          f"{config.batch_size}, device {describe(pick_device())['device']}, {args.pairs} pairs")
    plain, watched = [], []
    for k in range(args.pairs):
        plain.append(one_run(config, splits, False))
        watched.append(one_run(config, splits, True))
        (w0, c0, _), (w1, c1, s1) = plain[-1], watched[-1]
        print(f"  pair {k + 1}: without {w0:.2f} s wall ({c0:.2f} s CPU) | with {w1:.2f} s wall ({c1:.2f} s CPU), "
              f"{s1:.3f} s in snapshots", flush=True)
    wall = statistics.median(w for w, _, _ in watched) / statistics.median(w for w, _, _ in plain)
    cpu = statistics.median(c for _, c, _ in watched) / statistics.median(c for _, c, _ in plain)
    own = statistics.median(s / w for w, _, s in watched)
    print(f"median wall: without {statistics.median(w for w, _, _ in plain):.2f} s, with "
          f"{statistics.median(w for w, _, _ in watched):.2f} s: ratio {wall:.3f} (target <= {TARGET})")
    print(f"median CPU ratio {cpu:.3f}; snapshots themselves took {own:.1%} of the watched runs' wall time")
    return 0 if min(wall, cpu) <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
