"""The classic small MNIST network of the PyTorch examples and first assignments (21,840 parameters)."""
from collections import OrderedDict

from torch import nn


def build(num_classes: int = 10) -> nn.Sequential:
    """conv 1->10 (5x5), pool, ReLU; conv 10->20 (5x5), dropout, pool, ReLU; 320->50->classes."""
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 10, kernel_size=5),   # (B, 10, 24, 24)
        pool1=nn.MaxPool2d(2),                   # (B, 10, 12, 12)
        relu1=nn.ReLU(),
        conv2=nn.Conv2d(10, 20, kernel_size=5),  # (B, 20, 8, 8)
        drop1=nn.Dropout2d(0.5),
        pool2=nn.MaxPool2d(2),                   # (B, 20, 4, 4)
        relu2=nn.ReLU(),
        flatten=nn.Flatten(),                    # (B, 320)
        fc1=nn.Linear(320, 50),
        relu3=nn.ReLU(),
        drop2=nn.Dropout(0.5),
        fc2=nn.Linear(50, num_classes),
    ))
