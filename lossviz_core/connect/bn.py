"""BatchNorm's running statistics re-estimated for the weights a model holds now.

Points on a curve (or a plane) between two solutions are networks nobody trained, so
neither model's BatchNorm statistics fit them; the curve literature re-estimates them at
each point with one pass over the training data (Garipov et al.'s ``update_bn``): running
statistics reset, then each batch of ``batch_size`` examples in order with momentum
b / (n + b) (n examples seen, b in the batch), so the statistics are the batches'
statistics averaged with their sizes as weights; BatchNorm layers in training mode,
everything else (dropout) in evaluation mode.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lossviz_core.data.base import StreamSplit

BATCH = 256


def batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The model's BatchNorm layers that keep running statistics."""
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recompute_bn(model: nn.Module, split: Any, batch_size: int = BATCH) -> bool:
    """Re-estimate the running statistics of ``model``'s BatchNorm layers from ``split``
    (tensors or a stream); False when the model has none. The model is left in eval mode."""
    layers = batchnorms(model)
    if not layers:
        return False
    momenta = [m.momentum for m in layers]
    model.eval()
    for m in layers:
        m.reset_running_stats()
        m.train()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    seen = 0
    try:
        for xb in _inputs(split, batch_size):
            b = int(xb.shape[0])
            for m in layers:
                m.momentum = b / (seen + b)
            model(xb.to(device, non_blocking=True))
            seen += b
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
            m.eval()
    return True


def _inputs(split: Any, batch_size: int):
    if isinstance(split, StreamSplit):
        for xb, _ in split.loader(batch_size):
            yield xb
        return
    x = split.x
    for s in range(0, x.shape[0], batch_size):
        yield x[s:s + batch_size]
