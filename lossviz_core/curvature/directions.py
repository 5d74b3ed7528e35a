"""``hessian`` and ``hessian-random``: planes through the sharpest directions at θ.

``hessian``: d₁, d₂ are the eigenvectors of the two largest Hessian eigenvalues at θ (a line:
d₁ alone, the top eigenvector); ``hessian-random``: d₁ the top eigenvector, d₂ random as the
``random`` method draws it (``ynorm``/``yignore``, the spec's seed). The Hessian is that of
the mean loss over the recipe's split, with respect to the tensors the directions perturb
(``dir_type`` and ``xignore``: biases and BatchNorm stay out with ``biasbn``), in eval mode
on the unfolded model; the eigenvectors come from ARPACK (tolerance ``EIGEN_TOL``), signed
so their largest entry is positive.

Normalization follows the spec as for every method: ``xnorm``/``ynorm`` ``none`` keeps the
unit eigenvectors exactly (H·d = λ·d; α is then a distance in parameter space);
the default ``filter`` rescales each filter to ‖θ_i‖ as the paper does for random
directions, so the axes compare with a random plane's, at the price that d is no longer
an eigenvector (``info`` records each one's cosine with its eigenvector).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lossviz_core.curvature.eigen import top_eigenpairs
from lossviz_core.curvature.examples import examples_of
from lossviz_core.curvature.hessian import HessianOperator
from lossviz_core.curvature.params import perturbed_names
from lossviz_core.directions.base import DirectionContext, DirectionMethod, Directions
from lossviz_core.directions.vectors import cosine_similarity, normalize_direction, random_direction
from lossviz_core.directions.weights import names_of, weights_of
from lossviz_core.errors import InputError

EIGEN_TOL = 1e-4  # a plane is made once: eigenvectors well inside the eigenvalue gap


def _eigenvectors(ctx: DirectionContext, k: int):
    if ctx.data is None:
        raise InputError(f"the {ctx.spec.method} direction method needs the data to compute "
                         "the Hessian")
    s = ctx.spec
    names = perturbed_names(ctx.model, s.dir_type, s.xignore)
    op = HessianOperator(ctx.model, names, examples_of(ctx.data, ctx.splits[:1]),
                         ctx.loss or "ce", device=ctx.device, selection="perturbed")
    eig = top_eigenpairs(op, k, EIGEN_TOL, seed=s.seed, residuals=True)
    return op, eig


def _aligned(ctx: DirectionContext, op, vector: Tensor) -> list[Tensor]:
    """A flat eigenvector as tensors aligned with ``weights_of(model, dir_type)``."""
    named = op.unflatten(vector)
    dt = ctx.spec.dir_type
    return [named[n].detach().to(w.device, w.dtype).clone() if n in named else torch.zeros_like(w)
            for n, w in zip(names_of(ctx.model, dt), weights_of(ctx.model, dt), strict=True)]


def _normalized(ctx: DirectionContext, d: list[Tensor], norm: str) -> list[Tensor]:
    if norm == "none":
        return d
    out = [t.clone() for t in d]
    for t, w in zip(out, weights_of(ctx.model, ctx.spec.dir_type), strict=True):
        if t.is_floating_point() and bool(t.any()):
            normalize_direction(t, w.detach().to(t.dtype), norm)
    return out


def _info(method: str, eig, raw: list[list[Tensor]], made: list[list[Tensor]],
          norms: list[str], op) -> dict:
    return {"method": method, "eigenvalues": [float(v) for v in eig.values],
            "eigen_converged": list(eig.converged), "eigen_residuals": eig.residuals,
            "eigen_tol": EIGEN_TOL, "hvps": eig.hvps, "hessian": op.info,
            "eigenvector": [n == "none" for n in norms],
            "cosine_to_eigenvector": [cosine_similarity(m, r) for m, r in zip(made, raw,
                                                                            strict=True)]}


def build_hessian(ctx: DirectionContext) -> Directions:
    s = ctx.spec
    if ctx.two_d and s.xignore != s.yignore:
        raise InputError("hessian directions are eigenvectors of one Hessian: xignore and "
                         "yignore must agree (or use hessian-random)")
    op, eig = _eigenvectors(ctx, 2 if ctx.two_d else 1)
    raw = [_aligned(ctx, op, v) for v in eig.vectors]
    norms = [s.xnorm, s.ynorm][: len(raw)]
    made = [_normalized(ctx, d, n) for d, n in zip(raw, norms, strict=True)]
    y = made[1] if ctx.two_d else None
    info = _info("hessian", eig, raw, made, norms, op)
    return Directions(made[0], y, s.dir_type, names_of(ctx.model, s.dir_type), info).fill_info()


def build_hessian_random(ctx: DirectionContext) -> Directions:
    s = ctx.spec
    op, eig = _eigenvectors(ctx, 1)
    raw = _aligned(ctx, op, eig.vectors[0])
    x = _normalized(ctx, raw, s.xnorm)
    y = None
    if ctx.two_d:
        y = random_direction(ctx.model, s.dir_type, s.ynorm, s.yignore, ctx.generator())
    info = _info("hessian-random", eig, [raw], [x], [s.xnorm], op)
    info["seed"] = s.seed
    return Directions(x, y, s.dir_type, names_of(ctx.model, s.dir_type), info).fill_info()


HESSIAN = DirectionMethod(
    name="hessian", build=build_hessian, label="Hessian plane (top two eigenvectors)",
    line_label="1-D along the top Hessian eigenvector", needs_data=True,
    title="Hessian directions", uses=("norm", "ignore"),
)
HESSIAN_RANDOM = DirectionMethod(
    name="hessian-random", build=build_hessian_random,
    label="Hessian × random (top eigenvector, random)", lines=False, needs_data=True,
    title="Hessian × random directions",
)
