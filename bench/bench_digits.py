"""Photos of digits on paper through the trained MNIST CNN: plain resize (baseline) against MNIST-style preprocessing.

Each picture is a digit written with a pen (drawn stroke by stroke) or printed in one of matplotlib's
DejaVu fonts, in dark ink on grey paper with uneven light, grain, blur and JPEG compression, at a
random size, position, pen width and tilt (cnnviz.datasets.samples.paper_digit). Three ways into the network:

    resize            models.transform("mnist_cnn") as it is: grayscale, resize to 28x28, normalise (baseline)
    resize + invert   the same after turning dark-on-light into light-on-dark (what a careful student adds)
    MNIST steps       cnnviz.datasets.digits.prepare: invert, remove the paper, crop, fit 20x20, centre by mass

Usage: python bench/bench_digits.py [--n 600] [--seed 0]
"""
from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

import models
from cnnviz.datasets import digits, samples

ROOT = Path(__file__).resolve().parent.parent


def photo(digit: int, seed: int, rng: np.random.Generator, fonts: list[str]) -> tuple[Image.Image, str]:
    """One picture of `digit` and its kind ("pen" or "printed")."""
    size = (int(rng.integers(160, 640)), int(rng.integers(160, 640)))
    printed = rng.random() < 0.4
    font = fonts[int(rng.integers(len(fonts)))] if printed else None
    image = samples.paper_digit(digit, seed=seed, size=size, font=font,
                                height=float(rng.uniform(0.3, 0.8)), width=float(rng.uniform(0.04, 0.16)),
                                tilt=float(rng.uniform(-15, 15)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=int(rng.integers(60, 95)))  # as a phone stores it
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB"), "printed" if printed else "pen"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=600, help="pictures (spread evenly over the ten digits)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(2)
    model = models.load("mnist_cnn")
    to_tensor = models.transform("mnist_cnn")
    rng = np.random.default_rng(args.seed)
    fonts = samples.fonts()

    labels, kinds = [], []
    inputs: dict[str, list[torch.Tensor]] = {"resize": [], "resize + invert": [], "MNIST steps": []}
    prep_seconds = 0.0
    for i in range(args.n):
        digit = i % 10
        image, kind = photo(digit, args.seed * 100_000 + i, rng, fonts)
        labels.append(digit)
        kinds.append(kind)
        inputs["resize"].append(to_tensor(image))
        inputs["resize + invert"].append(to_tensor(ImageOps.invert(image.convert("L"))))
        start = time.perf_counter()
        steps = digits.prepare(image)
        prep_seconds += time.perf_counter() - start
        inputs["MNIST steps"].append(to_tensor(steps.image))

    y = torch.tensor(labels)
    pen = torch.tensor([k == "pen" for k in kinds])
    accuracy = {}
    print(f"{args.n} photo-like digits ({int(pen.sum())} written with a pen, {int((~pen).sum())} printed), "
          f"mnist_cnn, seed {args.seed}")
    print(f"{'input':<17}{'all':>8}{'pen':>8}{'printed':>9}")
    for name, xs in inputs.items():
        with torch.no_grad():
            pred = model(torch.stack(xs)).argmax(1)
        right = pred == y
        accuracy[name] = right.float().mean().item()
        print(f"{name:<17}{accuracy[name]:>8.1%}{right[pen].float().mean().item():>8.1%}"
              f"{right[~pen].float().mean().item():>9.1%}")
    base, ours = accuracy["resize"], accuracy["MNIST steps"]
    print(f"baseline (plain resize): {base:.1%}   MNIST preprocessing: {ours:.1%}   "
          f"ratio: {ours / max(base, 1e-9):.1f}x   "
          f"(vs resize + invert: {ours / max(accuracy['resize + invert'], 1e-9):.2f}x)")
    print(f"preprocessing time: {1000 * prep_seconds / args.n:.1f} ms per picture")
    mnist_check(model, to_tensor)


def mnist_check(model: torch.nn.Module, to_tensor) -> None:  # type: ignore[no-untyped-def]
    """MNIST's own test digits, which are already in MNIST form, must survive the preprocessing."""
    from cnnviz.datasets import data

    try:
        test = data.load("mnist", "test", download=False)
    except data.DatasetUnavailable:
        print("MNIST test set not found (set CNNVIZ_DATA_DIR): skipping the check on real MNIST digits")
        return
    n = 1000
    direct = torch.stack([to_tensor(test.pil(i)) for i in range(n)])
    prepared = torch.stack([to_tensor(digits.prepare(test.pil(i)).image) for i in range(n)])
    with torch.no_grad():
        a = (model(direct).argmax(1) == test.labels[:n]).float().mean().item()
        b = (model(prepared).argmax(1) == test.labels[:n]).float().mean().item()
    print(f"MNIST test digits (first {n}): as they are {a:.1%}, after the MNIST steps {b:.1%}")


if __name__ == "__main__":
    main()
