"""Curves between two solutions (Garipov, Izmailov, Podoprikhin, Vetrov and Wilson, *Loss
Surfaces, Mode Connectivity, and Fast Ensembling of DNNs*, NeurIPS 2018), one bend θ each.

- **Bezier**: φ(t) = (1 − t)²·w_A + 2t(1 − t)·θ + t²·w_B;
- **polygonal chain** (``polychain``): w_A → θ → w_B, two straight pieces, t = ½ at θ.

Both lie in the plane through w_A spanned by d₁ and d₂ (:func:`bend_directions`):
Bezier with d₁ = 2(θ − w_A), d₂ = w_A − 2θ + w_B at (α, β) = (t, t²); the chain with
d₁ = θ − w_A, d₂ = w_B − θ at (min(2t, 1), max(2t − 1, 0)). So a curve's point is a point of
a :class:`~lossviz_core.plane.Plane`, written by the same in-place code, and t = 0 and 1 are
w_A and w_B exactly. :func:`curve_point` is the same point as differentiable tensors, for
training the bend.
"""

from __future__ import annotations

from torch import Tensor

from lossviz_core.errors import InputError

CURVES = ("bezier", "polychain")


def check_curve(kind: str) -> str:
    if kind not in CURVES:
        raise InputError(f"unknown curve {kind!r}; choose one of {', '.join(CURVES)}")
    return kind


def coordinates(kind: str, t: float) -> tuple[float, float]:
    """(α, β) of the curve's point t in the plane of :func:`bend_directions`."""
    if kind == "bezier":
        return float(t), float(t) * float(t)
    check_curve(kind)
    return min(2.0 * t, 1.0), max(2.0 * t - 1.0, 0.0)


def bend_directions(kind: str, a: Tensor, bend: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """(d₁, d₂) of one tensor: the curve is w_A + α(t)·d₁ + β(t)·d₂."""
    if kind == "bezier":
        return 2.0 * (bend - a), a - 2.0 * bend + b
    check_curve(kind)
    return bend - a, b - bend


def curve_point(kind: str, t: float, a: Tensor, bend: Tensor, b: Tensor) -> Tensor:
    """φ(t) of one tensor, differentiable in ``bend``."""
    if kind == "bezier":
        return (1.0 - t) ** 2 * a + 2.0 * t * (1.0 - t) * bend + t * t * b
    check_curve(kind)
    if t <= 0.5:
        return a + 2.0 * t * (bend - a)
    return bend + (2.0 * t - 1.0) * (b - bend)
