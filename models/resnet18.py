"""torchvision's ResNet18 with a 10-class head, from scratch or from ImageNet weights (transfer learning)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from torchvision.models import ResNet18_Weights
from torchvision.models.resnet import BasicBlock, ResNet

if TYPE_CHECKING:
    from collections.abc import Callable

    from PIL import Image

    from models import ModelSpec


class WeightsUnavailable(RuntimeError):
    """ImageNet weights are neither cached, nor given as a file, nor downloadable."""


UPSCALE = 2  # CIFAR's 32 px images are seen at 64 px, as the ImageNet-weights reports upsampled them


class UpsampledResNet18(ResNet):
    """torchvision's ResNet18 that first resizes its input `scale` times (bilinear).

    The ImageNet stem (7x7 stride-2 conv, then a stride-2 max-pool) shrinks a 32 px image to 8x8 before the first
    block and loses what a CIFAR photo shows; at 64 px the blocks work on 16x16. The resize is a layer of the model,
    holding no weights, so checkpoints and ImageNet weights keep torchvision's keys and every page feeds 32 px.
    """

    def __init__(self, num_classes: int = 1000, scale: int = UPSCALE) -> None:
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        resize = nn.Upsample(scale_factor=scale, mode="bilinear", align_corners=False) if scale != 1 else nn.Identity()
        self._modules = {"upsample": resize, **self._modules}  # first in the layer tables, as it runs first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.upsample(x))


def build(num_classes: int = 10, scale: int = UPSCALE) -> nn.Module:
    """ResNet18 with its ImageNet stem kept (so ImageNet weights fit), a fresh `num_classes` head, fed images
    upsampled `scale` times."""
    return UpsampledResNet18(num_classes, scale)


def imagenet_state_dict(path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """ImageNet weights from `path`, torchvision's cache or, online, a download; else WeightsUnavailable."""
    weights = ResNet18_Weights.IMAGENET1K_V1
    if path is not None:
        return torch.load(path, map_location="cpu", weights_only=True)
    cached = imagenet_cache_file()
    try:
        return weights.get_state_dict(progress=False, check_hash=not cached.is_file())
    except Exception as exc:  # URLError / OSError offline, RuntimeError on a damaged file
        raise WeightsUnavailable(missing_weights(cached, exc)) from exc


def missing_weights(cached: Path, exc: BaseException | None = None) -> str:
    """What to do when the ImageNet weights are not on this computer: said for a student, not as a raw urlopen."""
    offline = exc is None or isinstance(exc, OSError)  # urllib's URLError is an OSError
    why = ("and this computer could not download them (no internet connection)" if offline
           else f"and the file there could not be read ({type(exc).__name__})")
    return (f"ResNet18's ImageNet weights are not on this computer ({cached.name} in {cached.parent}) {why}. "
            "To use them: connect to the internet and start again (torchvision downloads 45 MB once), or copy "
            f"{cached.name} into {cached.parent} from a computer where `python -c \"import torchvision; "
            "torchvision.models.resnet18(weights='IMAGENET1K_V1')\"` has run. Or untick *Start from ImageNet "
            "weights* to train from scratch.")


def imagenet_cache_file() -> Path:
    """Where torchvision keeps ResNet18's ImageNet weights once downloaded (the file may be absent)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(ResNet18_Weights.IMAGENET1K_V1.url)


def imagenet_transform() -> Callable[[Image.Image], torch.Tensor]:
    """ImageNet's own recipe, PIL image -> (3, 224, 224): shorter side to 256, the centre 224x224, ImageNet's mean
    and std (`.mean`, `.std`).
    """
    return ResNet18_Weights.IMAGENET1K_V1.transforms()


def build_pretrained(num_classes: int = 10, path: str | Path | None = None) -> nn.Module:
    """ResNet18 with ImageNet features and a fresh head for transfer learning."""
    model = UpsampledResNet18(1000)
    model.load_state_dict(imagenet_state_dict(path))
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def imagenet_categories() -> list[str]:
    """The 1,000 ImageNet class names from the weights' metadata (shipped with torchvision)."""
    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def imagenet_spec(path: Path, mean: tuple[float, ...], std: tuple[float, ...]) -> ModelSpec:
    """The ModelSpec of torchvision's ResNet18 with the ImageNet weights in file `path` (224 px, 1,000 classes)."""
    from models import ModelSpec  # the registry imports this module: import it when called

    return ModelSpec("resnet18", "ResNet18 with ImageNet weights (torchvision)", "cifar10", (3, 224, 224),
                     tuple(imagenet_categories()), mean, std, "resnet18", '{"num_classes": 1000, "scale": 1}',
                     Path(path))
