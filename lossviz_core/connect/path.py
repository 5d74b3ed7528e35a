"""Planes whose points are more than θ + α·d₁ + β·d₂: a curve through them, BatchNorm
statistics re-estimated at each point (:class:`~lossviz_core.directions.base.WeightPath`).

:func:`make_plane` is how a workspace makes its plane: the plain
:class:`~lossviz_core.plane.Plane` unless the directions carry a path. A :class:`PathPlane`
writes its point with the plain plane's in-place code (a curve's t becomes (α(t), β(t)),
:mod:`.curves`) and then re-estimates BatchNorm (:mod:`.bn`). It is not linear in its
coordinates, so the evaluator neither folds BatchNorm into it nor stacks points, and the
Hessian measures, which differentiate along d₁ and d₂, refuse it.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lossviz_core.connect.bn import recompute_bn
from lossviz_core.connect.curves import check_curve, coordinates
from lossviz_core.errors import InputError
from lossviz_core.plane import Plane
from lossviz_core.plane import make_plane as straight_plane


class PathPlane(Plane):
    """A plane whose ``write(t)`` follows ``path.curve`` (if any) and re-estimates BatchNorm
    from ``train`` (if ``path.recompute_bn``)."""

    linear = False

    def __init__(self, model: nn.Module, directions: Any, train: Any = None) -> None:
        super().__init__(model, directions)
        self.path = directions.path
        if self.path.curve is not None:
            check_curve(self.path.curve)
        if self.path.recompute_bn and train is None:
            raise InputError("re-estimating BatchNorm needs training data")
        self.train = train

    def coordinates(self, a: float, b: float = 0.0) -> tuple[float, float]:
        """(α, β) in the plane of d₁, d₂ of the coordinate (t on a curve)."""
        return coordinates(self.path.curve, a) if self.path.curve else (a, b)

    def write(self, a: float, b: float = 0.0) -> None:
        alpha, beta = self.coordinates(a, b)
        super().write(alpha, beta)
        if self.path.recompute_bn:
            recompute_bn(self.model, self.train)

    def params(self, a: Any = 0.0, b: Any = 0.0) -> dict:
        raise InputError("this measure differentiates along straight directions; a curve or "
                         "re-estimated BatchNorm statistics have none (use a plain plane)")

    def stacked(self, a: Any, b: Any) -> dict:
        raise InputError("points of a curve or with re-estimated BatchNorm are evaluated one "
                         "at a time (multi-point off)")


def make_plane(model: nn.Module, directions: Any, data: Any = None,
               checkpoint: Any = None) -> Plane:
    """The plane of ``directions`` on ``model``: a :class:`PathPlane` when they carry a path
    (training data from ``data`` re-estimates BatchNorm), else the straight plane of
    :func:`lossviz_core.plane.make_plane` (seeded directions read θ from ``checkpoint``)."""
    path = getattr(directions, "path", None)
    if path is None or (path.curve is None and not path.recompute_bn):
        return straight_plane(model, directions, checkpoint)
    return PathPlane(model, directions, getattr(data, "train", None))
