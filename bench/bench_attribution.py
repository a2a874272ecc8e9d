"""Why it answers and how fragile it is: every attribution method against one forward+backward pass, and the
attack chart against its floor.

Usage: .venv/bin/python bench/bench_attribution.py [repeats]   (default 3; needs the shipped zoo, and CIFAR-10 for (c))

(a) The shipped 32-px cifar_cnn and 28-px mnist_cnn on the cat sample, against one forward+backward pass of that
    picture (the gradient of one class score with respect to the input): each method alone and its ratio, then all
    six together (`attribution.explain` with `settings_for(side)`). Target: < 0.5 s for all six on a 32-px model.
    Then the deletion curves of the six maps and a random ranking (7 curves, default steps), and for cifar_cnn the
    whole sanity check (all six methods at every stage of re-initialisation).
(b) The same on torchvision's ResNet18 at 224 px: random weights (the ImageNet weights need the internet and cost
    the same), eval mode, no parameter gradients, a uniform random picture normalised by the ImageNet mean and std.
    Target: < 3 s for all six.
(c) The accuracy-against-ε chart of cifar_cnn (`robustness.accuracy_under_attack`, PGD with 10 steps at each ε > 0
    of EPSILONS) on 200 test images, against its floor: as many forward+backward passes of a 100-image batch as
    the chart's PGD steps (per batch of 100, for each of the 2 batches). No target; the ratio is the overhead.
Wall times are medians; CPU time (all threads) is shown beside them, since other jobs on the machine inflate
wall time but not CPU time. The picked class is the model's own answer for the picture.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torchvision

import models
from cnnviz.datasets import data, explore, samples
from cnnviz.inside import attribution
from cnnviz.results import evaluation, robustness

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("CNNVIZ_DOWNLOAD", "0")
if "CNNVIZ_DATA_DIR" not in os.environ and (ROOT.parent / "shared" / "datasets").is_dir():
    os.environ["CNNVIZ_DATA_DIR"] = str(ROOT.parent / "shared" / "datasets")
os.environ.setdefault("CNNVIZ_CACHE_DIR", str(ROOT / ".cache"))

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PGD_STEPS = 10  # attack.pgd's default, what accuracy_under_attack uses
ATTACK_IMAGES, ATTACK_BATCH = 200, 100  # the chart's test images; accuracy_under_attack's batch


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
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


def row(label: str, wall: float, cpu: float, base: float | None = None) -> str:
    """One aligned line: label, wall and CPU milliseconds, and the ratio to `base` when given."""
    ratio = f"  ratio {wall / base:6.1f}x" if base else ""
    return f"    {label:<44} {wall * 1e3:8.1f} ms  (CPU {cpu * 1e3:7.1f} ms){ratio}"


def forward_backward(model: torch.nn.Module, x: torch.Tensor, target: int) -> None:
    """The baseline: the gradient of one class score with respect to one (C, H, W) picture."""
    leaf = x[None].clone().requires_grad_(True)  # (1, C, H, W)
    torch.autograd.grad(model(leaf)[0, target], leaf)


def attribution_costs(label: str, model: torch.nn.Module, x: torch.Tensor, mean: Sequence[float],
                      std: Sequence[float], budget: float, repeats: int, sanity: bool) -> None:
    """Print the baseline, each method, all six, the deletion curves and (with `sanity`) the sanity check."""
    with torch.no_grad():
        target = int(model(x[None]).argmax())
    settings = attribution.settings_for(x.shape[-1])
    maps = attribution.explain(model, x, target, settings, mean, std)  # also the warm-up (Captum, allocator)
    base, base_cpu = timed(lambda: forward_backward(model, x, target), 10 * repeats)
    print(f"  {label}: input {tuple(x.shape)}, class {target}; {settings}")
    print(row("baseline  one forward+backward pass, 1 image", base, base_cpu))
    for name, title in attribution.METHODS.items():
        wall, cpu = timed(lambda: attribution.explain(model, x, target, settings, mean, std, [name]), repeats)
        print(row(f"          {title}", wall, cpu, base))
    wall, cpu = timed(lambda: attribution.explain(model, x, target, settings, mean, std), repeats)
    print(row("figure    all six together (explain)", wall, cpu, base)
          + f"  (target < {budget:g} s: {verdict(wall < budget)})")

    ranked = {**maps, "random": attribution.random_ranking(next(iter(maps.values())))}
    curves = {}

    def delete() -> None:
        for name, heat in ranked.items():
            curves[name] = attribution.deletion(model, x, target, heat, mean=mean, std=std)

    wall, cpu = timed(delete, repeats)
    areas = ", ".join(f"{name} {attribution.area(c):.2f}" for name, c in curves.items())
    print(row(f"deletion  {len(curves)} curves of {len(curves['random'])} points", wall, cpu, base))
    print(f"              area under each (lower: more faithful): {areas}")
    if sanity:
        every = attribution.methods(settings, mean, std)
        stages = attribution.sanity_check(model, x, target, every)
        wall, cpu = timed(lambda: attribution.sanity_check(model, x, target, every), repeats)
        print(row(f"sanity    all six, {len(stages)} stages ({len(stages) - 1} layers)", wall, cpu, base))


def resnet18() -> torch.nn.Module:
    """torchvision's ResNet18, random weights (seeded without touching the global generator), eval, frozen."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = torchvision.models.resnet18().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def attack_chart(repeats: int) -> None:
    entry = models.ZOO["cifar_cnn"]
    mean, std = list(entry.mean), list(entry.std)
    model = models.load("cifar_cnn")
    try:
        test, _ = evaluation.spread(data.load("cifar10", "test"), ATTACK_IMAGES)
    except data.DatasetUnavailable as exc:
        print(f"(c) skipped: needs the CIFAR-10 test set: {exc}")
        return
    x = explore.normalise(test.images[:ATTACK_BATCH], mean, std)  # (100, 3, 32, 32)
    y = test.labels[:ATTACK_BATCH]
    per_batch = sum(PGD_STEPS for eps in robustness.EPSILONS if eps)
    batches = -(-len(test) // ATTACK_BATCH)

    def floor() -> None:
        for _ in range(per_batch * batches):
            leaf = x.clone().requires_grad_(True)
            torch.autograd.grad(torch.nn.functional.cross_entropy(model(leaf), y), leaf)

    base, base_cpu = timed(floor, repeats)
    wall, cpu = timed(lambda: robustness.accuracy_under_attack(model, test, mean, std), repeats)
    print(f"(c) accuracy against ε of cifar_cnn: {len(test)} test images, PGD ({PGD_STEPS} steps) at ε "
          f"{robustness.EPSILONS} / 255")
    print(f"    floor     {per_batch} forward+backward passes of a {ATTACK_BATCH}-image batch, x {batches} batches: "
          f"{base:6.2f} s  (CPU {base_cpu:.2f} s)")
    print(f"    figure    accuracy_under_attack:  {wall:6.2f} s  (CPU {cpu:.2f} s)  ratio {wall / base:.2f}x the floor")


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average "
          f"{load:.1f} (wall figures inflate when other jobs share the CPU); median of {repeats}\n")
    cat = samples.load("cat")
    print("(a) small models, the cat sample")
    for name, sanity in (("cifar_cnn", True), ("mnist_cnn", False)):
        entry = models.ZOO[name]
        attribution_costs(name, models.load(name), models.transform(name)(cat), entry.mean, entry.std, 0.5,
                          repeats, sanity)
    mean_t, std_t = torch.tensor(IMAGENET_MEAN).view(-1, 1, 1), torch.tensor(IMAGENET_STD).view(-1, 1, 1)
    x = (torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(0)) - mean_t) / std_t  # (3, 224, 224)
    print("(b) 224 px")
    attribution_costs("ResNet18 (random weights)", resnet18(), x, IMAGENET_MEAN, IMAGENET_STD, 3.0, repeats, False)
    attack_chart(repeats)


if __name__ == "__main__":
    main()
