"""Curvature of the loss at a point of the plane: Hessian-vector products and what they give.

:class:`HessianOperator` (:mod:`.hessian`) is ∇²L at θ + a·d₁ + b·d₂ with respect to the
tensors the directions perturb (or all parameters), over a split or a seeded subsample
(:mod:`.examples`), in fp32 or fp64. On it: the top eigenpairs and λmin (:mod:`.eigen`,
scipy's ARPACK or a torch Lanczos on the device), the trace (:mod:`.trace`, Hutchinson and
Hutch++), the spectral density (:mod:`.density`, stochastic Lanczos quadrature), the top
eigenvalue per layer (:mod:`.layers`), sharpness (:mod:`.sharpness`: Keskar's ε, SAM's ρ,
average), and the report that gathers them (:mod:`.report`). The ``curvature`` measure
(:mod:`lossviz_core.measures.curvature`) maps λmax and λmin over a grid; the ``hessian``
direction methods (:mod:`lossviz_core.curvature.directions`) span a plane by eigenvectors.
"""

from __future__ import annotations

from lossviz_core.curvature.density import SpectralDensity, slq
from lossviz_core.curvature.eigen import (
    EigenResult,
    dense_hessian,
    lambda_min,
    min_max_eigs,
    top_eigenpairs,
)
from lossviz_core.curvature.examples import Examples, examples_of
from lossviz_core.curvature.hessian import HessianOperator
from lossviz_core.curvature.layers import layer_groups, per_layer_top
from lossviz_core.curvature.params import all_names, perturbed_names, plane_names
from lossviz_core.curvature.report import (
    CurvatureOptions,
    curvature_report,
    iter_curvature_report,
    plan,
    write_report,
)
from lossviz_core.curvature.sharpness import average_sharpness, epsilon_sharpness, sam_sharpness
from lossviz_core.curvature.trace import TraceEstimate, estimate_trace, hutchinson, hutchpp

__all__ = [
    "CurvatureOptions", "EigenResult", "Examples", "HessianOperator", "SpectralDensity",
    "TraceEstimate", "all_names", "average_sharpness", "curvature_report", "dense_hessian",
    "epsilon_sharpness", "estimate_trace", "examples_of", "hutchinson", "hutchpp",
    "iter_curvature_report", "lambda_min", "layer_groups", "min_max_eigs", "per_layer_top",
    "perturbed_names", "plane_names", "plan", "sam_sharpness", "slq",
    "top_eigenpairs", "write_report",
]
