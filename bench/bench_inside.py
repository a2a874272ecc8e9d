"""Inside a model: from a new image to every layer's maps ready to display, against one Matplotlib subplot per map.

For each network: preprocess, forward pass with hooks, tile + colour every conv/activation/pool layer and
encode it as JPEG (what the page sends). The baseline does the same forward pass, then draws each feature
map as a Matplotlib subplot (one figure per layer, saved as PNG). The baseline is far too slow to run on
every layer of every net, so it runs on a subset of layers and is scaled by the number of maps (said so in
the output). Then the second look: the same image and settings again, through the page's st.cache_data.

Targets: < 150 ms for the CIFAR nets, < 400 ms for ResNet18 at 224x224, < 20 ms for the second look.

    .venv/bin/python bench/bench_inside.py [--repeat 7]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import logging
import os
import statistics
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

import models
from cnnviz.datasets import data
from cnnviz.inside import features, render

ROOT = Path(__file__).resolve().parent.parent

TARGET_MS = {"cifar_cnn": 150, "cifar_cnn_plus": 150, "resnet18@224": 400}
BASELINE_MAPS = 192  # maps the baseline draws per network (then scaled to all)


def model_for(name: str) -> tuple[torch.nn.Module, str]:
    """The trained zoo model, or a seeded untrained one when its checkpoint is not there yet."""
    try:
        return models.load(name), "trained"
    except models.CheckpointError:
        torch.manual_seed(0)
        return models.build(name).eval(), "untrained (no checkpoint yet)"


def photos(n: int) -> list[Image.Image]:
    """n different real images: CIFAR-10 test images when present, else seeded noise."""
    try:
        test = data.load("cifar10", "test")
        return [test.pil(i) for i in range(n)]
    except data.DatasetUnavailable:
        rng = np.random.default_rng(0)
        return [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(n)]


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def ours(model: torch.nn.Module, prep, image: Image.Image) -> list[render.LayerPicture]:
    """The page's path for a new image: preprocess, forward with hooks, tile, colour, JPEG."""
    x = prep(image)[None]  # (1, C, H, W)
    return render.layer_pictures(model, x, norm="channel", cmap="viridis", sort="mean")


def cpu_ms(model: torch.nn.Module, prep, images: list[Image.Image]) -> float:
    """Median CPU time (ms) of our path with PyTorch on one thread: waiting for a busy CPU is not counted,
    so this estimates the wall time on an idle core even while other jobs share the machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = []
        for image in images:
            s = time.process_time()
            ours(model, prep, image)
            times.append(time.process_time() - s)
        return median_ms(times)
    finally:
        torch.set_num_threads(threads)


def matplotlib_layer(maps: np.ndarray) -> bytes:
    """The baseline: one subplot per feature map, one figure per layer, saved as PNG."""
    c = len(maps)
    cols = render.grid_columns(c)
    rows = -(-c // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9), squeeze=False)
    for ax, m in zip(axes.flat, maps):
        ax.imshow(m, cmap="viridis")
    for ax in axes.flat:
        ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def baseline(model: torch.nn.Module, prep, image: Image.Image) -> tuple[float, float, int, int]:
    """(forward ms, ms for the layers drawn, maps drawn, maps in all) of the Matplotlib path."""
    x = prep(image)[None]
    t0 = time.perf_counter()
    outputs = features.extract(model, x, features.map_layers(model))
    t1 = time.perf_counter()
    names = features.map_layers(model, outputs)
    total = sum(outputs[n].shape[1] for n in names)
    drawn, t_draw = 0, 0.0
    for n in names:  # the first layers up to BASELINE_MAPS maps (always at least one layer)
        c = outputs[n].shape[1]
        if drawn and drawn + c > BASELINE_MAPS:
            continue
        s = time.perf_counter()
        matplotlib_layer(outputs[n][0].numpy())
        t_draw += time.perf_counter() - s
        drawn += c
    return (t1 - t0) * 1000, t_draw * 1000, drawn, total


def second_look(model: torch.nn.Module, key: str, prep, image: Image.Image, repeat: int) -> tuple[float, float]:
    """Median ms of the page's cached path for an input it has seen (hash the input tensor, two cache hits),
    and median ms of the preprocessing before it (the page's preprocessing view computes it on every rerun)."""
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "No runtime found" outside `streamlit run`
    from app import state

    def look(x: torch.Tensor) -> list:
        digest = hashlib.sha1(x.numpy().tobytes()).hexdigest()
        state.probabilities(key, digest, model, x)
        return state.layer_pictures(key, digest, "channel", "viridis", "mean", model, x)

    look(prep(image)[None])  # the first look fills the cache
    hits, preps = [], []
    for _ in range(repeat):
        s = time.perf_counter()
        x = prep(image)[None]
        t = time.perf_counter()
        look(x)
        hits.append(time.perf_counter() - t)
        preps.append(t - s)
    return median_ms(hits), median_ms(preps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="new images per network (median reported)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average "
          f"{load:.1f} (figures inflate when other jobs share the CPU); {args.repeat} new images per network\n")
    images = photos(args.repeat + 1)
    for label, name, size in [("cifar_cnn", "cifar_cnn", 32), ("cifar_cnn_plus", "cifar_cnn_plus", 32),
                              ("resnet18@32", "resnet18", 32), ("resnet18@224", "resnet18", 224)]:
        model, status = model_for(name)
        entry = models.ZOO[name]
        prep = models.input_transform((entry.input_shape[0], size, size), entry.mean, entry.std)
        ours(model, prep, images[-1])  # warm-up: first-call allocations, colour tables, fonts
        times, sizes = [], []
        for image in images[: args.repeat]:
            s = time.perf_counter()
            pictures = ours(model, prep, image)
            times.append(time.perf_counter() - s)
            sizes.append(sum(len(p.jpeg) for p in pictures))
        ms, best = median_ms(times), min(times) * 1000
        cpu = cpu_ms(model, prep, images[: args.repeat])
        fwd, drawn_ms, drawn, total = baseline(model, prep, images[0])
        base = fwd + drawn_ms * total / drawn
        look, prep_ms = second_look(model, f"bench:{label}", prep, images[0], args.repeat)
        target = TARGET_MS.get(label)
        verdict = "" if target is None else (" ok" if ms < target else " OVER")
        print(f"{label:15s} {status}")
        print(f"  ours: {ms:7.1f} ms median, {best:.1f} ms best, for {len(pictures)} layers, {total} maps, "
              f"{np.median(sizes) / 1e3:.0f} kB JPEG" + (f"  (target < {target} ms:{verdict})" if target else ""))
        print(f"        {cpu:7.1f} ms of CPU time on one thread (what a quiet core would take; contention-proof)")
        print(f"  baseline: {base:7.0f} ms = forward {fwd:.0f} ms + Matplotlib {drawn_ms:.0f} ms for {drawn} maps "
              f"x {total / drawn:.1f} (scaled to all {total} maps)")
        print(f"  ratio: {base / ms:6.1f}x faster")
        print(f"  second look (cached): {look:.2f} ms  (target < 20 ms:{' ok' if look < 20 else ' OVER'}); "
              f"the preprocessing before it: {prep_ms:.1f} ms\n")


if __name__ == "__main__":
    main()
