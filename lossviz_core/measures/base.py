"""Measures: what is computed at each grid point, one small module per measure.

A measure declares the quantities it computes (registered in
:mod:`lossviz_core.results.quantities`), whether it needs gradients, and what a point
costs; ``evaluate(coords)`` returns one array per quantity. The ``loss`` measure (loss and
accuracy over whole splits) is the first; curvature measures plug in the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from lossviz_core.errors import InputError


class Measure(Protocol):
    name: str
    needs_grad: bool

    @property
    def quantities(self) -> tuple[str, ...]: ...

    @property
    def chunk_size(self) -> int: ...

    @property
    def info(self) -> dict[str, Any]: ...

    def evaluate(self, coords: np.ndarray) -> dict[str, np.ndarray]: ...


@dataclass
class MeasureContext:
    """What a measure is built from: the workspace's model, plane, data and recipe."""

    model: nn.Module
    plane: Any
    data: Any
    loss: Any
    recipe: Any
    device: torch.device
    capabilities: Any
    n_points: int
    pinned: dict | None = None  # a resumed file's decisions (how its points were computed)


@dataclass(frozen=True)
class MeasureKind:
    """A registered measure: ``build(ctx) -> Measure``; ``cost`` says what a point costs."""

    name: str
    label: str
    build: Callable[[MeasureContext], Measure]
    needs_grad: bool = False
    cost: str = "one pass over the data per point"


_MEASURES: dict[str, MeasureKind] = {}


def register_measure(kind: MeasureKind) -> MeasureKind:
    _MEASURES[kind.name] = kind
    return kind


def _builtin() -> None:
    """The built-in measures register on first use (they import the evaluator, which imports
    this package's loss functions)."""
    from lossviz_core.measures import curvature, loss  # noqa: F401


def measure_kind(name: str) -> MeasureKind:
    _builtin()
    try:
        return _MEASURES[name]
    except KeyError:
        raise InputError(f"unknown measure {name!r}; choose one of {', '.join(_MEASURES)}") from None


def measure_kinds() -> list[MeasureKind]:
    _builtin()
    return list(_MEASURES.values())
