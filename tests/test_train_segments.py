"""Training the U-Net through the one training loop: per-pixel loss and accuracy, pixel metrics per epoch, and a
checkpoint that rebuilds itself and scores what cnnviz.results.segmentation scores. Stand-in digits, no data."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import models
from cnnviz.datasets import segments
from cnnviz.datasets.data import ImageSet
from cnnviz.results import segmentation
from cnnviz.training import segment, train
from cnnviz.training.runs import Run
from models import unet

WIDTH = 4  # channels of the tiny U-Net's first level


def digits(n: int = 50) -> ImageSet:
    """Stand-in 28 x 28 digits: digit d is a bright bar starting at column 2d, so each class looks different."""
    labels = torch.arange(n) % 10
    images = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    for i, d in enumerate(labels.tolist()):
        images[i, 0, 4:24, 2 * d:2 * d + 8] = 255
    return ImageSet("bars", "train", images, labels, [str(d) for d in range(10)])


def canvases(count: int, seed: int) -> segments.Canvases:
    return segments.make(digits(), count, seed)


def config(**overrides) -> train.TrainConfig:
    base = train.TrainConfig(segment.DATASET, "unet", optimizer="adam", lr=0.01, batch_size=8, epochs=1, augment=(),
                             label_smoothing=0.0, weight_decay=0.0, schedule="none", val_fraction=0.25)
    return replace(base, **overrides)


def tiny_unet(cfg: train.TrainConfig) -> tuple[nn.Module, dict]:
    """A seeded U-Net of WIDTH channels and the checkpoint meta that rebuilds it."""
    meta = segment.meta(cfg)
    meta["arch_args"]["width"] = WIDTH
    with train.seeded(cfg.seed):
        return models.build(meta["arch"], **meta["arch_args"]), meta


def as_canvases(part: ImageSet) -> segments.Canvases:
    """A split of the loop back as Canvases (what cnnviz.results.segmentation.evaluate reads)."""
    unused = torch.full((len(part), segments.MAX_DIGITS), -1)
    return segments.Canvases("train", part.images, part.labels, unused, unused[..., None].expand(-1, -1, 2), unused)


def test_a_tiny_unet_trains_and_its_checkpoint_scores_what_segmentation_evaluate_scores() -> None:
    cfg = config()
    test = canvases(24, seed=1)
    splits = train.make_splits(cfg, segment.as_imageset(canvases(64, seed=0)), segment.as_imageset(test))
    model, meta = tiny_unet(cfg)
    run = Run.create("tiny-unet")
    result = train.fit(cfg, model, splits, run, meta=meta)

    (row,) = run.history()
    assert set(row) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_mean_iou",
                        "val_foreground_f1", "lr", "seconds"}
    metrics = run.info()["metrics"]
    assert {"test_acc", "test_mean_iou", "test_foreground_f1", "train_loss", "val_mean_iou"} <= set(metrics)
    assert all(isinstance(v, float) for v in metrics.values())

    reloaded, saved = models.load_file(run.checkpoint)
    assert saved["arch"] == "unet" and saved["task"] == "segmentation" and saved["dataset"] == "m2nist"
    assert saved["arch_args"] == {"upsample": "transposed", "activation": "relu", "skips": True, "width": WIDTH}
    assert saved["input_shape"] == [1, 64, 84] and saved["classes"] == list(segments.CLASSES)
    assert saved["mean"] == splits.mean and saved["std"] == splits.std
    for split, data in (("test", test), ("val", as_canvases(splits.val))):
        truth = segmentation.evaluate(reloaded, data, saved["mean"], saved["std"])
        assert metrics[f"{split}_mean_iou"] == pytest.approx(truth.mean_iou, nan_ok=True)
        assert metrics[f"{split}_foreground_f1"] == pytest.approx(truth.foreground_f1)
        assert metrics[f"{split}_acc"] == pytest.approx(truth.pixel_accuracy)
    assert row["val_mean_iou"] == pytest.approx(metrics["val_mean_iou"], nan_ok=True)  # one epoch: the saved one
    pixels = segmentation.evaluate(reloaded, test, saved["mean"], saved["std"]).confusion.tolist()
    assert result.confusion == saved["card"]["confusion"] == pixels  # the test set's pixel confusion


def test_the_loss_falls_over_a_few_steps() -> None:
    cfg = config(epochs=2, batch_size=8, val_fraction=0.0)
    splits = train.make_splits(cfg, segment.as_imageset(canvases(48, seed=0)), segment.as_imageset(canvases(8, 1)))
    model, _ = tiny_unet(cfg)
    before = segment.measure(model, splits.train, splits.mean, splits.std)[0]["loss"]
    result = train.fit(cfg, model, splits)  # 12 steps
    after = segment.measure(result.model, splits.train, splits.mean, splits.std)[0]["loss"]
    assert after < 0.7 * before
    assert result.history[1]["train_loss"] < result.history[0]["train_loss"]


def test_a_run_of_a_few_steps_takes_the_one_cycle_schedule() -> None:
    cfg = config(schedule="onecycle", epochs=2, batch_size=16, val_fraction=0.0)  # 2 x 2 steps
    splits = train.make_splits(cfg, segment.as_imageset(canvases(32, seed=0)), segment.as_imageset(canvases(4, 1)))
    result = train.fit(cfg, tiny_unet(cfg)[0], splits)
    assert result.status == "finished" and result.history[0]["lr"] == pytest.approx(cfg.lr / 10)  # warming up


def test_measure_equals_torch_cross_entropy_and_the_pixel_scores() -> None:
    part = segment.as_imageset(canvases(13, seed=2))
    model, _ = tiny_unet(config())
    mean, std = [0.1], [0.3]
    found, counts = segment.measure(model.eval(), part, mean, std, batch_size=5)  # 3 batches, the last short
    with torch.no_grad():
        logits = model((part.images.float() / 255 - 0.1) / 0.3)  # (13, 11, 64, 84)
    assert found["loss"] == pytest.approx(F.cross_entropy(logits, part.labels).item(), rel=1e-5)
    truth = segmentation.scores(logits.argmax(1), part.labels, len(segments.CLASSES))
    assert torch.equal(counts, torch.from_numpy(truth.confusion))
    assert (found["acc"], found["foreground_f1"]) == (truth.pixel_accuracy, truth.foreground_f1)


class Background(nn.Module):
    """Calls every pixel background whatever it sees (its one weight barely moves at a tiny learning rate)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([5.0] + [0.0] * 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.view(1, -1, 1, 1).expand(len(x), -1, *x.shape[-2:])  # (B, 11, H, W)


def test_training_accuracy_counts_pixels_not_canvases() -> None:
    cfg = config(optimizer="sgd", lr=1e-6, val_fraction=0.0)
    splits = train.make_splits(cfg, segment.as_imageset(canvases(20, seed=0)), segment.as_imageset(canvases(4, 1)))
    result = train.fit(cfg, Background(), splits)
    share = segments.class_shares(splits.train.labels)[0]  # background's share of the training pixels
    assert result.history[0]["train_acc"] == pytest.approx(share)


def test_only_colour_augmentation_is_allowed_on_canvases() -> None:
    with pytest.raises(ValueError, match="move each pixel away from its label"):
        config(augment=("flip",))
    assert config(augment=("jitter",)).augment == ("jitter",)
    assert train.TrainConfig("mnist", "mnist_cnn", augment=("flip", "crop")).augment == ("flip", "crop")
    defaults = train.defaults(segment.DATASET, "unet")
    assert defaults.augment == () and defaults.train_limit == 2000 and defaults.epochs == 3


@pytest.mark.parametrize("upsample, activation, skips", [("nearest", "elu", False), ("transposed", "relu", True)])
def test_the_meta_rebuilds_each_variant(upsample: str, activation: str, skips: bool) -> None:
    cfg = config(upsample=upsample, activation=activation, skips=skips)
    meta = segment.meta(cfg)
    rebuilt = models.build(meta["arch"], **meta["arch_args"]).state_dict()
    expected = unet.build(upsample, activation, skips).state_dict()
    assert {k: v.shape for k, v in rebuilt.items()} == {k: v.shape for k, v in expected.items()}
    assert upsample in segment.title(cfg) and ("no skips" in segment.title(cfg)) == (not skips)
