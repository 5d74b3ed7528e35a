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

from lossviz_core.params import Param
from lossviz_core.registry import MEASURES
from lossviz_core.results.quantities import Quantity, register_quantity


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


@dataclass(frozen=True, kw_only=True)
class MeasureKind:
    """A measure: ``build(ctx) -> Measure`` and what the other layers need to offer it.

    ``quantities``: what it stores per point (registered with it); ``needs_grad``: it
    differentiates the loss; ``passes``: what a point costs, in passes over the data (the
    window's estimate of a long grid); ``cost``: the same in words; ``params``: its own."""

    name: str
    label: str
    build: Callable[[MeasureContext], Measure]
    quantities: tuple[Quantity, ...] = ()
    needs_grad: bool = False
    passes: float = 1.0
    cost: str = "one pass over the data per point"
    params: tuple[Param, ...] = ()
    help: str = ""


def register_measure(kind: MeasureKind) -> MeasureKind:
    """Add a measure (and its quantities); recipes, the CLI and the window find it by name."""
    for q in kind.quantities:
        register_quantity(q)
    return MEASURES.register(kind)


def measure_kind(name: str) -> MeasureKind:
    return MEASURES.get(name)


def measure_kinds() -> list[MeasureKind]:
    return MEASURES.all()
