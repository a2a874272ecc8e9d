"""Decoding CIFAR-10's 60,000 PNGs once vs loading the uint8 tensor cache afterwards (target: about 1 s)."""
from __future__ import annotations

import os
import sys
import tempfile
import time

from cnnviz.datasets import data


def timed_load(split: str) -> float:
    start = time.perf_counter()
    ds = data.load("cifar10", split)
    ds.images.max()  # touch every pixel, so a memory-mapped cache is really read
    return time.perf_counter() - start


def main() -> None:
    if "cifar10" not in data.available():
        sys.exit("CIFAR-10 not found: set CNNVIZ_DATA_DIR to a folder holding cifar10/{train,test}/<class>/*.png")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CNNVIZ_CACHE_DIR"] = cache  # a cold cache: the first load decodes every PNG
        cold = sum(timed_load(s) for s in ("train", "test"))
        warm = sum(timed_load(s) for s in ("train", "test"))
    print(f"CIFAR-10 train+test (60,000 images): first load (decode PNGs) {cold:.2f} s, "
          f"cached load {warm:.2f} s, ratio {cold / warm:.1f}x")


if __name__ == "__main__":
    main()
