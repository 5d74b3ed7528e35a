"""Tiny models for scikit-learn's 8x8 digits: input (N, 1, 8, 8), 10 classes.

They are the bundled demo: a whole 2-D surface must compute in seconds on a laptop CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .cifar_resnet import BasicBlock, BasicBlockNoShortcut, CifarResNet


class DigitsMLP(nn.Module):
    """Flatten 64 -> ``hidden`` -> ReLU -> 10."""

    def __init__(self, num_classes: int = 10, hidden: int = 64) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class DigitsCNN(nn.Module):
    """conv(1->8)+BN+ReLU at 8x8, conv(8->16, stride 2)+BN+ReLU at 4x4, flatten, linear."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.linear = nn.Linear(16 * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return self.linear(out.flatten(1))


# Depths of the digits ResNets in the zoo (``digits_resnet{depth}``, with and without skips):
# the paper's depth study (ResNet-20/56/110) at a size a laptop CPU trains in seconds.
DIGITS_RESNET_DEPTHS = (6, 10, 14, 22, 34, 50)


def digits_resnet(shortcut: bool = True, num_classes: int = 10, depth: int = 10) -> CifarResNet:
    """A small ResNet with the CIFAR block layout on 8x8 digits: two stages of widths 8/16
    (8x8, then 4x4), n blocks each, depth = 4n + 2 (``depth`` 10: two blocks per stage)."""
    if depth < 6 or (depth - 2) % 4 != 0:
        raise ValueError(f"digits ResNet depth must be 4n+2 (6, 10, 14, ...), got {depth}")
    n = (depth - 2) // 4
    block = BasicBlock if shortcut else BasicBlockNoShortcut
    return CifarResNet(block, [n, n], num_classes=num_classes, widths=(8, 16), in_channels=1)
