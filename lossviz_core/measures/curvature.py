"""``curvature``: the paper's convexity map, λmax and λmin of the Hessian at every grid point.

As the reference (tomgoldstein/loss-landscape, ``plot_hessian_eigen.py``): at each point
θ + α·d₁ + β·d₂, ``eigsh(k=1, tol=1e-2)`` on the full-data Hessian for λmax, then on the
shifted operator H − λmax·I for λmin; stored as ``max_eig`` and ``min_eig`` (the
reference's dataset names, so its ``plot_2d_eig_ratio`` reads our files) and
``eig_ratio`` = |λmin/λmax|, the map the paper shows (0: locally convex; large: a strong
negative direction). Unlike the reference, H is the Hessian of the *mean* loss (the
reference sums per-batch means) and the shift is the whole λmax, so λmin is found even
where the Hessian is positive definite. A point costs tens of Hessian-vector products,
each a pass over the data: chunks are one point. The model is never written.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from lossviz_core.curvature.eigen import min_max_eigs
from lossviz_core.curvature.examples import examples_of
from lossviz_core.curvature.hessian import HessianOperator
from lossviz_core.errors import InputError
from lossviz_core.measures.base import MeasureContext, MeasureKind
from lossviz_core.results.quantities import Quantity

QUANTITIES = ("max_eig", "min_eig", "eig_ratio")
DEFAULT_TOL = 1e-2  # the reference's eigsh tolerance
HVPS_PER_POINT = 60  # typical: two ARPACK runs of 20-40 products each; measured in info

CURVATURE_QUANTITIES = (
    Quantity("max_eig", "largest Hessian eigenvalue λmax", colormap="inferno", loggable=True,
             kind="curvature", order=60),
    Quantity("min_eig", "smallest Hessian eigenvalue λmin", colormap="coolwarm",
             kind="curvature", order=61),
    Quantity("eig_ratio", "convexity |λmin/λmax|", colormap="coolwarm", kind="curvature",
             order=62, scale=(0.0, 1.0)),
)


class CurvatureMeasure:
    """λmax, λmin and |λmin/λmax| at grid points of ``plane`` over ``data``'s split.

    ``splits``: the split(s) H sums over (the recipe's first); ``tol``/``maxiter``: ARPACK's
    (or the torch Lanczos's) per eigenvalue; ``params``: ``perturbed`` or ``all``;
    ``precision``: ``fp32`` or ``fp64``; ``subsample``/``seed``: a seeded subset of examples.
    """

    name = "curvature"
    needs_grad = True

    def __init__(self, plane: Any, data: Any, loss: Any = "ce", splits=("train",), *,
                 tol: float = DEFAULT_TOL, maxiter: int | None = None,
                 params: str = "perturbed", precision: str = "fp32", solver: str = "scipy",
                 batch_size: int | None = None, output: str | int | None = None,
                 device: Any = None, subsample: int | None = None, seed: int = 0) -> None:
        self.plane, self.tol, self.maxiter, self.solver, self.seed = plane, tol, maxiter, solver, seed
        examples = examples_of(data, splits, subsample, seed)
        self.op = HessianOperator.from_plane(plane, examples, loss, params, dtype=precision,
                                             batch_size=batch_size, output=output,
                                             device=device)
        self.two_d = plane.two_d
        self._points = 0
        self._hvps = 0
        self._seconds = 0.0
        self._unconverged: list[list[float]] = []

    @property
    def quantities(self) -> tuple[str, ...]:
        return QUANTITIES

    @property
    def chunk_size(self) -> int:
        return 1  # a point is tens of passes over the data: progress after each one

    @property
    def info(self) -> dict[str, Any]:
        """Products per point (planned, and measured so far), tolerance, what H is."""
        measured = self._hvps / self._points if self._points else None
        return {"hvps_per_point_estimate": HVPS_PER_POINT, "hvps_per_point": measured,
                "seconds_per_point": self._seconds / self._points if self._points else None,
                "tol": self.tol, "maxiter": self.maxiter, "solver": self.solver,
                "method": "eigsh λmax, then λmin on H − λmax·I (reference)",
                "unconverged_points": list(self._unconverged),
                **{k: v for k, v in self.op.info.items() if k not in ("point", "hvps")}}

    def evaluate(self, coords: np.ndarray) -> dict[str, np.ndarray]:
        """``max_eig``, ``min_eig``, ``eig_ratio`` at each row (α,) or (α, β) of ``coords``."""
        c = np.asarray(coords, dtype=np.float64)
        c = c[:, None] if c.ndim == 1 else c
        if c.ndim != 2 or c.shape[1] not in (1, 2) or (c.shape[1] == 2 and not self.two_d):
            raise InputError(f"coords must have shape (k, 1) or (k, 2) on a plane, got {c.shape}")
        out = {q: np.full(len(c), np.nan) for q in QUANTITIES}
        for i, row in enumerate(c):
            start = time.perf_counter()
            op = self.op.at(float(row[0]), float(row[1]) if len(row) > 1 else 0.0)
            top, low = min_max_eigs(op, self.tol, self.maxiter, self.solver, self.seed)
            lmax, lmin = float(top.values[0]), float(low.values[0])
            out["max_eig"][i], out["min_eig"][i] = lmax, lmin
            out["eig_ratio"][i] = abs(lmin / lmax) if lmax != 0 else np.nan
            if not (top.converged[0] and low.converged[0]):
                self._unconverged.append([float(v) for v in row])
            self._points += 1
            self._hvps += op.hvps
            self._seconds += time.perf_counter() - start
        return out


def build(ctx: MeasureContext) -> CurvatureMeasure:
    r = ctx.recipe
    if ctx.capabilities is not None and getattr(ctx.capabilities, "scripted", False):
        raise InputError("the curvature measure needs torch.func, which cannot differentiate "
                         "a TorchScript module")
    return CurvatureMeasure(ctx.plane, ctx.data, ctx.loss, r.loss.splits[:1],
                            batch_size=r.compute.batch_size, output=r.model.output,
                            device=ctx.device)


KIND = MeasureKind(
    name="curvature", label="convexity map (slow)", build=build,
    help="At every point, the Hessian's extreme eigenvalues λmax and λmin and the map "
    "|λmin/λmax| (the paper's convexity map: blue where the landscape is locally convex); "
    "each point costs tens of Hessian-vector products, each a pass over the data",
    quantities=CURVATURE_QUANTITIES, needs_grad=True,
    passes=4 * HVPS_PER_POINT,  # each Hessian-vector product costs ~4 forward passes
    cost=f"about {HVPS_PER_POINT} Hessian-vector products per point, each a pass over the data",
)
