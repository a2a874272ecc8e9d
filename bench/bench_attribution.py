"""Why it answers and how fragile it is: every attribution method against one forward+backward pass, and the
attack chart against its floor.

Usage: .venv/bin/python bench/bench_attribution.py [repeats]   (default 3; needs the shipped zoo and CIFAR-10)

(a) All six methods together (`attribution.explain` with `settings_for(side)`) on one picture, against one
    forward+backward pass of that picture (the gradient of one class score with respect to the input), for the
    32-px cifar_cnn, the 28-px mnist_cnn and ResNet18 at 224 px (torchvision's, random weights: the ImageNet
    weights need the internet and cost the same). Targets: < 0.5 s at 32 px, < 3 s at 224 px. Each method alone
    is shown with its ratio; then the deletion curves of the six maps and a random one, and for cifar_cnn the
    whole sanity check.
(b) The accuracy-against-ε chart of cifar_cnn (PGD, 10 steps, at each EPSILONS > 0) on 200 test images, against
    its floor: the same number of forward+backward passes of 100-image batches.
Wall times are medians; CPU time (all threads) is shown beside them, since other jobs inflate wall time only.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision

import models
from cnnviz.datasets import data, samples
from cnnviz.inside import attribution
from cnnviz.results import evaluation, robustness

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("CNNVIZ_DOWNLOAD", "0")
if "CNNVIZ_DATA_DIR" not in os.environ and (ROOT.parent / "shared" / "datasets").is_dir():
    os.environ["CNNVIZ_DATA_DIR"] = str(ROOT.parent / "shared" / "datasets")
IMAGENET = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median wall s, median CPU s) of `repeats` calls, after one warm-up call."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def forward_backward(model: torch.nn.Module, x: torch.Tensor, target: int) -> None:
    leaf = x[None].clone().requires_grad_(True)
    torch.autograd.grad(model(leaf)[0, target], leaf)


def methods(label: str, model: torch.nn.Module, x: torch.Tensor, mean, std, target: int, budget: float,
            repeats: int, sanity: bool) -> None:
    settings = attribution.settings_for(x.shape[-1])
    base, base_cpu = timed(lambda: forward_backward(model, x, target), repeats)
    print(f"\n(a) {label}: {tuple(x.shape)}, {settings}")
    print(f"    baseline  one forward+backward pass  {base * 1000:8.1f} ms  (CPU {base_cpu * 1000:.1f})")
    for name, title in attribution.METHODS.items():
        wall, _ = timed(lambda: attribution.explain(model, x, target, settings, mean, std, [name]), repeats)
        print(f"    {title:<24} {wall * 1000:8.1f} ms  {wall / base:6.1f}x")
    wall, cpu = timed(lambda: attribution.explain(model, x, target, settings, mean, std), repeats)
    verdict = "ok" if wall < budget else "OVER"
    print(f"    all six together             {wall:8.3f} s   {wall / base:6.1f}x  (CPU {cpu:.2f} s)   "
          f"target < {budget} s: {verdict}")
    maps = attribution.explain(model, x, target, settings, mean, std)
    ranked = [*maps.values(), attribution.random_ranking(next(iter(maps.values())))]
    wall, _ = timed(lambda: [attribution.deletion(model, x, target, h, mean=mean, std=std) for h in ranked], repeats)
    print(f"    7 deletion curves (17 pictures each)  {wall:8.3f} s   {wall / base:6.1f}x")
    if sanity:
        every = attribution.methods(settings, mean, std)
        start = time.perf_counter()
        stages = attribution.sanity_check(model, x, target, every)
        print(f"    sanity check, all six, {len(stages)} stages       {time.perf_counter() - start:8.3f} s")


def attack_chart(repeats: int) -> None:
    entry = models.ZOO["cifar_cnn"]
    model, meta = models.load_file(entry.checkpoint)
    test, _ = evaluation.spread(data.load("cifar10", "test"), 200)
    batch = test.images[:100].float() / 255
    x = (batch - torch.tensor(entry.mean).view(1, -1, 1, 1)) / torch.tensor(entry.std).view(1, -1, 1, 1)
    passes = 10 * sum(1 for e in robustness.EPSILONS if e) * (len(test) // 100)

    def floor() -> None:
        for _ in range(passes):
            leaf = x.clone().requires_grad_(True)
            torch.autograd.grad(torch.nn.functional.cross_entropy(model(leaf), test.labels[:100]), leaf)

    base, _ = timed(floor, 1)
    wall, cpu = timed(lambda: robustness.accuracy_under_attack(model, test, meta["mean"], meta["std"]), repeats)
    print(f"\n(b) accuracy against ε of cifar_cnn, {len(test)} test images, PGD at {robustness.EPSILONS}")
    print(f"    floor     {passes} forward+backward passes of 100 images   {base:6.2f} s")
    print(f"    the chart                                          {wall:6.2f} s  {wall / base:5.2f}x  "
          f"(CPU {cpu:.2f} s)")


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.manual_seed(0)
    cat = samples.load("cat")
    for name, sanity in (("cifar_cnn", True), ("mnist_cnn", False)):
        entry = models.ZOO[name]
        methods(name, models.load(name), models.transform(name)(cat), entry.mean, entry.std, 3, 0.5, repeats,
                sanity)
    net = torchvision.models.resnet18().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    x = models.input_transform((3, 224, 224), *IMAGENET)(cat)
    methods("ResNet18 at 224 px (random weights)", net, x, *IMAGENET, 281, 3.0, repeats, False)
    attack_chart(repeats)


if __name__ == "__main__":
    main()
