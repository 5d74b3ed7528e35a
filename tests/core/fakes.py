"""Small stand-ins shared by the engine tests: data and directions duck-typed as the
engine's, and a tiny conv + BN + linear model."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor


@dataclass
class Data:
    train: Split
    test: Split | None = None


@dataclass
class Dirs:
    x: list
    y: list | None
    dir_type: str = "weights"


class TinyNet(nn.Module):
    """conv + BN + linear on 8x8 inputs: 2,986 parameters."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 6 * 6, classes)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))
