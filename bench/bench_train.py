"""Training speed of the engine against the usual student pipeline, measured in the same run.

Default mode (about 1-2 minutes on 2 CPU cores): training throughput in images/s for cifar_cnn and mnist_cnn,
  engine (uint8 tensors in memory, batched augmentation) vs a torchvision DataLoader over PIL images with
  `transforms` (CIFAR-10 from its ImageFolder PNGs, MNIST through torchvision.datasets.MNIST), same model,
  optimizer, batch size and augmentation; plus the engine's achieved GFLOP/s against a matrix-multiply peak.
`--time-to-73` (about 20-30 minutes on 2 CPU cores): wall-clock training time until cifar_cnn first reaches 73%
  test accuracy, engine defaults vs the student recipe (Adam 1e-3, batch 64, 10 epochs, flip only, naive pipeline).
  Test accuracy is measured after every epoch with the clock paused.

Usage: CNNVIZ_DATA_DIR=... python bench/bench_train.py [--time-to-73] [--batches N] [--threads T]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace

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
TARGET = 0.73  # test accuracy for --time-to-73


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


def accuracy(model: nn.Module, test: data.ImageSet, mean, std) -> float:
    return train.evaluate(model, test, mean, std)[1]


def time_to_target(threads: int) -> None:
    """Seconds of training until cifar_cnn first reaches TARGET test accuracy: engine defaults vs student recipe."""
    device = pick_device()
    train_set, test_set = data.load("cifar10", "train"), data.load("cifar10", "test")
    print(f"Time to {TARGET:.0%} test accuracy with cifar_cnn, device {describe(device)['device']}")

    # Engine with its defaults; the clock stops while the test set is evaluated after each epoch.
    config = train.defaults("cifar10", "cifar_cnn")
    splits = train.make_splits(config, train_set, test_set)
    torch.manual_seed(config.seed)
    model = models.build("cifar_cnn")
    state = {"clock": 0.0, "mark": time.perf_counter(), "reached": None, "stop": False}

    def on_epoch(record) -> None:
        state["clock"] += time.perf_counter() - state["mark"]
        acc = accuracy(model, test_set, splits.mean, splits.std)
        print(f"  engine  epoch {record['epoch']:2d}: test {acc:.2%} after {state['clock'] / 60:.1f} min")
        if acc >= TARGET and state["reached"] is None:
            state["reached"], state["stop"] = state["clock"], True
        state["mark"] = time.perf_counter()

    train.fit(config, model, splits, on_epoch=on_epoch, should_stop=lambda: state["stop"], device=device)
    engine = state["reached"]

    # Student recipe: Adam 1e-3, batch 64, 10 epochs, flip only, DataLoader over PIL images.
    entry = models.ZOO["cifar_cnn"]
    torch.manual_seed(0)
    model = models.build("cifar_cnn").to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = student_loader("cifar10", 64, ("flip",), entry.mean, entry.std)
    clock, student = 0.0, None
    for epoch in range(1, 11):
        start = time.perf_counter()
        student_steps(model, opt, loader, len(loader), device)
        clock += time.perf_counter() - start
        acc = accuracy(model.cpu(), test_set, list(entry.mean), list(entry.std))
        model.to(device)
        print(f"  student epoch {epoch:2d}: test {acc:.2%} after {clock / 60:.1f} min")
        if acc >= TARGET:
            student = clock
            break

    show = lambda s: f"{s / 60:.1f} min" if s is not None else "not reached"  # noqa: E731
    print(f"student recipe {show(student)} | engine defaults {show(engine)}"
          + (f" | ratio {student / engine:.1f}x (aim >= 3x)" if student and engine else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-to-73", action="store_true", help="the long mode (about 20-30 min on 2 cores)")
    parser.add_argument("--batches", type=int, default=200, help="timed batches per pipeline and model")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (FACTS.md used 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if "cifar10" not in data.available() and "mnist" not in data.available():
        sys.exit(f"No data under CNNVIZ_DATA_DIR={paths.data_dir()}: see the README's data section.")
    if args.time_to_73:
        time_to_target(args.threads)
    else:
        throughput(args.batches, args.threads)


if __name__ == "__main__":
    main()
