"""Losses L(outputs, targets), one small module per kind (:mod:`.builtin`, :mod:`.lm`,
:mod:`.pyfile`), and the per-batch sums a grid point's loss is made of (:mod:`.base`)."""

from __future__ import annotations

from lossviz_core.losses.base import (  # noqa: F401 (the package's API)
    Loss,
    LossFunction,
    SplitQuantity,
    batch_stats,
    batch_sums,
    losses,
    register_loss,
    resolve_loss,
)
