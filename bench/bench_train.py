"""Training speed of the engine against the usual student pipeline, measured in the same run.

Default mode (about 1-2 minutes on 2 CPU cores): training throughput in images/s for cifar_cnn and mnist_cnn,
  engine (uint8 tensors in memory, batched augmentation) vs a torchvision DataLoader over PIL images with
  `transforms` (CIFAR-10 from its ImageFolder PNGs, MNIST through torchvision.datasets.MNIST), same model,
  optimizer, batch size and augmentation; plus the engine's achieved GFLOP/s against a matrix-multiply peak.
`--live-demo [mnist] [cifar10]` (about 8 minutes on 2 CPU cores): training seconds until the test accuracy first
  reaches 98% (MNIST) and 73% (CIFAR-10), the live-demo recipe (`mnist_fast`/`cifar_fast` with the engine's
  defaults for them) against the student recipe (the PyTorch example MNIST network or the classic CIFAR network,
  Adam 1e-3, batch 64, flip for CIFAR, a DataLoader over PIL images). The test set is checked every few thousand
  training images with the clock paused, for both alike; the engine's own validation passes count as training time.

Usage: CNNVIZ_DATA_DIR=... python bench/bench_train.py [--live-demo [DATASET ...]] [--batches N] [--threads T]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import models
from cnnviz import paths
from cnnviz.datasets import data
from cnnviz.training import train
from cnnviz.training.device import describe, pick_device

# (model, data set, batch size, augmentation): the settings FACTS.md measured the two pipelines with.
CASES = [("cifar_cnn", "cifar10", 64, ("flip", "crop")), ("mnist_cnn", "mnist", 100, ())]
AIMS = {"cifar_cnn": 1.2, "mnist_cnn": 2.0}


# ---- the student pipeline -----------------------------------------------------------------------------------
def student_dataset(name: str, train_split: bool, augment: tuple[str, ...], mean, std):
    """torchvision Dataset of PIL images with per-image `transforms`, as assignments write it."""
    import torchvision
    from torchvision import transforms as T

    steps = []
    if "crop" in augment:
        steps.append(T.RandomCrop(32 if name == "cifar10" else 28, padding=4, padding_mode="reflect"))
    if "flip" in augment:
        steps.append(T.RandomHorizontalFlip())
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    if name == "mnist":
        return torchvision.datasets.MNIST(str(paths.data_dir()), train=train_split, download=False,
                                          transform=T.Compose(steps))
    folder = paths.data_dir() / "cifar10" / ("train" if train_split else "test")
    return torchvision.datasets.ImageFolder(str(folder), transform=T.Compose(steps))


def student_loader(name: str, batch: int, augment: tuple[str, ...], mean, std, train_split: bool = True,
                   shuffle: bool = True):
    return torch.utils.data.DataLoader(student_dataset(name, train_split, augment, mean, std), batch_size=batch,
                                       shuffle=shuffle, num_workers=0)


def student_steps(model: nn.Module, opt: torch.optim.Optimizer, loader, batches: int, device) -> int:
    """The textbook loop for `batches` steps; returns the number of images seen."""
    model.train()
    seen = 0
    for i, (x, y) in enumerate(loader):
        if i == batches:
            break
        x, y = x.to(device), y.to(device)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        seen += len(y)
    return seen


# ---- the engine -----------------------------------------------------------------------------------------------
def engine_steps(model: nn.Module, config: train.TrainConfig, splits: train.Splits, device) -> int:
    """One engine epoch over `splits.train` (its real hot loop); returns the number of images seen."""
    opt = train._optimizer(config, model)
    gen = torch.Generator().manual_seed(0)
    if device.type == "cuda":
        splits = train.Splits(*(train._to(s, device) for s in (splits.train, splits.val, splits.test)),
                              splits.mean, splits.std)
    train.train_one_epoch(model, splits, config, opt, None, gen, 1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(splits.train)


# ---- arithmetic -----------------------------------------------------------------------------------------------
def train_flops_per_image(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Forward + backward FLOPs of one image: 2 x multiply-adds of every conv and linear layer forward, twice that
    backward (input and weight gradients), except the first layer, which needs no input gradient."""
    flops: list[float] = []

    def hook(module: nn.Module, inputs, output) -> None:
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
            flops.append(2.0 * output[0].numel() * per_output)
        elif isinstance(module, nn.Linear):
            flops.append(2.0 * module.in_features * module.out_features)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
    return sum(flops) * 3 - flops[0]


def matmul_peak(threads: int, n: int = 2048, repeats: int = 8) -> float:
    """Best GFLOP/s of an n x n float32 matrix multiply on the CPU with `threads` threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def timed(fn) -> tuple[float, int]:
    start = time.perf_counter()
    images = fn()
    return time.perf_counter() - start, images


# ---- modes ----------------------------------------------------------------------------------------------------
def throughput(batches: int, threads: int) -> None:
    device = pick_device()
    print(f"Training throughput, {batches} batches per pipeline, device {describe(device)['device']}, "
          f"torch threads {torch.get_num_threads()}")
    for name, ds, batch, augment in CASES:
        if ds not in data.available():
            print(f"{name}: skipped, {ds} is not under CNNVIZ_DATA_DIR={paths.data_dir()}")
            continue
        entry = models.ZOO[name]
        config = replace(train.defaults(ds, name), batch_size=batch, augment=augment, schedule="none",
                         val_fraction=0.0, label_smoothing=0.0, train_limit=batches * batch)
        splits = train.make_splits(config, data.load(ds, "train"), data.load(ds, "test"))
        # Warm-up of both pipelines (first-call allocations, optimizer imports), then the timed runs.
        warm = replace(config, train_limit=5 * batch)
        engine_steps(models.build(name).to(device), warm, train.make_splits(warm, data.load(ds, "train"),
                                                                            data.load(ds, "test")), device)
        loader = student_loader(ds, batch, augment, entry.mean, entry.std)
        model = models.build(name).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                              weight_decay=config.weight_decay)
        student_steps(model, opt, loader, 5, device)

        t_engine, n_engine = timed(lambda: engine_steps(models.build(name).to(device), config, splits, device))
        model = models.build(name).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                              weight_decay=config.weight_decay)
        t_student, n_student = timed(lambda: student_steps(model, opt, loader, batches, device))
        engine, student = n_engine / t_engine, n_student / t_student
        aim = AIMS[name]
        print(f"{name:10s} batch {batch:3d}, augment {'+'.join(augment) or 'none':9s}: student pipeline "
              f"{student:7,.0f} img/s | engine {engine:7,.0f} img/s | ratio {engine / student:4.2f}x "
              f"(aim >= {aim}x: {'met' if engine / student >= aim else 'NOT met'})")
        if name == "cifar_cnn":
            per_image = train_flops_per_image(models.build(name), entry.input_shape)
            achieved = engine * per_image / 1e9
            if device.type == "cpu":
                peak = matmul_peak(threads)
                print(f"{'':10s} {per_image / 1e6:.0f} MFLOP per image forward+backward: engine {achieved:.0f} "
                      f"GFLOP/s = {achieved / peak:.0%} of a {threads}-thread {2048}x{2048} matmul peak "
                      f"of {peak:.0f} GFLOP/s measured now")
            else:
                print(f"{'':10s} {per_image / 1e6:.0f} MFLOP per image forward+backward: engine {achieved:.0f} GFLOP/s")
    print("Note: figures depend on what else runs on the machine; on a shared CPU, compare only the ratio.")
    print("On a GPU: run this same script on a CUDA machine; the engine then keeps the data on the GPU and uses "
          "bf16 autocast + channels-last, the student pipeline moves each batch from PIL on the CPU.")


def example_mnist_net() -> nn.Module:
    """The PyTorch examples' MNIST network (examples/mnist/main.py, 1.2 M params): the student recipe's model."""
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(128, 10))


# data set -> (target test accuracy, live-demo zoo network, the student's network, the student's augmentation,
#              test evaluations every this many training images)
LIVE = {"mnist": (0.98, "mnist_fast", example_mnist_net, (), 2_000),
        "cifar10": (0.73, "cifar_fast", lambda: models.build("cifar_cnn"), ("flip",), 5_000)}
STUDENT_EPOCHS = 10  # the student recipe gives up after this many epochs


class PausedClock:
    """Training seconds: the clock stops while the test set is evaluated, for both recipes alike."""

    def __init__(self) -> None:
        self.start, self.paused = time.perf_counter(), 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def check(self, model: nn.Module, test: data.ImageSet, mean, std) -> tuple[float, float]:
        """(training seconds so far, test accuracy now); the evaluation itself is not counted."""
        t0, seconds = time.perf_counter(), self.now()
        acc = train.evaluate(model, test, list(mean), list(std))[1]
        self.paused += time.perf_counter() - t0
        return seconds, acc


def student_time(ds: str, test: data.ImageSet, device) -> tuple[float | None, int]:
    """(seconds, images) until the student recipe first reaches the target: Adam 1e-3, batch 64, PIL DataLoader."""
    target, _, net, augment, every = LIVE[ds]
    entry = models.ZOO["mnist_cnn" if ds == "mnist" else "cifar_cnn"]  # the data set's usual mean and std
    torch.manual_seed(0)
    model = net().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = student_loader(ds, 64, augment, entry.mean, entry.std)
    clock, seen, due = PausedClock(), 0, every
    for _ in range(STUDENT_EPOCHS):
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            seen += len(y)
            if seen >= due:
                due += every
                seconds, acc = clock.check(model, test, entry.mean, entry.std)
                if acc >= target:
                    return seconds, seen
    return None, seen


def engine_time(ds: str, train_set: data.ImageSet, test: data.ImageSet, device) -> tuple[float | None, int]:
    """(seconds, images) until the live-demo recipe (its zoo network, the engine's defaults) reaches the target."""
    target, net, _, _, every = LIVE[ds]
    config = train.defaults(ds, net)
    splits = train.make_splits(config, train_set, test)
    with train.seeded(config.seed):
        model = models.build(net)
    found: dict[str, Any] = {"due": every, "at": None}
    clock = PausedClock()

    class Checker:
        def after_step(self, model: nn.Module, seen: int, epoch: float) -> None:
            if seen >= found["due"] and found["at"] is None:
                found["due"] += every
                seconds, acc = clock.check(model, test, splits.mean, splits.std)
                if acc >= target:
                    found["at"] = (seconds, seen)

        def end_epoch(self, model: nn.Module, seen: int, epoch: int) -> None:
            """Nothing: the checks run every `every` images."""

    train.fit(config, model, splits, watch=Checker(), should_stop=lambda: found["at"] is not None, device=device)
    return found["at"] or (None, len(splits.train) * config.epochs)


def live_demo(datasets: list[str]) -> None:
    """Time to the target test accuracy: the live-demo recipe against the student recipe, per data set."""
    device = pick_device()
    print(f"Time to a target test accuracy, device {describe(device)['device']} (test set checked with the clock "
          "paused: MNIST every 2,000 training images, CIFAR-10 every 5,000)")
    for ds in datasets:
        target, net = LIVE[ds][:2]
        if ds not in data.available():
            print(f"{ds}: skipped, not under CNNVIZ_DATA_DIR={paths.data_dir()}")
            continue
        train_set, test = data.load(ds, "train"), data.load(ds, "test")
        engine, engine_images = engine_time(ds, train_set, test, device)
        student, student_images = student_time(ds, test, device)
        show = lambda s, n: f"{s:6.1f} s ({n:,} images)" if s is not None else f"not reached in {n:,} images"  # noqa: E731
        print(f"{ds:8s} {target:.0%}: student recipe {show(student, student_images)} | live demo {net} "
              f"{show(engine, engine_images)}"
              + (f" | ratio {student / engine:.1f}x (aim >= 3x: {'met' if student / engine >= 3 else 'NOT met'})"
                 if student and engine else ""), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live-demo", nargs="*", choices=sorted(LIVE), metavar="DATASET",
                        help="the long mode: time to 98%% (MNIST) and 73%% (CIFAR-10), about 8 min on 2 cores")
    parser.add_argument("--batches", type=int, default=200, help="timed batches per pipeline and model")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (FACTS.md used 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if "cifar10" not in data.available() and "mnist" not in data.available():
        sys.exit(f"No data under CNNVIZ_DATA_DIR={paths.data_dir()}: see the README's data section.")
    if args.live_demo is not None:
        live_demo(args.live_demo or list(LIVE))
    else:
        throughput(args.batches, args.threads)


if __name__ == "__main__":
    main()
