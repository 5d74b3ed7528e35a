"""Lanczos on the device: the tridiagonal T = QᵀHQ of a Krylov basis, and Ritz pairs from it.

Every vector stays a torch tensor on the operator's device (only the small T goes to
numpy), with full re-orthogonalization (two Gram-Schmidt passes against the whole basis),
so in fp32 the Ritz values do not pick up ghost copies. :func:`lanczos` runs a fixed number
of steps (stochastic Lanczos quadrature); :func:`lanczos_eigs` grows the basis until the
wanted Ritz pairs meet ARPACK's own test, ‖H·y − θ·y‖ = |β·s_last| ≤ tol·|θ|;
:func:`lanczos_spectrum` grows one basis until the top k, the bottom one and at least
``min_steps`` steps are there (the curvature report's eigenvalues, λmin and density from
one Krylov space).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

WHICH = ("LA", "SA", "LM")


@dataclass
class Krylov:
    """``alphas`` (m,), ``betas`` (m,) (β_j couples q_j and q_{j+1}), ``basis`` (m, P)."""

    alphas: np.ndarray
    betas: np.ndarray
    basis: Tensor

    def tridiagonal(self) -> np.ndarray:
        m = len(self.alphas)
        off = self.betas[: m - 1]
        return np.diag(self.alphas) + np.diag(off, 1) + np.diag(off, -1)

    def ritz(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (ascending) and eigenvectors of T."""
        return np.linalg.eigh(self.tridiagonal())


def lanczos(matvec: Callable[[Tensor], Tensor], v0: Tensor, steps: int,
            stop: Callable[[Krylov], bool] | None = None) -> Krylov:
    """Up to ``steps`` Lanczos steps from ``v0`` (normalized here); ``stop(krylov)`` after
    each step ends early; an invariant subspace (β ≈ 0) ends it too, exactly."""
    p = v0.numel()
    steps = max(1, min(int(steps), p))
    basis = torch.empty((min(steps, 16), p), dtype=v0.dtype, device=v0.device)  # grows
    basis[0] = v0 / v0.norm()
    alphas, betas = [], []
    for j in range(steps):
        w = matvec(basis[j])
        alpha = float(torch.dot(w, basis[j]))
        q = basis[: j + 1]
        for _ in range(2):  # full re-orthogonalization; twice is enough (Parlett)
            w = w - q.T @ (q @ w)
        beta = float(w.norm())
        alphas.append(alpha)
        betas.append(beta)
        k = Krylov(np.array(alphas), np.array(betas), basis[: j + 1])
        scale = max(abs(a) for a in alphas) or 1.0
        if j + 1 == steps or beta <= 1e-10 * scale or (stop is not None and stop(k)):
            return k
        if j + 1 == basis.shape[0]:
            grown = torch.empty((min(steps, 2 * basis.shape[0]), p), dtype=v0.dtype,
                                device=v0.device)
            grown[: j + 1] = basis
            basis = grown
        basis[j + 1] = w / beta
    return k


def _pick(values: np.ndarray, k: int, which: str) -> np.ndarray:
    if which == "LA":
        order = np.argsort(-values)
    elif which == "SA":
        order = np.argsort(values)
    else:
        order = np.argsort(-np.abs(values))
    return order[:k]


def lanczos_eigs(matvec: Callable[[Tensor], Tensor], v0: Tensor, k: int = 1, which: str = "LA",
                 tol: float = 1e-3, maxiter: int = 200) -> tuple[np.ndarray, Tensor, list[bool], int]:
    """The ``k`` Ritz pairs ``which`` (LA: largest, SA: smallest, LM: largest magnitude).

    Returns ``(values, vectors (k, P), converged, steps)``: a pair has converged when its
    residual bound |β_m·s_m| is at most ``tol``·|θ| (ARPACK's test); ``maxiter`` caps the
    steps (each one H·v).
    """
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}")

    def ritz_pairs(kr: Krylov):
        vals, vecs = kr.ritz()
        idx = _pick(vals, k, which)
        bound = np.abs(kr.betas[-1] * vecs[-1, idx])
        return vals, vecs, idx, bound <= tol * np.maximum(np.abs(vals[idx]), 1e-30)

    def done(kr: Krylov) -> bool:
        return len(kr.alphas) >= k and bool(ritz_pairs(kr)[3].all())

    kr = lanczos(matvec, v0, maxiter, stop=done)
    vals, vecs, idx, ok = ritz_pairs(kr)
    # β ≈ 0: the Krylov space is invariant, its Ritz pairs are exact eigenpairs
    exact = kr.betas[-1] <= 1e-10 * (np.abs(kr.alphas).max() or 1.0)
    converged = [bool(c) or bool(exact) for c in ok]
    s = torch.as_tensor(vecs[:, idx], dtype=kr.basis.dtype, device=kr.basis.device)
    vectors = (kr.basis.T @ s).T
    values = vals[idx]
    if len(idx) < k:  # an invariant space smaller than k holds no more eigenvalues to find
        missing = k - len(idx)
        values = np.concatenate([values, np.full(missing, np.nan)])
        vectors = torch.cat([vectors, vectors.new_zeros(missing, vectors.shape[1])])
        converged += [False] * missing
    return values, vectors, converged, len(kr.alphas)


@dataclass
class Spectrum:
    """One Krylov space's answers: ``top`` (k values, largest first, unit ``vectors``
    (k, P) and ``converged``), ``bottom`` (λmin) and whether it converged."""

    krylov: Krylov
    top: np.ndarray
    vectors: Tensor
    converged: list[bool]
    bottom: float
    bottom_converged: bool


def lanczos_spectrum(matvec: Callable[[Tensor], Tensor], v0: Tensor, k: int = 1,
                     tol: float = 1e-3, min_steps: int = 0, maxiter: int = 300) -> Spectrum:
    """Lanczos from ``v0`` until the top ``k`` Ritz values meet the residual test
    (≤ tol·|θ|), the bottom one meets it relative to the spectrum's span (≤ tol·(θmax −
    θmin), the accuracy the shift λmin − λmax gives), and ``min_steps`` steps are done."""

    def tests(kr: Krylov):
        vals, vecs = kr.ritz()
        order = np.argsort(-vals)
        top, low = order[:k], order[-1]
        span = max(float(vals[order[0]] - vals[low]), 1e-30)
        bound = np.abs(kr.betas[-1] * vecs[-1])
        ok_top = bound[top] <= tol * np.maximum(np.abs(vals[top]), 1e-30)
        return vals, vecs, top, low, ok_top, bool(bound[low] <= tol * span)

    def done(kr: Krylov) -> bool:
        if len(kr.alphas) < max(k + 1, min_steps):
            return False
        _, _, _, _, ok_top, ok_low = tests(kr)
        return bool(ok_top.all()) and ok_low

    kr = lanczos(matvec, v0, maxiter, stop=done)
    vals, vecs, top, low, ok_top, ok_low = tests(kr)
    exact = kr.betas[-1] <= 1e-10 * (np.abs(kr.alphas).max() or 1.0)
    s = torch.as_tensor(vecs[:, top], dtype=kr.basis.dtype, device=kr.basis.device)
    values = vals[top]
    vectors = (kr.basis.T @ s).T
    converged = [bool(c) or bool(exact) for c in ok_top]
    if len(top) < k:
        missing = k - len(top)
        values = np.concatenate([values, np.full(missing, np.nan)])
        vectors = torch.cat([vectors, vectors.new_zeros(missing, vectors.shape[1])])
        converged += [False] * missing
    return Spectrum(kr, values, vectors, converged, float(vals[low]), ok_low or bool(exact))
