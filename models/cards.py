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
        "## Confusion matrix (rows: true class, columns: predicted)",
        "",
        "| | " + " | ".join(classes) + " |",
        "| --- " * (len(classes) + 1) + "|",
        *[f"| **{c}** | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(classes, card["confusion"])],
        "",
        "## Training curves",
        "",
        f"![curves]({path.with_suffix('.png').name})",
        "",
        "| epoch | train loss | train acc | val loss | val acc | lr | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {h['epoch']} | {h['train_loss']:.4f} | {h['train_acc']:.2%} | {h['val_loss']:.4f} | {h['val_acc']:.2%} "
          f"| {h['lr']:.4g} | {h['seconds']:.0f} |" for h in card["history"]],
        "",
    ]
    path.write_text("\n".join(lines))
