"""What a network learned: top examples, activation maximisation and the embedding, each against its floor.

Usage: .venv/bin/python bench/bench_featurevis.py [repeats]   (default 3; needs CIFAR-10 and the shipped cifar_cnn)

(a) Top examples of one layer (most and least exciting, with positions) over the 10,000 CIFAR-10 test images,
    against one batched forward pass over them (`features.logits`: normalise + forward); then from the disk
    cache (hash the checkpoint, read the file). Targets: <= 1.2x the forward pass; < 1 s from cache.
(b) One channel's 256-step visualization on cifar_cnn, against 256 forward+backward passes of a 1-image batch
    (gradient to the input: the floor no activation maximisation can beat). Target: < 3 s on 2 cores.
(c) t-SNE of 1,000 points (cifar_cnn's penultimate features of the first 1,000 test images), target < 10 s;
    PCA of the same, target < 0.1 s.
Wall times are medians; CPU time (all threads) is shown beside them, since other jobs on the machine inflate
wall time but not CPU time.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import models
from cnnviz.datasets import data, explore
from cnnviz.inside import embedding, features, featurevis
from cnnviz.results import learned

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("CNNVIZ_DOWNLOAD", "0")
if "CNNVIZ_DATA_DIR" not in os.environ and (ROOT.parent / "shared" / "datasets").is_dir():
    os.environ["CNNVIZ_DATA_DIR"] = str(ROOT.parent / "shared" / "datasets")
os.environ.setdefault("CNNVIZ_CACHE_DIR", str(ROOT / ".cache"))

NAME = "cifar_cnn"


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall s, median CPU s) of `repeats` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def verdict(ok: bool) -> str:
    return "ok" if ok else "OVER"


def top_examples(model: torch.nn.Module, entry: models.ZooEntry, test: data.ImageSet, repeats: int) -> None:
    mean, std = list(entry.mean), list(entry.std)
    base, base_cpu = timed(lambda: features.logits(model, test.images, mean, std), repeats)
    print(f"(a) top examples over {len(test):,} test images (k=9, most and least exciting, with positions)")
    print(f"    baseline  one batched forward pass (normalise + forward):  {base:6.2f} s  (CPU {base_cpu:.2f} s)")
    for layer in (features.last_conv(model), features.conv_layers(model)[0]):
        figure, cpu = timed(lambda: learned.layer_examples(model, test, layer, mean, std), repeats)
        print(f"    figure    {layer:>6}: layer_examples:                    {figure:6.2f} s  (CPU {cpu:.2f} s)  "
              f"ratio {figure / base:.2f}x  (target <= 1.2x: {verdict(figure <= 1.2 * base)})")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CNNVIZ_CACHE_DIR"] = cache
        layer = features.last_conv(model)
        first, _ = timed(lambda: learned.cached_layer_examples(entry.checkpoint, test, layer, models.load_file), 1)
        hit, _ = timed(lambda: learned.cached_layer_examples(entry.checkpoint, test, layer, models.load_file), repeats)
    print(f"    cache     {layer:>6}: first (load + compute + write) {first:6.2f} s; from disk {hit * 1e3:.1f} ms  "
          f"(target < 1 s: {verdict(hit < 1)}); first / disk {first / hit:,.0f}x")


def visualization(model: torch.nn.Module, entry: models.ZooEntry, repeats: int) -> None:
    layer = features.last_conv(model)

    def floor() -> None:
        x = torch.zeros(1, *entry.input_shape, requires_grad=True)  # (1, C, H, W)
        with features.capture(model, [layer], keep_graph=True) as out, features.evaluating(model):
            for _ in range(256):
                model(x)
                torch.autograd.grad(out.pop(layer)[0, 0].mean(), x)

    base, base_cpu = timed(floor, repeats)
    figure, cpu = timed(lambda: featurevis.visualize(model, layer, 0, entry.input_shape, entry.mean, entry.std),
                        repeats)
    print(f"(b) one channel of {NAME}.{layer}, 256 steps")
    print(f"    baseline  256 forward+backward passes, 1-image batch:   {base:6.2f} s  (CPU {base_cpu:.2f} s)")
    print(f"    figure    visualize:                                    {figure:6.2f} s  (CPU {cpu:.2f} s)  "
          f"(target < 3 s: {verdict(figure < 3)})  ratio {figure / base:.2f}x the floor")


def projections(model: torch.nn.Module, entry: models.ZooEntry, test: data.ImageSet, repeats: int) -> None:
    x = explore.normalise(test.images[:1000], list(entry.mean), list(entry.std))
    points = embedding.penultimate(model, x)  # (1000, D)
    tsne, tsne_cpu = timed(lambda: embedding.tsne(points), max(1, repeats - 1))
    pca, pca_cpu = timed(lambda: embedding.pca(points), repeats * 5)
    print(f"(c) {len(points):,} points of {points.shape[1]} features")
    print(f"    t-SNE:  {tsne:6.2f} s  (CPU {tsne_cpu:.2f} s)  (target < 10 s: {verdict(tsne < 10)})")
    print(f"    PCA:    {pca * 1e3:6.1f} ms (CPU {pca_cpu * 1e3:.1f} ms)  (target < 100 ms: {verdict(pca < 0.1)})")


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    entry = models.ZOO[NAME]
    model = models.load(NAME)
    try:
        test = data.load(entry.dataset, "test")  # decoded once into the normal cache, outside the timing
    except data.DatasetUnavailable as exc:
        sys.exit(f"needs the CIFAR-10 test set: {exc}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{NAME}; torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load "
          f"average {load:.1f} (wall figures inflate when other jobs share the CPU); median of {repeats}\n")
    top_examples(model, entry, test, repeats)
    visualization(model, entry, repeats)
    projections(model, entry, test, repeats)


if __name__ == "__main__":
    main()
