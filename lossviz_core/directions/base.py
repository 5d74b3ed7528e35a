"""Directions, the context a direction method is built in, and the method registry.

A direction method is one small module (``random``, ``target``, ``pca``, ``file``, ...)
that registers a builder: ``build(ctx) -> Directions``. The context carries the model
(holding θ), the spec, whether the plane is 2-D and, for methods that need them (Hessian
eigenvectors), the data, the loss and the device. Builders never write θ into the model:
a method whose plane is centred elsewhere (PCA: the run's final checkpoint) returns that
centre in :attr:`Directions.center` and the workspace loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn

from lossviz_core.directions.vectors import cosine_similarity, direction_norm
from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import DirectionSpec
from lossviz_core.results.result import Trajectory


@dataclass
class Directions:
    """d1 (``x``) and optionally d2 (``y``), aligned with ``weights_of(model, dir_type)``.

    ``info`` holds at least ``method``, ``x_norm``, ``y_norm`` and (2-D) ``cosine``;
    PCA adds ``explained_variance`` and ``pc_angle`` and sets ``trajectory``. ``center``:
    the state the plane is centred on when it is not the model's own (PCA: θ_final).
    """

    x: list[Tensor]
    y: list[Tensor] | None
    dir_type: str
    names: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    trajectory: Trajectory | None = None
    center: Mapping[str, Tensor] | None = None

    @property
    def two_d(self) -> bool:
        return self.y is not None

    def to(self, device: torch.device | str) -> Directions:
        """A copy with every tensor on ``device``."""
        move = lambda ts: [t.to(device) for t in ts]  # noqa: E731
        return replace(self, x=move(self.x), y=None if self.y is None else move(self.y))

    def line(self) -> Directions:
        """The same directions without d2 (a 1-D line along d1)."""
        return replace(self, y=None, info=dict(self.info)).fill_info()

    def fill_info(self, **extra: Any) -> Directions:
        """Record the norms (and the cosine between d1 and d2) in ``info``; returns self."""
        self.info.update(extra)
        self.info["x_norm"] = direction_norm(self.x)
        self.info["y_norm"] = None if self.y is None else direction_norm(self.y)
        if self.y is not None:
            self.info["cosine"] = cosine_similarity(self.x, self.y)
        else:
            self.info.pop("cosine", None)
        return self


@dataclass
class DirectionContext:
    """What a direction method may use. ``model`` holds θ and must be left holding it."""

    model: nn.Module
    spec: DirectionSpec
    two_d: bool
    data: Any = None
    loss: Any = None
    device: torch.device | None = None
    splits: tuple[str, ...] = ("train",)

    def generator(self) -> torch.Generator:
        """The seeded CPU generator random parts of a method draw from."""
        return torch.Generator().manual_seed(int(self.spec.seed))


@dataclass(frozen=True)
class DirectionMethod:
    """A registered method: ``build(ctx)``; ``needs_data``: it evaluates the model."""

    name: str
    build: Callable[[DirectionContext], Directions]
    label: str
    needs_data: bool = False
    lines: bool = True  # also makes 1-D lines (d1 alone)


_METHODS: dict[str, DirectionMethod] = {}


def register_method(method: DirectionMethod) -> DirectionMethod:
    """Add a direction method; the CLI, the GUI and recipes find it by name."""
    _METHODS[method.name] = method
    return method


def direction_method(name: str) -> DirectionMethod:
    try:
        return _METHODS[name]
    except KeyError:
        raise InputError(
            f"unknown direction method {name!r}; choose one of {', '.join(_METHODS)}"
        ) from None


def direction_methods() -> list[DirectionMethod]:
    return list(_METHODS.values())
