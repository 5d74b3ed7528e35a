"""Progress objects yielded by the engine's generators (surface, line, training)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

R = TypeVar("R")


def drain(gen: Generator[object, None, R]) -> R:
    """Run an engine generator to its end, ignoring progress; its return value.

    ``result = drain(job.iter())`` in a notebook; ``iter_training`` too.
    """
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


@dataclass
class Chunk:
    """A chunk of finished grid points.

    ``indices`` are flat indices into the grid in C order: for a surface of shape
    (ny, nx), index ``j * nx + i`` is the point ``(x_i, y_j)``; for a line, ``i``.
    ``values`` maps quantity names (``train_loss``, ``train_acc``, ``test_loss``,
    ``test_acc``) to arrays aligned with ``indices``.
    """

    indices: np.ndarray
    values: dict[str, np.ndarray]
    done: int
    total: int
    elapsed: float
    points_per_second: float = 0.0

    @property
    def eta(self) -> float:
        """Seconds left at the current rate (``inf`` before a rate is known)."""
        if self.points_per_second <= 0:
            return float("inf")
        return (self.total - self.done) / self.points_per_second


@dataclass
class EpochReport:
    """One finished training epoch."""

    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    test_loss: float | None
    test_acc: float | None
    lr: float
    seconds: float
    checkpoint: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Step:
    """A stage of preparing a job (loading data, building the model, ...), yielded before
    the first chunk so a progress line can say what is happening; ``fraction`` of the
    preparation done when known."""

    text: str
    fraction: float | None = None
