"""VGG-9 for CIFAR-10 with the reference implementation's module names.

As tomgoldstein/loss-landscape ``cifar10/models/vgg.py``: ``features`` (3x3 conv with bias,
BatchNorm2d, ReLU; ceil-mode 2x2 max pools), ``fc`` (Linear, BatchNorm1d, ReLU) and
``classifier``, so the reference's VGG-9 checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

CFG: dict[str, list[int | str]] = {
    "VGG9": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"],
}


class VGG(nn.Module):
    """A VGG network from a layer list: integers are conv widths, ``'M'`` a max pool."""

    def __init__(self, cfg: Sequence[int | str], num_classes: int = 10, input_size: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels, size = 3, input_size
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))
                size = -(-size // 2)
            else:
                layers += [
                    nn.Conv2d(in_channels, int(v), 3, padding=1),
                    nn.BatchNorm2d(int(v)),
                    nn.ReLU(),
                ]
                in_channels = int(v)
        self.features = nn.Sequential(*layers)
        n_maps = in_channels
        self.fc = nn.Sequential(
            nn.Linear(n_maps * size * size, n_maps), nn.BatchNorm1d(n_maps), nn.ReLU()
        )
        self.classifier = nn.Linear(n_maps, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.fc(self.features(x).flatten(1)))


def vgg9(num_classes: int = 10) -> VGG:
    """The reference's VGG-9 (7 conv layers + 2 fully connected)."""
    return VGG(CFG["VGG9"], num_classes=num_classes)
