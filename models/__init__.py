"""The model zoo: one registry so every page lists, builds, loads and feeds the models the same way."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from cnnviz.datasets.data import CIFAR10_CLASSES, MNIST_CLASSES
from cnnviz.datasets.images import centre_crop
from cnnviz.training import checkpoint
from cnnviz.training.checkpoint import CheckpointError
from models import cifar_cnn, cifar_cnn_plus, fast_cnn, mnist_cnn, resnet18, unet

ZOO_DIR = Path(__file__).resolve().parent
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CANVAS_MEAN, CANVAS_STD = (0.0382,), (0.1768,)  # the digit canvases' pixel statistics (mostly black)
SEGMENT_CLASSES = ("background", *MNIST_CLASSES)  # label 0 is background, label d + 1 is digit d
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

__all__ = [
    "ModelSpec", "spec",
    "ZOO", "ZooEntry", "CheckpointError", "names", "build", "load", "load_file", "transform", "card", "input_transform",
    "centre_crop",
]


@dataclass(frozen=True)
class ZooEntry:
    """What every page needs to know about one zoo model."""

    name: str
    title: str
    dataset: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    builder: Callable[..., nn.Module]
    about: str
    task: str = "classification"  # or "segmentation": a class per pixel, not per image

    @property
    def checkpoint(self) -> Path:
        """The shipped trained weights and model card."""
        return ZOO_DIR / "checkpoints" / f"{self.name}.pt"


ZOO: dict[str, ZooEntry] = {e.name: e for e in (
    ZooEntry("mnist_cnn", "MNIST CNN (classic, 21,840 params)", "mnist", (1, 28, 28), MNIST_CLASSES,
             MNIST_MEAN, MNIST_STD, mnist_cnn.build,
             "Two 5x5 conv layers and two linear layers: the PyTorch MNIST example."),
    ZooEntry("mnist_fast", "MNIST fast net (batch norm, live demo, 74,992 params)", "mnist", (1, 28, 28), MNIST_CLASSES,
             MNIST_MEAN, MNIST_STD, partial(fast_cnn.build, in_channels=1, widths=(16, 16, 32, 64)),
             "A 3x3 stem and three conv-pool-BN-GELU blocks: 98% on MNIST after about 18,000 images."),
    ZooEntry("cifar_cnn", "CIFAR-10 CNN (classic, 390,410 params)", "cifar10", (3, 32, 32), CIFAR10_CLASSES,
             CIFAR_MEAN, CIFAR_STD, cifar_cnn.build,
             "Three 5x5 conv layers of 32, 64, 128 filters: the assignment network."),
    ZooEntry("cifar_cnn_plus", "CIFAR-10 ResNet-9 (batch norm + residuals, 1.65 M params)", "cifar10", (3, 32, 32),
             CIFAR10_CLASSES, CIFAR_MEAN, CIFAR_STD, cifar_cnn_plus.build,
             "3x3 conv-BN-ReLU blocks with two residual blocks: what batch norm and skip connections add."),
    ZooEntry("cifar_fast", "CIFAR-10 fast net (batch norm, live demo, 295,480 params)", "cifar10", (3, 32, 32),
             CIFAR10_CLASSES, CIFAR_MEAN, CIFAR_STD, fast_cnn.build,
             "A 3x3 stem and three conv-pool-BN-GELU blocks, after airbench: about 77% on CIFAR-10 in two epochs."),
    ZooEntry("resnet18", "ResNet18 (torchvision, 11.2 M params)", "cifar10", (3, 32, 32), CIFAR10_CLASSES,
             CIFAR_MEAN, CIFAR_STD, resnet18.build,
             "torchvision's ResNet18 with a 10-class head; its first layer upsamples the 32x32 images to 64x64, so "
             "the ImageNet stem's two stride-2 steps leave 16x16 maps, not 8x8."),
    ZooEntry("unet", "U-Net (digit segmentation, 482,619 params)", "m2nist", (1, 64, 84), SEGMENT_CLASSES,
             CANVAS_MEAN, CANVAS_STD, unet.build,
             "Three levels down, three up, skip connections: a class for every pixel of a 64x84 digit canvas.",
             "segmentation"),
    ZooEntry("unet-nearest", "U-Net, nearest-neighbour upsampling (segmentation, 536,379 params)", "m2nist",
             (1, 64, 84), SEGMENT_CLASSES, CANVAS_MEAN, CANVAS_STD, partial(unet.build, upsample="nearest"),
             "The U-Net with each transposed convolution replaced by nearest-neighbour copies and a 3x3 conv.",
             "segmentation"),
)}


@dataclass(frozen=True)
class ModelSpec:
    """What every page needs to know about one trained model: read from its checkpoint, the zoo as fallback."""

    choice: str                       # what the model picker returned: a zoo name or a checkpoint path
    title: str
    dataset: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    arch: str                         # zoo architecture name, or "custom" (a network description)
    arch_args: str                    # the builder's keyword arguments as sorted JSON: hashable, a cache key
    checkpoint: Path
    task: str = "classification"      # or "segmentation"

    @property
    def in_zoo(self) -> bool:
        return self.choice in ZOO

    def transform(self) -> Callable[[Image.Image], torch.Tensor]:
        """PIL image -> this model's normalised input tensor (C, H, W)."""
        return input_transform(self.input_shape, self.mean, self.std)

    def untrained(self) -> nn.Module:
        """A freshly initialised network of this architecture (the caller seeds it)."""
        return _architecture({"arch": self.arch, "arch_args": json.loads(self.arch_args),
                              "input_shape": list(self.input_shape)})


def spec(choice: str, meta: dict[str, Any] | None = None) -> ModelSpec:
    """The ModelSpec of a zoo name, or of a checkpoint file from its own `meta` (read from the file when None).

    Raises:
        CheckpointError: `choice` is neither a zoo name nor a readable cnnviz checkpoint.
    """
    if choice in ZOO:
        e = ZOO[choice]
        return ModelSpec(choice, e.title, e.dataset, tuple(e.input_shape), tuple(e.classes), tuple(e.mean),
                         tuple(e.std), choice, "{}", e.checkpoint, e.task)
    path = Path(choice)
    meta = checkpoint.load(path)[1] if meta is None else meta
    title = f"run {path.parent.name}" if path.name == "checkpoint.pt" else path.stem
    dataset = meta.get("dataset") or meta.get("config", {}).get("dataset", "")
    return ModelSpec(choice, title, dataset, tuple(meta["input_shape"]), tuple(meta.get("classes", [])),
                     tuple(meta["mean"]), tuple(meta["std"]), meta["arch"],
                     json.dumps(meta.get("arch_args", {}), sort_keys=True), path, meta.get("task", "classification"))


def names(task: str | None = None) -> list[str]:
    """Zoo model names in display order; only those of `task` ("classification", "segmentation") when given."""
    return [n for n, e in ZOO.items() if task is None or e.task == task]


def build(name: str, **kwargs: Any) -> nn.Module:
    """A freshly initialised (untrained) model of zoo architecture `name`."""
    if name not in ZOO:
        raise KeyError(f"Unknown model {name!r}; the zoo has {', '.join(ZOO)}")
    return ZOO[name].builder(**kwargs)


def _architecture(meta: dict[str, Any]) -> nn.Module:
    """Rebuild the untrained network a checkpoint's meta describes (zoo name, custom layer list or transfer)."""
    arch, args = meta["arch"], dict(meta.get("arch_args", {}))
    if arch == "custom":
        from cnnviz.nets import builder

        return builder.build(args["layers"], tuple(meta["input_shape"]))
    if arch == "transfer":  # a zoo network's trunk and a new head (the Teach page, cnnviz.training.teach)
        from cnnviz.training import teach

        return teach.transfer_net(build(args["base"]), int(args["classes"]))
    return build(arch, **args)


def load_file(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A trained model (eval mode, CPU) and its meta from any cnnviz checkpoint file.

    Raises:
        CheckpointError: the file is missing, damaged or does not fit its architecture.
    """
    state, meta = checkpoint.load(path)
    return checkpoint.restore(_architecture(meta), state, meta["arch"]), meta


def load(name: str) -> nn.Module:
    """The shipped trained zoo model `name`, in eval mode on the CPU."""
    return load_file(ZOO[name].checkpoint)[0]


def card(name: str) -> dict[str, Any]:
    """The model card stored in the shipped checkpoint of `name` (empty when there is none)."""
    try:
        return checkpoint.load(ZOO[name].checkpoint)[1].get("card", {})
    except CheckpointError:
        return {}


def input_transform(input_shape: tuple[int, int, int], mean: tuple[float, ...], std: tuple[float, ...]
                    ) -> Callable[[Image.Image], torch.Tensor]:
    """PIL image -> normalised (C, H, W) tensor: colour mode, centre crop and resize to the input size, normalise."""
    channels, height, width = input_shape
    mean_t = torch.tensor(mean).view(-1, 1, 1)
    std_t = torch.tensor(std).view(-1, 1, 1)

    def apply(image: Image.Image) -> torch.Tensor:
        image = image.convert("L" if channels == 1 else "RGB")
        if image.size != (width, height):
            image = centre_crop(image, width, height).resize((width, height), Image.BILINEAR)
        x = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        x = x.view(height, width, channels).permute(2, 0, 1).float() / 255  # (C, H, W)
        return (x - mean_t) / std_t

    return apply


def transform(name: str) -> Callable[[Image.Image], torch.Tensor]:
    """The callable that turns a PIL image into zoo model `name`'s input tensor (C, H, W)."""
    entry = ZOO[name]
    return input_transform(entry.input_shape, entry.mean, entry.std)
