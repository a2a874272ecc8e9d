"""The U-Net's variants against the default one, and the segmentation page's work against one forward pass.

Usage: .venv/bin/python bench/bench_unet.py [repeats]   (default 5; no data needed, untrained weights)

(a) One training step (forward, per-pixel cross-entropy, backward, Adam) on a batch of 32 canvases, for each
    variant the issue names against the default (transposed, ReLU, skips): the ratio is what an ablation costs.
(b) What the segmentation page computes for one canvas (`segmentation.predict`, `decoder.levels`, the
    checkerboard strength of every upsampled map) against one forward pass of the canvas. Target: < 0.5 s.
Wall times are medians with the CPU time (all threads) beside them: other jobs inflate wall time, not CPU time.
"""
from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from cnnviz.datasets import segments
from cnnviz.inside import decoder
from cnnviz.results import segmentation
from models import unet

VARIANTS = {"transposed, ReLU, skips (default)": {}, "nearest + conv": {"upsample": "nearest"},
            "ELU": {"activation": "elu"}, "no skips": {"skips": False}}
BATCH = 32


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median wall s, median CPU s) of `repeats` calls, after one warm-up call."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def main(repeats: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(BATCH, 1, segments.HEIGHT, segments.WIDTH)
    y = torch.randint(0, len(segments.CLASSES), (BATCH, segments.HEIGHT, segments.WIDTH))
    print(f"(a) one training step, batch {BATCH}, {torch.get_num_threads()} threads")
    base = None
    for name, kwargs in VARIANTS.items():
        model = unet.build(**kwargs).train()
        opt = torch.optim.Adam(model.parameters())
        wall, cpu = timed(lambda: train_step(model, opt, x, y), repeats)
        base = base or wall
        print(f"  {name:36s} {wall * 1000:7.1f} ms (CPU {cpu * 1000:7.1f} ms)  ratio {wall / base:.2f}")

    print("(b) the segmentation page for one canvas, both U-Nets")
    models_ = [unet.build().eval(), unet.build(upsample="nearest").eval()]
    canvas = (torch.rand(1, 1, segments.HEIGHT, segments.WIDTH) * 255).to(torch.uint8)
    one = (canvas[0].float() / 255 - 0.0382) / 0.1768

    def forward() -> None:
        with torch.no_grad():
            models_[0](one[None])

    def page() -> None:
        segmentation.predict(models_[0], canvas, (0.0382,), (0.1768,))
        decoder.levels(models_[0], one)
        for model in models_:
            for level in decoder.levels(model, one):
                decoder.checkerboard(level.upsampled)

    floor, _ = timed(forward, repeats)
    wall, cpu = timed(page, repeats)
    print(f"  one forward pass {floor * 1000:.1f} ms; the page's work {wall * 1000:.1f} ms (CPU {cpu * 1000:.1f} ms), "
          f"ratio {wall / floor:.1f}; target < 500 ms: {'met' if wall < 0.5 else 'MISSED'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
