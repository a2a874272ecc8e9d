"""Model cards: the Markdown page (and curve plot) written beside each shipped checkpoint."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import models


def per_class_accuracy(confusion: list[list[int]]) -> list[float]:
    """Diagonal over row sums: the share of each true class predicted correctly."""
    return [row[i] / max(1, sum(row)) for i, row in enumerate(confusion)]


def _curves_png(history: list[dict[str, float]], path: Path) -> None:
    """Loss and accuracy curves (train and validation) as one small PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=100)
    for ax, key, title in ((ax1, "loss", "loss"), (ax2, "acc", "accuracy")):
        ax.plot(epochs, [h[f"train_{key}"] for h in history], "o-", label="train")
        ax.plot(epochs, [h[f"val_{key}"] for h in history], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(name: str, meta: dict[str, Any], path: Path) -> None:
    """Write the model card of zoo model `name` from its checkpoint meta."""
    card, config = meta["card"], meta["config"]
    params = sum(p.numel() for p in models.build(name).parameters())
    metrics = card["metrics"]
    classes = card["classes"]
    per_class = per_class_accuracy(card["confusion"])
    _curves_png(card["history"], path.with_suffix(".png"))
    lines = [
        f"# Model card: {name}",
        "",
        f"**{meta['title']}**. {models.ZOO[name].about}",
        "",
        f"- Parameters: {params:,}",
        f"- Data: {meta['dataset']} ({config['val_fraction']:.0%} of the training split held out for validation; "
        f"official test set{' subset of ' + str(config['test_limit']) if config['test_limit'] else ''})",
        f"- Input: {tuple(meta['input_shape'])}, normalised with mean {[round(m, 4) for m in meta['mean']]} "
        f"and std {[round(s, 4) for s in meta['std']]}",
        f"- Start: {'ImageNet weights' if meta.get('pretrained') else 'random initialisation'}",
        f"- Training: {card['status']} after {len(card['history'])} epochs in {card['seconds'] / 60:.1f} min "
        f"on {card['device']}; best validation epoch {card['best_epoch']}",
        f"- Config: `{ {k: v for k, v in config.items() if k != 'layers'} }`",
        "",
        "| split | loss | accuracy |",
        "| --- | --- | --- |",
        *[f"| {s} | {metrics[f'{s}_loss']:.4f} | {metrics[f'{s}_acc']:.2%} |" for s in ("train", "val", "test")
          if f"{s}_loss" in metrics],
        "",
        "## Per-class test accuracy",
        "",
        "| class | accuracy |",
        "| --- | --- |",
        *[f"| {c} | {a:.1%} |" for c, a in zip(classes, per_class)],
        "",
        *_confusion_and_curves("Confusion matrix", classes, card["confusion"], path),
        "| epoch | train loss | train acc | val loss | val acc | lr | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {h['epoch']} | {h['train_loss']:.4f} | {h['train_acc']:.2%} | {h['val_loss']:.4f} | {h['val_acc']:.2%} "
          f"| {h['lr']:.4g} | {h['seconds']:.0f} |" for h in card["history"]],
        "",
    ]
    path.write_text("\n".join(lines))


def _confusion_and_curves(title: str, classes: list[str], confusion: list[list[int]], path: Path) -> list[str]:
    """The card's confusion matrix as a Markdown table, then the heading and picture of its training curves."""
    return [f"## {title} (rows: true class, columns: predicted)", "",
            "| | " + " | ".join(classes) + " |", "| --- " * (len(classes) + 1) + "|",
            *[f"| **{c}** | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(classes, confusion)],
            "", "## Training curves", "", f"![curves]({path.with_suffix('.png').name})", ""]


def _segmentation_png(history: list[dict[str, float]], path: Path) -> None:
    """Training loss and the test set's mean IoU and foreground F1 per epoch, as one small PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=100)
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.set_title("per-pixel cross-entropy")
    for key, label in (("mean_iou", "mean IoU (digits)"), ("foreground_f1", "foreground F1")):
        ax2.plot(epochs, [h[key] for h in history], "o-", label=label)
    ax2.set_title("test canvases")
    for ax in (ax1, ax2):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_segmentation(name: str, meta: dict[str, Any], path: Path) -> None:
    """Write the model card of segmentation zoo model `name` from its checkpoint meta (models.train_unet's)."""
    card, metrics, classes = meta["card"], meta["metrics"], meta["classes"]
    params = sum(p.numel() for p in models.build(name).parameters())
    config = card["config"]
    seconds = sum(h["seconds"] for h in card["history"])
    _segmentation_png(card["history"], path.with_suffix(".png"))
    lines = [
        f"# Model card: {name}",
        "",
        f"**{meta['title']}**. {models.ZOO[name].about}",
        "",
        f"- Parameters: {params:,}",
        f"- Variant: `{meta['arch_args']}`",
        f"- Data: {config['train']:,} training canvases (MNIST training digits, seed {config['seed']}) and "
        f"{metrics['test_canvases']:,} test canvases (MNIST test digits, seed 1), 64 x 84, 1 to 3 digits each",
        f"- Input: {tuple(meta['input_shape'])}, normalised with mean {meta['mean']} and std {meta['std']}",
        f"- Training: Adam, one-cycle to lr {config['lr']}, batch {config['batch']}, {metrics['epoch']} epochs "
        f"(the last one's weights are shipped); {seconds / 60:.0f} min on {card['device']}",
        "",
        "| metric (test canvases) | value |",
        "| --- | --- |",
        f"| mean IoU over the ten digit classes | {metrics['mean_iou']:.4f} |",
        f"| foreground F1 (digit vs background) | {metrics['foreground_f1']:.4f} |",
        f"| pixel accuracy | {metrics['pixel_accuracy']:.4f} |",
        "",
        "## IoU per class",
        "",
        "| class | IoU |",
        "| --- | --- |",
        *[f"| {c} | {v:.3f} |" for c, v in zip(classes, card["iou"])],
        "",
        *_confusion_and_curves("Pixel confusion matrix", classes, card["confusion"], path),
        "| epoch | train loss | test mean IoU | test foreground F1 | pixel accuracy | seconds |",
        "| --- | --- | --- | --- | --- | --- |",
        *[f"| {h['epoch']} | {h['train_loss']:.4f} | {h['mean_iou']:.4f} | {h['foreground_f1']:.4f} | "
          f"{h['pixel_accuracy']:.4f} | {h['seconds']:.0f} |" for h in card["history"]],
        "",
    ]
    path.write_text("\n".join(lines))
