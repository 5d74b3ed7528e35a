"""How much of a landscape is known: computed, interpolated (not computed yet), non-finite.

Every view reads the same counts so the 3-D surface, the 2-D map, the 1-D line and the
status bar agree on what is a result and what is a preview.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EMPTY_MESSAGE = "Compute or open a landscape"
EMPTY_HINT = "Compute ▸ Compute, or File ▸ Open… a result file"
PREPARING_MESSAGE = "Preparing… no points computed yet"


@dataclass(frozen=True)
class PointCounts:
    """Points of the shown quantity. ``interpolated``: not computed yet (drawn interpolated
    in 2-D and 3-D, as a gap in 1-D); ``non_finite``: computed, but NaN/±inf (diverged)."""

    computed: int
    interpolated: int
    non_finite: int

    @property
    def total(self) -> int:
        return self.computed + self.interpolated + self.non_finite

    @property
    def state(self) -> str:
        """'preparing' (nothing computed yet), 'partial' or 'complete'."""
        if self.computed + self.non_finite == 0:
            return "preparing"
        return "partial" if self.interpolated else "complete"

    def describe(self) -> str:
        """'35 computed · 0 interpolated · 1 non-finite' (for a status bar)."""
        return (
            f"{self.computed} computed · {self.interpolated} interpolated · "
            f"{self.non_finite} non-finite"
        )

    def banner(self, filled: str = "interpolated") -> str:
        """One line saying a picture is not finished (empty when it is, and all finite).

        ``filled`` says how the view draws points not computed yet ('interpolated, pale')."""
        if self.state == "preparing":
            return PREPARING_MESSAGE
        parts = []
        if self.interpolated:
            done = self.computed + self.non_finite
            parts.append(f"Partial: {done}/{self.total} computed, the rest {filled}")
        if self.non_finite:
            parts.append(f"{self.non_finite} non-finite (diverged)")
        return " · ".join(parts)


def point_counts(values: np.ndarray, done: np.ndarray) -> PointCounts:
    """Count a grid's points by what a view can draw of them (raw values, before clip/log)."""
    done = np.asarray(done, dtype=bool)
    finite = np.isfinite(np.asarray(values, dtype=float))
    computed = int((done & finite).sum())
    non_finite = int((done & ~finite).sum())
    return PointCounts(computed, int((~done).sum()), non_finite)
