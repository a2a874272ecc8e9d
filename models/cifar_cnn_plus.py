"""A ResNet-9 for CIFAR-10: the classic network plus batch norm, more convolutions and two residual blocks."""
from collections import OrderedDict

import torch
from torch import nn


def conv_bn(c_in: int, c_out: int, pool: bool = False) -> nn.Sequential:
    """3x3 conv, batch norm, ReLU and an optional 2x2 max-pool: the network's only building block."""
    layers = OrderedDict(conv=nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                         bn=nn.BatchNorm2d(c_out), relu=nn.ReLU())
    if pool:
        layers["pool"] = nn.MaxPool2d(2)
    return nn.Sequential(layers)


class Residual(nn.Module):
    """x + f(x) with f two conv_bn blocks: the skip connection that lets deeper nets train."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block1 = conv_bn(channels, channels)
        self.block2 = conv_bn(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block2(self.block1(x))


class Scale(nn.Module):
    """Multiply logits by a constant, which keeps the softmax from saturating early in training."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def build(num_classes: int = 10) -> nn.Sequential:
    """prep 32 -> 64 (pool) + residual -> 128 (pool) -> 256 (pool) + residual -> global max-pool -> classes."""
    return nn.Sequential(OrderedDict(
        prep=conv_bn(3, 32),                    # (B, 32, 32, 32)
        layer1=conv_bn(32, 64, pool=True),      # (B, 64, 16, 16)
        res1=Residual(64),
        layer2=conv_bn(64, 128, pool=True),     # (B, 128, 8, 8)
        layer3=conv_bn(128, 256, pool=True),    # (B, 256, 4, 4)
        res2=Residual(256),
        pool=nn.AdaptiveMaxPool2d(1),           # (B, 256, 1, 1)
        flatten=nn.Flatten(),
        fc=nn.Linear(256, num_classes),
        scale=Scale(0.125),
    ))
