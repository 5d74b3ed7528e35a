"""Sharpness of the loss at a point, three ways, in the Hessian's parameter space.

- ε-sharpness (Keskar et al., ICLR 2017, "On large-batch training ..."): the largest loss
  in the box C_ε = {y : |y_i| ≤ ε·(|x_i| + 1)} around the point x, found as they did with
  L-BFGS-B (scipy) in a few iterations, reported as 100·(max f(x + y) − f(x)) / (1 + f(x)).
- SAM ρ-sharpness (Foret et al., ICLR 2021): max over ‖ε‖₂ ≤ ρ of L(θ + ε) − L(θ). SAM's own
  one-step answer is ε = ρ·∇L/‖∇L‖; more steps are projected normalized-gradient ascent on
  the ball, keeping the best point seen (at an exact minimum, where ∇L = 0, the ascent
  starts from a seeded random point of the ball).
- Average sharpness: E[L(θ + u)] − L(θ) over u uniform on the sphere of radius ρ, with a
  standard error (for a quadratic it is ρ²·tr(H)/(2P)).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from lossviz_core.errors import InputError


def epsilon_sharpness(op: Any, epsilon: float = 1e-3, steps: int = 10, seed: int = 0) -> dict:
    """Keskar's ε-sharpness (percent) with ``steps`` L-BFGS-B iterations.

    The search starts from a seeded random point of a tenth of the box (at a minimum the
    gradient at the centre is zero and L-BFGS-B would stop at once).
    """
    from scipy.optimize import minimize

    if epsilon <= 0:
        raise InputError(f"ε must be positive, got {epsilon}")
    start, before = time.perf_counter(), op.gradients
    f0 = op.loss()
    x = op.theta().detach().cpu().double().numpy()
    bound = float(epsilon) * (np.abs(x) + 1.0)
    rng = np.random.default_rng(int(seed))
    y0 = rng.uniform(-0.1, 0.1, size=x.shape) * bound
    best = {"f": f0, "y": np.zeros_like(x)}

    def negative(y: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = op.loss_and_grad(torch.from_numpy(y))
        if f > best["f"]:
            best.update(f=f, y=y.copy())
        return -f, -g.detach().cpu().double().numpy()

    res = minimize(negative, y0, jac=True, method="L-BFGS-B",
                   bounds=list(zip(-bound, bound, strict=True)),
                   options={"maxiter": int(steps)})
    value = 100.0 * (best["f"] - f0) / (1.0 + f0)
    return {"value": value, "epsilon": float(epsilon), "loss": f0, "max_loss": best["f"],
            "steps": int(res.nit), "evaluations": op.gradients - before,
            "converged": bool(res.success), "seconds": time.perf_counter() - start}


def sam_sharpness(op: Any, rho: float = 0.05, steps: int = 1, seed: int = 0) -> dict:
    """max over the ρ-ball of L(θ + ε) − L(θ) by ``steps`` normalized-gradient ascent steps.

    ``steps=1`` is SAM's approximation ε = ρ·∇L/‖∇L‖; ``converged``: the last step moved the
    perturbation by less than 1e-3·ρ.
    """
    if rho <= 0:
        raise InputError(f"ρ must be positive, got {rho}")
    start, before = time.perf_counter(), op.gradients
    f0, g = op.loss_and_grad()
    eps = torch.zeros_like(g)
    if float(g.norm()) <= 1e-12 * max(1.0, abs(f0)):
        gen = torch.Generator().manual_seed(int(seed))
        eps = _on_sphere(op.random_vector(gen), 0.5 * rho)
        _, g = op.loss_and_grad(eps)
    best, moved = f0, float("inf")
    for _ in range(max(1, int(steps))):
        new = eps + rho * g / g.norm().clamp_min(1e-30)
        if float(new.norm()) > rho:
            new = _on_sphere(new, rho)
        moved, eps = float((new - eps).norm()), new
        f, g = op.loss_and_grad(eps)
        best = max(best, f)
    return {"value": best - f0, "rho": float(rho), "loss": f0, "max_loss": best,
            "steps": max(1, int(steps)), "evaluations": op.gradients - before,
            "converged": moved <= 1e-3 * rho, "seconds": time.perf_counter() - start}


def average_sharpness(op: Any, rho: float = 0.05, samples: int = 20, seed: int = 0) -> dict:
    """Mean of L(θ + u) − L(θ) over ``samples`` directions u uniform on the ρ-sphere."""
    if rho <= 0 or samples < 2:
        raise InputError("average sharpness needs ρ > 0 and at least 2 samples")
    start = time.perf_counter()
    f0 = op.loss()
    gen = torch.Generator().manual_seed(int(seed))
    rises = np.array([op.loss(_on_sphere(op.random_vector(gen), rho)) - f0
                      for _ in range(int(samples))])
    return {"value": float(rises.mean()), "stderr": float(rises.std(ddof=1) / math.sqrt(samples)),
            "rho": float(rho), "loss": f0, "samples": int(samples),
            "seconds": time.perf_counter() - start}


def _on_sphere(v: torch.Tensor, radius: float) -> torch.Tensor:
    return v * (radius / v.norm().clamp_min(1e-30))
