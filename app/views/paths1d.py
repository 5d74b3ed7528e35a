"""What the 1-D view adds for geometry across models: a curve beside its straight line (both
barriers in the legend), the mean over direction seeds with a band of ± one standard
deviation, and the two models' markers at t = 0 and 1 of a curve. Qt-free but for the band."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from lossviz_core.results.quantities import (
    SPREAD_SUFFIX,
    STRAIGHT_PREFIX,
    drawn_quantities,
    quantity,
)
from lossviz_core.results.result import SurfaceResult
from lossviz_core.results.summary import path_barriers

PATH_METHODS = ("target", "curve")
SPREAD, STRAIGHT = SPREAD_SUFFIX, STRAIGHT_PREFIX


def shown_quantities(result: SurfaceResult) -> list[str]:
    """The quantities drawn as curves: means, not each seed's values or the spread."""
    return drawn_quantities(result.values)


def is_straight(q: str) -> bool:
    """A curve's straight line beside it (drawn dashed)."""
    return q.startswith(STRAIGHT)


def legend_label(result: SurfaceResult, q: str, barriers: dict[str, float]) -> str:
    """The quantity's label; on a curve which path it is; with its barrier where it has one;
    over several seeds, that the band is their spread."""
    method = result.recipe.directions.method if result.recipe is not None else None
    text = quantity(q).label + (", curve" if method == "curve" and not is_straight(q) else "")
    b = barriers.get(q)
    if b is not None and np.isfinite(b):
        text += f" (barrier {b:.3g})"
    if q + SPREAD in result.values:
        text += " ± std"
    return text


def barriers_of(result: SurfaceResult) -> dict[str, float]:
    """Each loss's barrier on a complete path result (none while it fills in)."""
    return path_barriers(result) if result.complete else {}


class Band:
    """± one standard deviation around a mean curve, in the curve's colour."""

    def __init__(self, target, color: tuple[int, int, int]) -> None:  # noqa: ANN001 (a box)
        # curves with an invisible pen: FillBetweenItem follows their paths (no pen: no path)
        self.lo = pg.PlotCurveItem(pen=pg.mkPen(0, 0, 0, 0))
        self.hi = pg.PlotCurveItem(pen=pg.mkPen(0, 0, 0, 0))
        self.fill = pg.FillBetweenItem(self.lo, self.hi, brush=pg.mkBrush(*color, 50))
        self.target = target
        for item in (self.lo, self.hi, self.fill):
            target.addItem(item)

    def set(self, x: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> None:
        ok = np.isfinite(mean) & np.isfinite(spread)
        self.lo.setData(x[ok], (mean - spread)[ok])
        self.hi.setData(x[ok], (mean + spread)[ok])

    def remove(self) -> None:
        for item in (self.fill, self.lo, self.hi):
            self.target.removeItem(item)
