"""The Hessian's spectral density by stochastic Lanczos quadrature (SLQ; Ghorbani et al. 2019,
PyHessian's ``density``).

m Lanczos steps from a normalized Rademacher vector v give T = QᵀHQ; its eigenvalues θ_j
(nodes) and the squared first components τ_j of its eigenvectors (weights) are the Gauss
quadrature of the measure μ_v = Σ_i (vᵀu_i)² δ(λ − λ_i), exact for polynomials of degree
< 2m: Σ_j τ_j θ_j^p = vᵀH^p v / vᵀv. Averaged over runs, E[μ_v] is the spectral density
(1/P)·Σ_i δ(λ − λ_i), so the first moment estimates tr(H)/P. A plot needs a smooth curve:
each node becomes a Gaussian of width ``sigma``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lossviz_core.curvature.lanczos import Krylov, lanczos


@dataclass
class SpectralDensity:
    """``nodes``/``weights`` (runs, m) of the quadrature, and the smoothed density
    ``values`` on ``grid`` (integrating to about 1)."""

    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    values: np.ndarray
    sigma: float
    hvps: int
    seconds: float

    def moment(self, p: int) -> float:
        """∫ λ^p dμ ≈ tr(H^p)/P, averaged over the runs."""
        return float(np.mean(np.sum(self.weights * self.nodes ** int(p), axis=1)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: grid and values, nodes and weights, the first moment."""
        return {"grid": self.grid.tolist(), "values": self.values.tolist(),
                "nodes": self.nodes.tolist(), "weights": self.weights.tolist(),
                "sigma": self.sigma, "mean": self.moment(1), "runs": len(self.nodes),
                "steps": int(self.nodes.shape[1]), "hvps": self.hvps, "seconds": self.seconds}


def slq(op: Any, steps: int = 60, runs: int = 1, seed: int = 0, grid_points: int = 512,
        sigma: float | None = None, probes: list[Tensor] | None = None) -> SpectralDensity:
    """SLQ with ``runs`` Rademacher starts (or the given ``probes``) of ``steps`` products each.

    ``sigma``: the Gaussian width (default 1 % of the spectrum's span). A Lanczos run that
    finds an invariant subspace early stops there (its quadrature is then exact); its
    missing nodes get zero weight.
    """
    start, before = time.perf_counter(), op.hvps
    gen = torch.Generator().manual_seed(int(seed))
    starts = probes if probes is not None else [op.random_vector(gen, "rademacher")
                                                for _ in range(int(runs))]
    m = max(1, min(int(steps), op.size))
    krylovs = [lanczos(op.hvp, v.to(op.device, op.dtype), m) for v in starts]
    return quadrature(krylovs, m, grid_points, sigma, op.hvps - before,
                      time.perf_counter() - start)


def quadrature(krylovs: list[Krylov], steps: int, grid_points: int = 512,
               sigma: float | None = None, hvps: int = 0, seconds: float = 0.0
               ) -> SpectralDensity:
    """The SLQ density of Lanczos runs already made (each from a normalized Rademacher
    start): the first ``steps`` steps of each (a longer run is cut: T's leading block is
    what ``steps`` steps would have made)."""
    m = int(steps)
    nodes = np.zeros((len(krylovs), m))
    weights = np.zeros((len(krylovs), m))
    for r, kr in enumerate(krylovs):
        n = min(m, len(kr.alphas))
        head = Krylov(kr.alphas[:n], kr.betas[:n], kr.basis[:n])
        theta, s = head.ritz()
        nodes[r, : len(theta)] = theta
        weights[r, : len(theta)] = s[0] ** 2
        if len(theta) < m:
            nodes[r, len(theta):] = theta[-1]
    grid, values, width = smooth(nodes, weights, grid_points, sigma)
    return SpectralDensity(nodes, weights, grid, values, width, hvps, seconds)


def smooth(nodes: np.ndarray, weights: np.ndarray, points: int = 512,
           sigma: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """A grid over the nodes ± 4σ and the mean over runs of Σ τ_j·N(λ; θ_j, σ²)."""
    lo, hi = float(nodes.min()), float(nodes.max())
    span = hi - lo
    width = float(sigma) if sigma else max(0.01 * span, 1e-6 * max(abs(lo), abs(hi)), 1e-12)
    grid = np.linspace(lo - 4 * width, hi + 4 * width, int(points))
    z = (grid[None, None, :] - nodes[:, :, None]) / width
    gauss = np.exp(-0.5 * z**2) / (width * np.sqrt(2 * np.pi))
    values = np.mean(np.sum(weights[:, :, None] * gauss, axis=1), axis=0)
    return grid, values, width
