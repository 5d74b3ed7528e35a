"""Directions, the context a direction method is built in, and the method registry.

A direction method is one small module (``random``, ``target``, ``pca``, ``file``, ...)
that describes itself (:class:`DirectionMethod`: label, parameters, what it needs) and
builds: ``build(ctx) -> Directions``. The context carries the model
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
from lossviz_core.params import Param
from lossviz_core.recipe.spec import DirectionSpec, Range
from lossviz_core.registry import DIRECTION_METHODS
from lossviz_core.results.result import Trajectory


@dataclass(frozen=True)
class WeightPath:
    """How a coordinate becomes weights when it is not just θ + α·d₁ + β·d₂.

    ``curve``: ``bezier`` or ``polychain``, a curve t ∈ [0, 1] from A to B in the plane of d₁
    and d₂ (Garipov et al. 2018; :mod:`lossviz_core.connect.curves`);
    ``recompute_bn``: BatchNorm's running statistics re-estimated at every point from the
    training data (the curve literature's practice) instead of interpolated or kept.
    """

    curve: str | None = None
    recompute_bn: bool = False


@dataclass
class Directions:
    """d1 (``x``) and optionally d2 (``y``), aligned with ``weights_of(model, dir_type)``.

    ``info`` holds at least ``method``, ``x_norm``, ``y_norm`` and (2-D) ``cosine``;
    PCA adds ``explained_variance`` and ``pc_angle`` and sets ``trajectory``. ``center``:
    the state the plane is centred on when it is not the model's own (PCA: θ_final).
    ``checkpoints``: ``(epoch, path)`` of the trajectory's points, whose losses the job
    evaluates after the grid. ``path``: a curve or re-estimated BatchNorm statistics
    (:class:`WeightPath`); None for the plain plane.
    """

    x: list[Tensor]
    y: list[Tensor] | None
    dir_type: str
    names: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    trajectory: Trajectory | None = None
    center: Mapping[str, Tensor] | None = None
    checkpoints: list[tuple[int, str]] | None = None
    path: WeightPath | None = None

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


@dataclass(frozen=True, kw_only=True)
class DirectionMethod:
    """A direction method: ``build(ctx)`` and what the other layers need to offer it.

    ``build`` returns :class:`Directions`, or is a generator yielding
    :class:`~lossviz_core.progress.Step` s and returning them (a long preparation, such as
    training a curve's bend, that shows progress and stops when its caller stops).

    ``params``: what it owns (stored in ``DirectionSpec.params``; a flag, a panel row and a
    study key each); ``planes`` / ``lines``: it makes 2-D planes / 1-D lines (d₁ alone);
    ``line_label``: its name in the window's 1-D list; ``needs_data``: it evaluates the model
    (so it costs forward and backward passes); ``dir_type``: ``weights`` or ``states`` when
    the user does not say; ``line_range`` / ``plane_range``: the ranges it starts with;
    ``run_param``: a parameter naming a training run that also gives the model and data (PCA);
    ``model_params``: parameters naming other models' checkpoints (the interpolation's B);
    ``title``: how a figure's title names it; ``uses``: which of the spec's shared fields
    apply (``norm``, ``ignore``, ``seed``: the window shows only those rows); ``measures``:
    measures every result of it computes besides the loss (a curve's straight line).
    """

    name: str
    build: Callable[[DirectionContext], Directions]
    label: str
    line_label: str = ""
    params: tuple[Param, ...] = ()
    needs_data: bool = False
    planes: bool = True
    lines: bool = True
    dir_type: str = "weights"
    line_range: Range | None = None
    plane_range: Range | None = None
    run_param: str | None = None
    model_params: tuple[str, ...] = ()
    title: str = "{name} directions"
    uses: tuple[str, ...] = ("norm", "ignore", "seed")
    measures: tuple[str, ...] = ()
    help: str = ""


    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    @property
    def run_choice(self) -> str | None:
        """The choice (flag name) of the run folder that gives the model (PCA: ``pca``)."""
        return None if self.run_param is None else _choice(self.param(self.run_param))

    @property
    def other_models(self) -> tuple[Param, ...]:
        """The checkpoints it takes besides the model's own (the interpolation's B), in
        order: a study's ``model_b`` (``model_c``) fills them with trained models."""
        return tuple(self.param(n) for n in self.model_params)


def _choice(p: Param) -> str:
    return p.cli_flag[2:].replace("-", "_")


def register_method(method: DirectionMethod) -> DirectionMethod:
    """Add a direction method; the CLI, the window, studies and recipes find it by name."""
    return DIRECTION_METHODS.register(method)


def direction_method(name: str) -> DirectionMethod:
    return DIRECTION_METHODS.get(name)


def direction_methods() -> list[DirectionMethod]:
    return DIRECTION_METHODS.all()
