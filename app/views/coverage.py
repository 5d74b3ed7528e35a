"""How much of a landscape is known: computed, interpolated (not computed yet), non-finite.

Every view reads the same counts so the 3-D surface, the 2-D map, the 1-D line and the
status bar agree on what is a result and what is a preview, and say alike why points are
not finite (a BatchNorm running variance below zero, or a diverged loss:
:mod:`lossviz_core.results.nonfinite`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lossviz_core.results.nonfinite import explain

EMPTY_MESSAGE = "Compute or open a landscape"
EMPTY_HINT = "Compute ▸ Compute, or File ▸ Open… a result file"
PREPARING_MESSAGE = "Preparing… no points computed yet"


@dataclass(frozen=True)
class PointCounts:
    """Points of the shown quantity. ``interpolated``: not computed yet (drawn interpolated
    in 2-D and 3-D, as a gap in 1-D); ``non_finite``: computed, but NaN/±inf, and
    ``why``: what made them so ('3 non-finite: BatchNorm running variance < 0 (bn1 at
    α ≥ 1.4)', '3 non-finite loss (diverged)')."""

    computed: int
    interpolated: int
    non_finite: int
    why: str = ""

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
        """'35 computed · 0 interpolated · 1 non-finite loss (diverged)' (for a status bar);
        before the first point, how many there are to compute."""
        if self.state == "preparing":
            return f"preparing: {self.total} points to compute"
        return (
            f"{self.computed} computed · {self.interpolated} interpolated · "
            f"{self._non_finite()}"
        )

    def _non_finite(self) -> str:
        return self.why or f"{self.non_finite} non-finite"

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
            parts.append(self._non_finite())
        return " · ".join(parts)


def point_counts(values: np.ndarray, done: np.ndarray, result: Any = None) -> PointCounts:
    """Count a grid's points by what a view can draw of them (raw values, before clip/log);
    with ``result`` (whose grid this is), say why the non-finite ones are so."""
    done = np.asarray(done, dtype=bool)
    finite = np.isfinite(np.asarray(values, dtype=float))
    computed = int((done & finite).sum())
    non_finite = int((done & ~finite).sum())
    why = explain(result, done & ~finite).describe() if non_finite and result is not None else ""
    return PointCounts(computed, int((~done).sum()), non_finite, why)


class PlotStateMixin:
    """What the 2-D and 1-D plot views report alike: ``state()``, ``message()``,
    ``point_counts()`` and ``cursor_text()``. The view keeps ``result``, ``_counts``,
    ``_message`` (shown instead of a plot), ``note`` (a banner over it), ``_cursor`` (the
    arguments of its ``describe_point`` where the mouse last was, or None)."""

    def state(self) -> str:
        """'empty', 'message' (show_message), 'preparing', 'partial' or 'complete'."""
        if self.result is None or self._counts is None:
            return "empty" if self._message in ("", EMPTY_MESSAGE) else "message"
        return self._counts.state

    def message(self) -> str:
        """What is written instead of (or over) the plot; '' when the plot stands alone."""
        if self.result is None:
            return self._message
        return self.note.toPlainText() if self.note.isVisible() else ""

    def point_counts(self) -> PointCounts | None:
        """Computed / interpolated / non-finite points of the shown quantity (None: empty)."""
        return self._counts

    def cursor_text(self) -> str:
        """The read-out at the last cursor position, with the values shown now ("" if none)."""
        cursor = getattr(self, "_cursor", None)
        if self.result is None or cursor is None:
            return ""
        return self.describe_point(*cursor)
