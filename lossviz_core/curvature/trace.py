"""tr(H) by randomized probes: Hutchinson, and Hutch++ (Meyer, Musco, Musco & Woodruff 2021).

Hutchinson: tr(H) = E[vᵀHv] for Rademacher v; the estimate is the mean over probes and its
standard error the sample standard deviation over √probes. Hutch++ spends a third of its
products on a sketch Q of H's range (the large eigenvalues), takes tr(QᵀHQ) exactly, and
Hutchinson's estimate only on the rest (I − QQᵀ)H(I − QQᵀ), whose variance is far smaller
when a few eigenvalues dominate, as they do for trained networks; its standard error is
that of the residual part. When the sketch spans the whole space the trace is exact.
``krylov`` deflates with a Lanczos basis Q instead (the one the curvature report's
eigenvalues and density already made, so its part costs nothing: tr(QᵀHQ) is the sum of
Lanczos's α), and spends its products on the residual alone.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lossviz_core.errors import InputError

METHODS = ("hutchpp", "hutchinson", "krylov")


@dataclass
class TraceEstimate:
    """tr(H) ≈ ``value`` ± ``stderr`` from ``hvps`` products (``samples`` random probes)."""

    value: float
    stderr: float
    method: str
    samples: int
    hvps: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def hutchinson(op: Any, samples: int = 100, seed: int = 0) -> TraceEstimate:
    """Hutchinson's estimate from ``samples`` Rademacher probes (one H·v each)."""
    if samples < 2:
        raise InputError("Hutchinson's trace needs at least 2 probes (for its standard error)")
    start, before = time.perf_counter(), op.hvps
    gen = torch.Generator().manual_seed(int(seed))
    quads = []
    for _ in range(int(samples)):
        v = op.random_vector(gen, "rademacher")
        quads.append(float(torch.dot(v, op.hvp(v))))
    q = np.asarray(quads)
    return TraceEstimate(float(q.mean()), float(q.std(ddof=1) / math.sqrt(len(q))),
                         "hutchinson", len(q), op.hvps - before, time.perf_counter() - start)


def hutchpp(op: Any, hvps: int = 99, seed: int = 0) -> TraceEstimate:
    """Hutch++ with about ``hvps`` products: a sketch of ``hvps/3`` columns, as many for
    tr(QᵀHQ), and ``hvps/3`` probes on the deflated rest (fewer when P is small)."""
    m = max(1, int(hvps) // 3)
    start, before = time.perf_counter(), op.hvps
    gen = torch.Generator().manual_seed(int(seed))
    s = torch.stack([op.random_vector(gen, "rademacher") for _ in range(min(m, op.size))])
    q, _ = torch.linalg.qr(torch.stack([op.hvp(v) for v in s]).T.to(torch.float64))
    q = q.to(op.dtype)  # (P, r): an orthonormal basis of H·S
    exact = sum(float(torch.dot(c, op.hvp(c))) for c in q.T)
    if q.shape[1] >= op.size:  # the sketch spans everything: the trace is exact
        return TraceEstimate(exact, 0.0, "hutchpp", 0, op.hvps - before,
                             time.perf_counter() - start)
    quads = []
    for _ in range(max(2, m)):
        g = op.random_vector(gen, "rademacher")
        g = g - q @ (q.T @ g)
        quads.append(float(torch.dot(g, op.hvp(g))))
    r = np.asarray(quads)
    return TraceEstimate(exact + float(r.mean()), float(r.std(ddof=1) / math.sqrt(len(r))),
                         "hutchpp", len(r), op.hvps - before, time.perf_counter() - start)


def deflated(op: Any, basis: torch.Tensor, alphas: np.ndarray, samples: int = 33,
             seed: int = 0) -> TraceEstimate:
    """tr(H) = Σα (tr(QᵀHQ) of an orthonormal Lanczos ``basis`` (m, P) whose tridiagonal has
    diagonal ``alphas``) + Hutchinson's estimate of tr((I − QQᵀ)H(I − QQᵀ)) from
    ``samples`` Rademacher probes (exact, no probes, when Q spans everything)."""
    start, before = time.perf_counter(), op.hvps
    exact = float(np.sum(alphas))
    if basis.shape[0] >= op.size:
        return TraceEstimate(exact, 0.0, "krylov", 0, 0, time.perf_counter() - start)
    gen = torch.Generator().manual_seed(int(seed) + 1)
    q = basis.to(op.device, op.dtype)
    quads = []
    for _ in range(max(2, int(samples))):
        g = op.random_vector(gen, "rademacher")
        for _ in range(2):  # twice, as Lanczos re-orthogonalizes: Q's span leaves exactly
            g = g - q.T @ (q @ g)
        quads.append(float(torch.dot(g, op.hvp(g))))
    r = np.asarray(quads)
    return TraceEstimate(exact + float(r.mean()), float(r.std(ddof=1) / math.sqrt(len(r))),
                         "krylov", len(r), op.hvps - before, time.perf_counter() - start)


def estimate_trace(op: Any, method: str = "hutchpp", hvps: int = 99, seed: int = 0) -> TraceEstimate:
    """tr(H) by ``method`` with about ``hvps`` products (``krylov``: two thirds on a Lanczos
    basis of its own, a third on the residual)."""
    if method not in METHODS:
        raise InputError(f"unknown trace method {method!r}; choose {', '.join(METHODS)}")
    if method == "hutchinson":
        return hutchinson(op, hvps, seed)
    if method == "krylov":
        from lossviz_core.curvature.lanczos import lanczos

        gen = torch.Generator().manual_seed(int(seed))
        kr = lanczos(op.hvp, op.random_vector(gen, "rademacher"), max(1, 2 * int(hvps) // 3))
        est = deflated(op, kr.basis, kr.alphas, max(2, int(hvps) // 3), seed)
        est.hvps += len(kr.alphas)
        return est
    return hutchpp(op, hvps, seed)
