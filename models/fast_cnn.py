"""A small batch-norm network that learns in seconds on a CPU: the live-demo networks for MNIST and CIFAR-10.

Shaped after Keller Jordan's airbench (the fastest known CIFAR-10 training recipes): a stem convolution, three
blocks of conv-pool-BN-GELU-conv-BN-GELU, a global max-pool and a bias-free linear head whose logits are scaled
down, narrowed here so that two CPU cores push about a thousand CIFAR images a second through it.
"""
from collections import OrderedDict

from torch import nn

from models.cifar_cnn_plus import Scale


def block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 conv, 2x2 max-pool, BN, GELU, 3x3 conv, BN, GELU: halves the size, the pool before the costly BN."""
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        pool=nn.MaxPool2d(2),
        bn1=nn.BatchNorm2d(c_out),
        act1=nn.GELU(),
        conv2=nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        bn2=nn.BatchNorm2d(c_out),
        act2=nn.GELU(),
    ))


def build(num_classes: int = 10, in_channels: int = 3, widths: tuple[int, int, int, int] = (24, 32, 64, 128)
          ) -> nn.Sequential:
    """stem conv -> three blocks (each halves the size) -> global max-pool -> linear (x 1/9: a calm softmax early)."""
    stem, *rest = widths
    return nn.Sequential(OrderedDict(
        stem=nn.Conv2d(in_channels, stem, 3, padding=1, bias=False),
        stem_bn=nn.BatchNorm2d(stem),
        stem_act=nn.GELU(),
        block1=block(stem, rest[0]),
        block2=block(rest[0], rest[1]),
        block3=block(rest[1], rest[2]),
        pool=nn.AdaptiveMaxPool2d(1),
        flatten=nn.Flatten(),
        fc=nn.Linear(rest[2], num_classes, bias=False),
        scale=Scale(1 / 9),
    ))
