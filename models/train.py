"""Command line for the training engine: `python -m models.train cifar_cnn --epochs 15 --ship`."""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, fields
from typing import Any

import torch
from tqdm import tqdm

import models
from cnnviz.datasets import data
from cnnviz.training import checkpoint, train
from cnnviz.training.runs import Run
from models import cards


def zoo_meta(name: str, pretrained: bool = False) -> dict[str, Any]:
    """Checkpoint metadata that lets a zoo checkpoint rebuild its own model."""
    entry = models.ZOO[name]
    return {"arch": name, "arch_args": {}, "title": entry.title, "dataset": entry.dataset,
            "input_shape": list(entry.input_shape), "classes": list(entry.classes), "pretrained": pretrained}


def build_model(config: train.TrainConfig) -> torch.nn.Module:
    """The untrained network a config asks for (zoo, ImageNet-initialised ResNet18, or custom layers)."""
    if config.model == "resnet18" and config.pretrained:
        from models import resnet18

        return resnet18.build_pretrained()
    return models.build(config.model)


def fresh(config: train.TrainConfig, input_shape: tuple[int, ...], classes: list[str]
          ) -> tuple[torch.nn.Module, dict[str, Any], str]:
    """A fresh, untrained network for `config` (never a cached zoo model), the checkpoint meta that rebuilds it, and
    its title; a custom network (`config.layers`) is built for `input_shape` and `classes`. The caller seeds it."""
    if config.model != "custom":
        return build_model(config), zoo_meta(config.model, config.pretrained), models.ZOO[config.model].title
    from cnnviz.nets import builder

    meta = {"arch": "custom", "arch_args": {"layers": config.layers}, "title": f"Custom network ({config.dataset})",
            "dataset": config.dataset, "input_shape": list(input_shape), "classes": list(classes), "pretrained": False}
    return builder.build(config.layers, input_shape), meta, "your network"


def custom_layers(text: str, input_shape: tuple[int, ...], classes: int) -> tuple[list[dict[str, Any]] | None, str]:
    """(layers, a one-line verdict) of a typed network description meant to train on `classes` classes; layers is
    None when it does not parse, is over cnnviz's size limits or does not end in `classes` outputs."""
    from cnnviz.nets import limits, netspec
    from cnnviz.nets.tables import spec_table

    try:
        layers = netspec.parse(text)
        table = spec_table(layers, input_shape)
        limits.check(layers, input_shape)
    except ValueError as exc:
        return None, f"❌ {exc}"
    out = tuple(table[-1]["output_shape"]) if table else tuple(input_shape)
    if out != (classes,):
        return None, (f"❌ The network ends with shape {out}, but the data set has {classes} classes: "
                      f"end with `flatten` and `linear {classes}`.")
    return layers, f"✅ {len(layers)} layers, {table[-1]['total_params']:,} parameters, output {out}."


def _parse(argv: list[str]) -> tuple[train.TrainConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", choices=models.names())
    parser.add_argument("--ship", action="store_true", help="write models/checkpoints/<model>.pt and its card")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch's default)")
    for f in fields(train.TrainConfig):
        if f.name in ("model", "dataset", "layers"):
            continue
        kind = type(f.default) if not isinstance(f.default, tuple) else str
        if kind is bool:
            parser.add_argument(f"--{f.name.replace('_', '-')}", action="store_true")
        else:
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=None)
    args = parser.parse_args(argv)
    dataset = models.ZOO[args.model].dataset
    overrides = {f.name: getattr(args, f.name) for f in fields(train.TrainConfig)
                 if f.name not in ("model", "dataset", "layers")
                 and getattr(args, f.name, None) is not None
                 and getattr(args, f.name) is not False}
    if isinstance(overrides.get("augment"), str):
        overrides["augment"] = tuple(a for a in overrides["augment"].split(",") if a)
    return train.TrainConfig(**{**asdict(train.defaults(dataset, args.model)), **overrides}), args


def main(argv: list[str] | None = None) -> int:
    config, args = _parse(sys.argv[1:] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        splits = train.make_splits(config, data.load(config.dataset, "train"), data.load(config.dataset, "test"))
    except data.DatasetUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run = Run.create(config.model)
    bar = tqdm(total=config.epochs, unit="epoch", dynamic_ncols=True)

    def on_batch(p: train.Progress) -> None:
        bar.set_postfix_str(
            f"batch {p.batch}/{p.batches} loss {p.loss:.3f} {p.images_per_s:.0f} img/s ETA {p.eta_s / 60:.1f} min"
        )

    def on_epoch(r: dict[str, float]) -> None:
        bar.update(1)
        tqdm.write(f"epoch {r['epoch']:>2}: train loss {r['train_loss']:.3f} acc {r['train_acc']:.3f} | "
                   f"val loss {r['val_loss']:.3f} acc {r['val_acc']:.3f} | {r['seconds']:.0f} s")

    try:
        with train.seeded(config.seed):  # the starting weights follow the seed too
            model = build_model(config)
        result = train.fit(config, model, splits, run, on_epoch, on_batch,
                           meta=zoo_meta(config.model, config.pretrained))
    except train.TrainingDiverged as exc:
        print(f"\nstopped: {exc}", file=sys.stderr)
        return 3
    bar.close()
    print(f"{result.status} in {result.seconds / 60:.1f} min: " +
          ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()) + f"  (run folder {run.path})")
    if args.ship:
        target = models.ZOO[config.model].checkpoint
        _, meta = checkpoint.load(run.checkpoint)
        checkpoint.save(target, result.model, meta)
        cards.write(config.model, meta, target.with_suffix(".md"))
        print(f"shipped {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
