"""CIFAR ResNets (He et al.) with the reference implementation's module names.

Parameter and buffer names equal those of tomgoldstein/loss-landscape
``cifar10/models/resnet.py`` (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.shortcut.0``,
``linear``), so its published ``.t7`` checkpoints load unchanged. ``forward`` has no
data-dependent control flow, so ``torch.fx`` can trace it (BatchNorm folding relies on that).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN layers with a skip connection (1x1 conv + BN when the shape changes)."""

    expansion = 1
    skip = True

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if not self.skip:
            return
        # An empty Sequential is the identity; the reference names the projection "shortcut".
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes * self.expansion:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes * self.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * self.expansion),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.skip:  # a class constant: torch.fx traces one branch
            # Out of place (the reference uses +=): safe under autograd and torch.func.
            out = out + self.shortcut(x)
        return F.relu(out)


class BasicBlockNoShortcut(BasicBlock):
    """The reference's ``BasicBlock_noshortcut``: the same block without the skip connection."""

    skip = False


class CifarResNet(nn.Module):
    """The reference's ``ResNet_cifar``: conv1 + bn1, one stage per width, global pool, linear.

    ``widths`` (16, 32, 64) and ``in_channels`` 3 give the CIFAR layout; the first stage keeps
    the resolution and every later stage halves it. Global average pooling equals the
    reference's ``avg_pool2d(out, 8)`` on 32x32 inputs and also works on smaller images.
    """

    def __init__(
        self,
        block: type[nn.Module],
        num_blocks: Sequence[int],
        num_classes: int = 10,
        widths: Sequence[int] = (16, 32, 64),
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if len(widths) != len(num_blocks):
            raise ValueError("one width per stage is needed")
        self.in_planes = widths[0]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        for i, (width, n) in enumerate(zip(widths, num_blocks, strict=True)):
            setattr(self, f"layer{i + 1}", self._make_layer(block, width, n, 1 if i == 0 else 2))
        self.num_stages = len(widths)
        self.linear = nn.Linear(widths[-1] * block.expansion, num_classes)

    def _make_layer(
        self, block: type[nn.Module], planes: int, n: int, stride: int
    ) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        for i in range(self.num_stages):  # a fixed count: unrolled by torch.fx
            out = getattr(self, f"layer{i + 1}")(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def cifar_resnet(depth: int, shortcut: bool = True, num_classes: int = 10) -> CifarResNet:
    """ResNet-``depth`` for CIFAR (depth = 6n + 2: 20, 32, 44, 56, 110), with or without skips."""
    if (depth - 2) % 6 != 0:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
    n = (depth - 2) // 6
    block = BasicBlock if shortcut else BasicBlockNoShortcut
    return CifarResNet(block, [n, n, n], num_classes=num_classes)
