"""Critical sharpness: the curvature a step "feels", from a few forward passes.

After Kalra et al., *A Scalable Measure of Loss Landscape Curvature for Analyzing the
Training Dynamics of LLMs* (2026): along an update direction Δθ (one step at learning rate η
moves θ to θ + η·Δθ), the critical learning rate ηc is the smallest η > 0 at which the loss
rises back to where it started, L(θ + ηc·Δθ) = L(θ); critical sharpness is λc = 2/ηc. For a
quadratic with Hessian H and gradient descent (Δθ = −∇L) it is the Rayleigh quotient
gᵀHg/gᵀg, so λc ≤ λmax, and a step with η > 2/λc raises the loss: the same role 2/λmax plays
in the edge-of-stability picture, at the cost of forward passes only.

:func:`critical_sharpness` finds ηc on φ(c) = L(θ + c·u), ``u`` the update of one step taken
at rate ``lr`` (so c = 1 is that step, and ηc = c*·lr): the step is doubled or halved until
the loss rises above φ(0) with a point below it, then a parabola through φ(0) and the
bracket's ends (exact for a quadratic) estimates the root, confirmed by the sign of φ − φ(0)
just either side of it (else the bracket shrinks and the estimate is made again).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

MAX_DOUBLINGS = 10  # c up to 1024 steps: flatter than that is reported as no rise
MAX_HALVINGS = 5  # down to 1/32 of the step: a loss that rises even there had no descent


def critical_sharpness(phi: Callable[[float], float], lr: float, max_evals: int = 6,
                       rtol: float = 1e-4, known: dict[float, float] | None = None
                       ) -> dict[str, Any]:
    """λc = 2/(c*·lr) where φ(c*) = φ(0), c* > 0 the first rise of ``phi`` back to φ(0).

    ``phi(c)``: the loss at θ + c·u (``u`` one step's update at rate ``lr``); ``known``:
    values of φ already computed (c → φ(c)), which cost nothing here; ``max_evals``: forward
passes to refine the root once it is bracketed (a quadratic needs two). Returns ``value``
    (None when the loss never rises within 1024 steps, or does not fall for any step down
    to 1/32 of the update: not a descent direction), ``critical_lr`` (ηc), ``c`` (c*), ``evaluations`` (forward passes
    spent) and ``converged`` (the bracket shrank to ``rtol``·c*).
    """
    cache = dict(known or {})
    spent = [0]

    def f(c: float) -> float:
        if c not in cache:
            cache[c] = float(phi(c))
            spent[0] += 1
        return cache[c]

    f0 = f(0.0)
    lo, hi = _bracket(f, f0)
    if lo is None or hi is None:
        return {"value": None, "critical_lr": None, "c": None, "evaluations": spent[0],
                "converged": False, "note": "the loss does not rise along the update"
                if hi is None else "the update does not lower the loss"}
    converged, budget, moves = False, spent[0] + max_evals, ""
    while spent[0] < budget:
        delta = 0.5 * rtol * hi
        c = _estimate(cache, f0, lo, hi)
        if moves[-2:] in ("ll", "hh"):  # one end stuck: step just past the estimate
            c = c + delta if moves[-1] == "l" else c - delta
        c = min(max(c, lo + delta), hi - delta)  # strictly inside: the bracket shrinks
        if f(c) < f0:
            lo, moves = c, moves + "l"
        else:
            hi, moves = c, moves + "h"
        if hi - lo <= rtol * hi:
            converged = True
            break
    root = min(max(_estimate(cache, f0, lo, hi), lo), hi)
    return {"value": 2.0 / (root * lr), "critical_lr": root * lr, "c": root,
            "evaluations": spent[0], "converged": converged}


def _bracket(f: Callable[[float], float], f0: float) -> tuple[float | None, float | None]:
    """(lo, hi) with φ(lo) < φ(0) ≤ φ(hi), found from c = 1 by doubling or halving."""
    c = 1.0
    if f(c) < f0:
        for _ in range(MAX_DOUBLINGS):
            if f(2 * c) >= f0:
                return c, 2 * c
            c *= 2
        return c, None
    for _ in range(MAX_HALVINGS):
        if f(c / 2) < f0:
            return c / 2, c
        c /= 2
    return None, c


def _estimate(cache: dict[float, float], f0: float, lo: float, hi: float) -> float:
    """The root of φ − φ(0) in (lo, hi) of the parabola through the bracket's ends and the
    evaluated point nearest them (exact for a quadratic); regula falsi if it has none."""
    flo, fhi = cache[lo] - f0, cache[hi] - f0
    others = [c for c in cache if c not in (lo, hi)]
    if others:
        m = min(others, key=lambda c: min(abs(c - lo), abs(c - hi)))
        root = _parabola_root((lo, flo), (hi, fhi), (m, cache[m] - f0))
        if root is not None:
            return root
    return (lo * fhi - hi * flo) / (fhi - flo) if fhi > flo else 0.5 * (lo + hi)


def _parabola_root(a: tuple[float, float], b: tuple[float, float],
                   m: tuple[float, float]) -> float | None:
    """The root between a and b (of opposite signs) of the parabola through a, b and m."""
    (x0, y0), (x1, y1), (x2, y2) = a, b, m
    d01, d02, d12 = x0 - x1, x0 - x2, x1 - x2
    if 0 in (d01, d02, d12):
        return None
    # Newton form: y0 + s1·(x − x0) + s2·(x − x0)(x − x1)
    s1 = (y1 - y0) / (x1 - x0)
    s2 = ((y2 - y1) / (x2 - x1) - s1) / (x2 - x0)
    qa, qb, qc = s2, s1 - s2 * (x0 + x1), y0 - s1 * x0 + s2 * x0 * x1
    if abs(qa) < 1e-300:
        roots = [-qc / qb] if qb else []
    else:
        disc = qb * qb - 4 * qa * qc
        if disc < 0:
            return None
        sq = math.copysign(math.sqrt(disc), qb)
        q = -0.5 * (qb + sq)  # the stable pair of roots
        roots = [q / qa] + ([qc / q] if q else [])
    inside = [r for r in roots if min(x0, x1) <= r <= max(x0, x1) and math.isfinite(r)]
    return inside[0] if inside else None
