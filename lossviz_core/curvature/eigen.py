"""Extreme eigenvalues of the Hessian: the top k (with eigenvectors) and λmin.

Two solvers on the same operator. ``scipy``: ARPACK's implicitly restarted Lanczos
(``scipy.sparse.linalg.eigsh`` on a ``LinearOperator``), the well-kept default; every H·v
crosses to the host as float64. ``torch``: Lanczos with full re-orthogonalization on the
device (:mod:`.lanczos`), no restarts, no host copies. λmin is found as the reference does
(tomgoldstein/loss-landscape, ``min_max_hessian_eigs``): the largest-magnitude eigenvalue of
the shifted operator H − λmax·I is λmin − λmax. Its accuracy is therefore relative to
λmax − λmin, and a value that did not converge within ``maxiter`` says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lossviz_core.curvature.lanczos import lanczos_eigs
from lossviz_core.errors import InputError

SOLVERS = ("scipy", "torch")
TORCH_MAXITER = 300  # Lanczos steps (one H·v each) when no cap is given


@dataclass
class EigenResult:
    """Eigenvalues ``values`` (largest first; λmin alone for :func:`lambda_min`), unit
    ``vectors`` (k, P) on the operator's device or None, and per value whether it
    ``converged``. ``hvps``: Hessian-vector products spent; ``residuals``: ‖H·v − λ·v‖
    when asked for (one more H·v each)."""

    values: np.ndarray
    vectors: Tensor | None
    converged: list[bool]
    hvps: int
    seconds: float
    solver: str
    tol: float
    residuals: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no vectors)."""
        return {"values": [float(v) for v in self.values], "converged": list(self.converged),
                "hvps": self.hvps, "seconds": self.seconds, "solver": self.solver,
                "tol": self.tol, "residuals": self.residuals, **self.extra}


def _check(solver: str, k: int, size: int) -> None:
    if solver not in SOLVERS:
        raise InputError(f"unknown eigen solver {solver!r}; choose scipy or torch")
    if not 1 <= k <= size:
        raise InputError(f"k must be between 1 and the number of parameters ({size}), got {k}")


def _start(op: Any, seed: int) -> Tensor:
    return op.random_vector(torch.Generator().manual_seed(int(seed)))


def top_eigenpairs(op: Any, k: int = 1, tol: float = 1e-3, maxiter: int | None = None,
                   solver: str = "scipy", seed: int = 0, vectors: bool = True,
                   residuals: bool = False, ncv: int | None = None) -> EigenResult:
    """The ``k`` algebraically largest eigenvalues of ``op`` (a :class:`HessianOperator`),
    largest first, with unit eigenvectors (sign: largest-magnitude entry positive).

    ``tol``: ARPACK's relative accuracy of a Ritz value (the torch solver uses the same
    test); ``maxiter``: ARPACK restarts, or torch Lanczos steps; ``seed``: the start vector;
    ``ncv``: ARPACK's basis size (default max(2k + 1, 20): it spends that many products
    before its first convergence test, where the torch Lanczos tests after every step).
    """
    _check(solver, k, op.size)
    return _solve(op, k, "LA", 0.0, tol, maxiter, solver, seed, vectors, residuals, ncv)


def lambda_min(op: Any, lambda_max: float | None = None, tol: float = 1e-3,
               maxiter: int | None = None, solver: str = "scipy", seed: int = 0,
               vectors: bool = False, residuals: bool = False,
               ncv: int | None = None) -> EigenResult:
    """λmin by the shift: the largest-magnitude eigenvalue of H − λmax·I, plus λmax.

    ``lambda_max``: a known top eigenvalue (computed here when None; its H·v count is
    included). The shift makes every eigenvalue ≤ 0 so the most negative one, λmin − λmax,
    is the largest in magnitude, which Lanczos finds fast.
    """
    _check(solver, 1, op.size)
    spent, secs = 0, 0.0
    if lambda_max is None:
        top = top_eigenpairs(op, 1, tol, maxiter, solver, seed, vectors=False, ncv=ncv)
        lambda_max, spent, secs = float(top.values[0]), top.hvps, top.seconds
    res = _solve(op, 1, "LM", float(lambda_max), tol, maxiter, solver, seed + 1, vectors,
                 residuals, ncv)
    res.hvps += spent
    res.seconds += secs
    res.extra["shift"] = float(lambda_max)
    return res


def min_max_eigs(op: Any, tol: float = 1e-2, maxiter: int | None = None,
                 solver: str = "scipy", seed: int = 0,
                 ncv: int | None = None) -> tuple[EigenResult, EigenResult]:
    """(λmax, λmin) as the paper's convexity map computes them at one point."""
    top = top_eigenpairs(op, 1, tol, maxiter, solver, seed, vectors=False, ncv=ncv)
    if not np.isfinite(top.values[0]):  # no λmax, no shift: λmin is unknown too
        return top, EigenResult(np.array([np.nan]), None, [False], 0, 0.0, top.solver, tol)
    low = lambda_min(op, float(top.values[0]), tol, maxiter, solver, seed, ncv=ncv)
    return top, low


def dense_hessian(op: Any) -> np.ndarray:
    """H as a dense (P, P) float64 matrix from P products (small operators only)."""
    eye = torch.eye(op.size, dtype=torch.float64)
    cols = [op.matvec(e.to(op.device, op.dtype)).detach().cpu().double().numpy() for e in eye]
    h = np.stack(cols, axis=1)
    return 0.5 * (h + h.T)


def _solve(op: Any, k: int, which: str, shift: float, tol: float, maxiter: int | None,
           solver: str, seed: int, want_vectors: bool, residuals: bool,
           ncv: int | None = None) -> EigenResult:
    start, before = time.perf_counter(), op.hvps
    if op.size <= k + 1:  # ARPACK needs k < P - 1 here; a tiny H is cheaper whole
        vals, vecs = np.linalg.eigh(dense_hessian(op) - shift * np.eye(op.size))
        order = _order(vals, which)[:k]
        vals, vecs, conv = vals[order], torch.as_tensor(vecs[:, order].T), [True] * k
        used = "dense"
    elif solver == "scipy":
        vals, vecs, conv = _arpack(op, k, which, shift, tol, maxiter, seed, ncv)
        used = "scipy"
    else:
        v0 = _start(op, seed)

        def mv(v: Tensor) -> Tensor:
            out = op.hvp(v)
            return out - shift * v if shift else out

        vals, vecs, conv, _ = lanczos_eigs(mv, v0, k, which, tol, maxiter or TORCH_MAXITER)
        used = "torch"
    vals = np.asarray(vals, dtype=np.float64) + shift
    order = np.argsort(-vals, kind="stable")
    vals, conv = vals[order], [conv[i] for i in order]
    vecs = None if vecs is None else _signed(vecs[torch.as_tensor(order)].to(op.device, op.dtype))
    res = None
    if residuals and vecs is not None:
        res = [float((op.hvp(v) - lam * v).norm()) for v, lam in zip(vecs, vals, strict=True)]
    return EigenResult(vals, vecs if want_vectors else None, conv, op.hvps - before,
                       time.perf_counter() - start, used, tol, res)


def _order(vals: np.ndarray, which: str) -> np.ndarray:
    if which == "LA":
        return np.argsort(-vals)
    if which == "SA":
        return np.argsort(vals)
    return np.argsort(-np.abs(vals))


def _arpack(op: Any, k: int, which: str, shift: float, tol: float, maxiter: int | None,
            seed: int, ncv: int | None) -> tuple[np.ndarray, Tensor | None, list[bool]]:
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    v0 = _start(op, seed).detach().cpu().double().numpy()  # seeded: ARPACK's own is random
    try:
        vals, vecs = eigsh(op.as_linear_operator(shift), k=k, which=which, tol=tol,
                           maxiter=maxiter, v0=v0,
                           ncv=None if ncv is None else min(max(int(ncv), k + 2), op.size))
        conv = [True] * len(vals)
    except ArpackNoConvergence as exc:
        vals, vecs = exc.eigenvalues, exc.eigenvectors
        conv = [True] * len(vals)
        missing = k - len(vals)
        if missing:  # ARPACK keeps only what converged: the rest are unknown
            vals = np.concatenate([vals, np.full(missing, np.nan)])
            vecs = np.concatenate([vecs, np.zeros((op.size, missing))], axis=1)
            conv += [False] * missing
    return np.asarray(vals), torch.as_tensor(np.asarray(vecs).T.copy()), conv


def _signed(vecs: Tensor) -> Tensor:
    """Eigenvectors with their largest-magnitude entry positive (a reproducible sign)."""
    if vecs.numel() == 0:
        return vecs
    idx = vecs.abs().argmax(dim=1)
    sign = torch.sign(vecs.gather(1, idx[:, None])).squeeze(1)
    sign[sign == 0] = 1
    return vecs * sign[:, None]
