"""The classic CIFAR-10 assignment network: three 5x5 conv layers of 32, 64, 128 filters (390,410 parameters)."""
from collections import OrderedDict

from torch import nn


def build(num_classes: int = 10) -> nn.Sequential:
    """Each conv (stride 1, padding 2) is followed by ReLU and a 2x2 max-pool; then 2048->64->classes."""
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 32, kernel_size=5, padding=2),    # (B, 32, 32, 32)
        relu1=nn.ReLU(),
        pool1=nn.MaxPool2d(2),                               # (B, 32, 16, 16)
        conv2=nn.Conv2d(32, 64, kernel_size=5, padding=2),   # (B, 64, 16, 16)
        relu2=nn.ReLU(),
        pool2=nn.MaxPool2d(2),                               # (B, 64, 8, 8)
        conv3=nn.Conv2d(64, 128, kernel_size=5, padding=2),  # (B, 128, 8, 8)
        relu3=nn.ReLU(),
        pool3=nn.MaxPool2d(2),                               # (B, 128, 4, 4)
        flatten=nn.Flatten(),                                # (B, 2048)
        fc1=nn.Linear(2048, 64),
        relu4=nn.ReLU(),
        fc2=nn.Linear(64, num_classes),
    ))
