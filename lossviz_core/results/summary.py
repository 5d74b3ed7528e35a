"""Numbers that summarize a landscape: barriers on paths, sharpness and convexity on planes.

- **barrier** of a path between two models (an interpolation, a curve): the highest loss on
  it minus the mean of the two ends' losses (Garipov et al. 2018; Frankle et al. 2020), over
  t ∈ [0, 1];
- **sharpness** of a plane or line around its centre: Keskar et al.'s ε-sharpness over the
  computed range, 100·(max L − L(0)) / (1 + L(0)) percent;
- **convex share**: the fraction of inner grid points where the finite-difference Hessian of
  the loss is positive semi-definite (the second difference ≥ 0 on a line), and, where the
  result holds the curvature measure, the mean of its convexity map |λmin/λmax|.

A result over several direction seeds (:mod:`lossviz_core.run.seeds`) gives each number per
seed, reported as the mean ± the standard deviation over the seeds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lossviz_core.results.quantities import is_loss
from lossviz_core.results.result import SurfaceResult

SEED = re.compile(r"^(?P<base>.+)_seed(?P<seed>-?\d+)$")
PATH_METHODS = ("target", "curve")
CONVEXITY_MAP = "eig_ratio"


@dataclass(frozen=True)
class Summary:
    """One number, or its mean and spread over ``n`` seeds (``spread`` None for one)."""

    name: str
    value: float
    spread: float | None = None
    n: int = 1
    unit: str = ""

    def text(self) -> str:
        if self.spread is None:
            return f"{self.name} {self.value:.4g}{self.unit}"
        return (f"{self.name} {self.value:.4g} ± {self.spread:.2g}{self.unit} "
                f"(mean ± std over {self.n} seeds)")


def barrier(x: np.ndarray, loss: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> float:
    """max of ``loss`` over ``lo ≤ x ≤ hi`` minus the mean of its values at ``lo`` and ``hi``
    (interpolated when they are not grid points); NaN when the path is not covered."""
    x, loss = np.asarray(x, float), np.asarray(loss, float)
    ok = np.isfinite(loss)
    if ok.sum() < 2 or x[ok].min() > lo + 1e-9 or x[ok].max() < hi - 1e-9:
        return float("nan")
    x, loss = x[ok], loss[ok]
    ends = np.interp([lo, hi], x, loss)
    inside = loss[(x >= lo - 1e-9) & (x <= hi + 1e-9)]
    return float(max(inside.max(initial=-np.inf), ends.max()) - ends.mean())


def path_barriers(result: SurfaceResult) -> dict[str, float]:
    """``{quantity: barrier}`` of every loss a path result holds (a curve's and its straight
    line's); empty for other results."""
    recipe = result.recipe
    if not result.is_line or recipe is None or recipe.directions.method not in PATH_METHODS:
        return {}
    return {q: barrier(result.x, result.values[q]) for q in result.quantities
            if is_loss(q) and not SEED.match(q)}


def sharpness(result: SurfaceResult, z: np.ndarray) -> float:
    """ε-sharpness over the grid (Keskar et al. 2017), in percent."""
    z = np.asarray(z, float)
    if not np.isfinite(z).any():
        return float("nan")
    centre = z[_centre(result)]
    return float(100.0 * (np.nanmax(z) - centre) / (1.0 + centre))


def convex_share(z: np.ndarray) -> float:
    """The fraction of inner points whose finite-difference Hessian is positive semi-definite."""
    z = np.asarray(z, float)
    if z.ndim == 1:
        if z.size < 3:
            return float("nan")
        d2 = z[2:] - 2 * z[1:-1] + z[:-2]
        ok = np.isfinite(d2)
        return float((d2[ok] >= 0).mean()) if ok.any() else float("nan")
    if min(z.shape) < 3:
        return float("nan")
    zxx = z[1:-1, 2:] - 2 * z[1:-1, 1:-1] + z[1:-1, :-2]
    zyy = z[2:, 1:-1] - 2 * z[1:-1, 1:-1] + z[:-2, 1:-1]
    zxy = (z[2:, 2:] - z[2:, :-2] - z[:-2, 2:] + z[:-2, :-2]) / 4
    ok = np.isfinite(zxx) & np.isfinite(zyy) & np.isfinite(zxy)
    psd = (zxx >= 0) & (zyy >= 0) & (zxx * zyy - zxy**2 >= 0)
    return float(psd[ok].mean()) if ok.any() else float("nan")


def _centre(result: SurfaceResult) -> tuple[int, ...]:
    i = int(np.argmin(np.abs(result.x)))
    return (i,) if result.y is None else (int(np.argmin(np.abs(result.y))), i)


def landscape_summaries(result: SurfaceResult, quantity: str | None = None) -> list[Summary]:
    """Sharpness and convex share of the main loss (and the mean convexity map, if held):
    per seed and as mean ± std for a result over several seeds."""
    q = quantity or result.main_quantity()
    seeds = sorted((int(m["seed"]), name) for name in result.values
                   if (m := SEED.match(name)) and m["base"] == q)
    arrays = [result.values[name] for _, name in seeds] or [result.values[q]]
    out = [_over(f"sharpness ({q})", [sharpness(result, z) for z in arrays], " %"),
           _over(f"convex share ({q})", [convex_share(z) for z in arrays])]
    maps = sorted(name for name in result.values
                  if name == CONVEXITY_MAP or ((m := SEED.match(name)) and m["base"] ==
                                               CONVEXITY_MAP))
    if len(maps) > 1:
        maps.remove(CONVEXITY_MAP)  # the seeds' own maps, not their mean
    if maps:
        out.append(_over("mean convexity |λmin/λmax|",
                         [float(np.nanmean(result.values[m])) for m in maps]))
    return out


def _over(name: str, values: list[float], unit: str = "") -> Summary:
    if len(values) == 1:
        return Summary(name, values[0], unit=unit)
    v = np.asarray(values, float)
    return Summary(name, float(np.mean(v)), float(np.std(v)), len(v), unit)
