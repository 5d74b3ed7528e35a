"""The built-in losses: ``ce`` (with label smoothing), ``nll``, ``mse`` and ``bce``."""

from __future__ import annotations

from torch import Tensor

from lossviz_core.losses.base import Loss, builtin_stats


def _classes(targets: Tensor, per_sample_output: tuple[int, ...]) -> bool:
    return not targets.is_floating_point() and len(per_sample_output) == 1


CE = Loss(name="ce", label="cross-entropy", stats=builtin_stats, accuracy=_classes,
          help="cross-entropy on logits and class labels (--label-smoothing)")
NLL = Loss(name="nll", label="negative log-likelihood", stats=builtin_stats, accuracy=_classes,
           help="the outputs are log-probabilities")
MSE = Loss(name="mse", label="mean squared error", stats=builtin_stats, accuracy=_classes,
           help="as the reference for class labels (softmax against one-hot); plain squared "
           "error for float targets")
BCE = Loss(name="bce", label="binary cross-entropy", stats=builtin_stats,
           accuracy=lambda targets, shape: True,
           help="binary cross-entropy with logits, targets in [0, 1]")
LOSSES = (CE, NLL, MSE, BCE)
