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


def randomize_bn(model: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters (eval mode then matters)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.2)
    return model


def small_cnn(seed: int = 0, bn_stats: bool = True) -> nn.Sequential:
    """Two conv + BN pairs (one conv with a bias, one without) and a linear head, 8x8 → 5."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 5),
    )
    return randomize_bn(model) if bn_stats else model
