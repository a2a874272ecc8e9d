"""Command line: train the segmentation U-Net on M2NIST-style canvases, resumable across sessions.

    python -m models.train_unet --upsample transposed --epochs 20        # writes models/checkpoints/unet.pt

Per-pixel cross-entropy, Adam with a one-cycle schedule; after each epoch the test split's mean IoU and foreground F1
are printed and the full state (model, optimiser, schedule, epoch, curves) is kept in the cache, so a stopped run goes
on from its last epoch with `--resume`. The last epoch's weights are shipped with a model card: no epoch is chosen
by its test score, which would make the test figures a little optimistic.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from cnnviz import paths
from cnnviz.datasets import segments
from cnnviz.results import segmentation
from cnnviz.training import checkpoint
from models import cards, unet

MEAN, STD = (0.0382,), (0.1768,)  # the canvases' pixel mean and std (mostly black)
ROOT = Path(__file__).resolve().parent


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upsample", choices=("transposed", "nearest"), default="transposed")
    parser.add_argument("--activation", choices=("relu", "elu"), default="relu")
    parser.add_argument("--no-skips", action="store_true")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--train", type=int, default=10_000, help="training canvases")
    parser.add_argument("--test", type=int, default=2_000, help="test canvases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="default: models/checkpoints/unet[-variant].pt")
    return parser.parse_args()


def variant(args: argparse.Namespace) -> dict:
    return {"upsample": args.upsample, "activation": args.activation, "skips": not args.no_skips}


def name_of(args: argparse.Namespace) -> str:
    """unet, unet-nearest, unet-elu, unet-noskips..."""
    parts = [p for p, on in (("nearest", args.upsample == "nearest"), ("elu", args.activation == "elu"),
                             ("noskips", args.no_skips)) if on]
    return "-".join(["unet", *parts])


def main() -> None:
    args = arguments()
    torch.manual_seed(args.seed)
    train, test = segments.load("train", args.train, seed=args.seed), segments.load("test", args.test)
    model = unet.build(**variant(args))
    steps = args.epochs * -(-len(train) // args.batch)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    state_file = paths.cache_dir() / "unet-training" / (  # a run with other sizes starts afresh
        f"{name_of(args)}-seed{args.seed}-e{args.epochs}-n{args.train}-b{args.batch}.pt")
    start, history = 0, []
    if args.resume and state_file.is_file():
        saved = torch.load(state_file, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        start, history = saved["epoch"], saved.get("history", [])
        print(f"resumed after epoch {start}")
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(start, args.epochs):
        began = time.perf_counter()
        total = train_epoch(model, train, opt, sched, torch.randperm(len(train), generator=gen), args.batch)
        found = segmentation.evaluate(model, test, MEAN, STD)
        history.append({"epoch": epoch + 1, "train_loss": total, "mean_iou": found.mean_iou,
                        "foreground_f1": found.foreground_f1, "pixel_accuracy": found.pixel_accuracy,
                        "seconds": time.perf_counter() - began})
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total:.4f}, test mean IoU {found.mean_iou:.4f}, "
              f"foreground F1 {found.foreground_f1:.4f}, pixel accuracy {found.pixel_accuracy:.4f} "
              f"({history[-1]['seconds']:.0f} s)", flush=True)
        state_file.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "epoch": epoch + 1, "history": history}, state_file)
    ship(args, model, test, history)


def train_epoch(model: torch.nn.Module, train: segments.Canvases, opt: torch.optim.Optimizer,
                sched: torch.optim.lr_scheduler.LRScheduler, order: torch.Tensor, batch: int) -> float:
    """One pass over the canvases in `order`; the mean per-pixel cross-entropy."""
    model.train()
    total = 0.0
    for k in range(0, len(order), batch):
        idx = order[k:k + batch]
        x = (train.images[idx].float() / 255 - MEAN[0]) / STD[0]
        loss = F.cross_entropy(model(x), train.masks[idx].long())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        total += loss.item() * len(idx)
    return total / len(train)


def ship(args: argparse.Namespace, model: torch.nn.Module, test: segments.Canvases, history: list[dict]) -> None:
    """Save the last epoch's weights (no epoch is picked by its test score) with the test figures and the card."""
    out = args.out or ROOT / "checkpoints" / f"{name_of(args)}.pt"
    found = segmentation.evaluate(model, test, MEAN, STD)
    meta = {"arch": "unet", "arch_args": variant(args), "title": f"U-Net ({args.upsample} upsampling)",
            "dataset": "m2nist", "input_shape": [1, segments.HEIGHT, segments.WIDTH],
            "classes": list(segments.CLASSES), "mean": list(MEAN), "std": list(STD), "task": "segmentation",
            "metrics": {"mean_iou": found.mean_iou, "foreground_f1": found.foreground_f1,
                        "pixel_accuracy": found.pixel_accuracy, "epoch": len(history), "test_canvases": len(test)},
            "card": {"history": history, "iou": [float(v) for v in found.iou], "confusion": found.confusion.tolist(),
                     "config": vars(args) | {"out": str(out)}, "device": f"CPU ({torch.get_num_threads()} threads)"}}
    checkpoint.save(out, model, meta)
    cards.write_segmentation(name_of(args), meta, out.with_suffix(".md"))
    print(f"saved {out} and its card: test mean IoU {found.mean_iou:.4f}, foreground F1 {found.foreground_f1:.4f}")


if __name__ == "__main__":
    main()
