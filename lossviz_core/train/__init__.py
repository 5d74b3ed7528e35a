"""Training zoo models into run folders (:mod:`.loop`), augmentation and run folders.

The names of :mod:`.loop` (``TrainSpec``, ``iter_training``, ...) load on first use, so
reading a run folder (:mod:`.runs`) does not import the training machinery.
"""

from __future__ import annotations

from typing import Any

_LOOP = ("TrainSpec", "iter_training", "evaluate_split", "lr_at", "step_milestones",
         "loss_value", "OPTIMIZERS", "SCHEDULES", "REFERENCE_MILESTONES")


def __getattr__(name: str) -> Any:
    if name in _LOOP:
        from lossviz_core.train import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'lossviz_core.train' has no attribute {name!r}")
