"""A 1-D result as a figure: losses on the left axis, accuracies on the right (test dotted),
as the window's 1-D view and the report's Figure 9 draw it.

The figure keeps the whole α range the result covers, also where the loss is not finite:
those stretches are shaded, and the legend says why (a BatchNorm running variance below
zero, or a diverged loss: :mod:`lossviz_core.results.nonfinite`). An interpolation marks
its two checkpoints at α = 0 and α = 1. The legend has its own row below the axes, so it
never covers a curve.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lossviz_core.export import panels
from lossviz_core.export.titles import distinct_tail
from lossviz_core.results import nonfinite
from lossviz_core.results import quantities as qreg
from lossviz_core.results.result import SurfaceResult

LOSS_COLOR, ACC_COLOR = "tab:blue", "tab:red"
INTERPOLATION_LABEL = "α (interpolation: θ = (1 − α)·θ_A + α·θ_B)"
CURVE_LABEL = "t (along the curve from A, t = 0, to B, t = 1)"
X_PADDING = 0.02  # of the range on each side, as the window's view


def draw_line(fig: Figure, result: SurfaceResult, o: Any) -> dict[str, Any]:
    """Draw ``result`` (1-D) into ``fig`` under options ``o`` (a
    :class:`~lossviz_core.export.figure.FigureOptions`: quantity, log, vmin/vmax for the
    loss axis, partial, colours, font size); returns what the figure shows (its axes, the
    non-finite explanation)."""
    x = np.asarray(result.x, float)
    wanted = [o.quantity] if o.quantity is not None else qreg.drawn_quantities(result.values)
    accs = [q for q in wanted if qreg.is_accuracy(q)]
    # perplexity, exp(loss), on the loss axis would flatten the loss curves: only when asked
    losses = [q for q in wanted if q not in accs
              and (o.quantity is not None or qreg.quantity(q).kind != "perplexity")]
    ax = fig.add_subplot()
    handles: list[Any] = []
    recipe = result.recipe
    method = recipe.directions.method if recipe is not None else None
    curve = method == "curve"  # its own values and, beside them, the straight line's

    def label(q: str) -> str:
        straight = q.startswith(qreg.STRAIGHT_PREFIX)
        return qreg.quantity(q).label + (", curve" if curve and not straight else "")

    for q in losses:
        handles += panels.line_with_band(ax, x, result, q, LOSS_COLOR, label(q))
    if losses:
        ax.set_ylabel("loss", color=LOSS_COLOR, fontsize=o.font_size)
        ax.tick_params(axis="y", labelcolor=LOSS_COLOR)
        values = np.concatenate([np.asarray(result.values[q], float).ravel() for q in losses])
        if o.log and np.any(values[np.isfinite(values)] > 0):
            ax.set_yscale("log")
        if o.vmin is not None or o.vmax is not None:
            ax.set_ylim(o.vmin, o.vmax)
    acc_ax = None
    if accs:
        acc_ax = ax.twinx() if losses else ax
        for q in accs:
            handles += panels.line_with_band(acc_ax, x, result, q, ACC_COLOR, label(q),
                                             values=_accuracy(result, q))
        acc_ax.set_ylabel(f"accuracy ({qreg.quantity(accs[0]).unit or '%'})", color=ACC_COLOR,
                          fontsize=o.font_size)
        acc_ax.tick_params(axis="y", labelcolor=ACC_COLOR)
    interpolation = method in ("target", "curve")
    ax.set_xlabel(CURVE_LABEL if curve else INTERPOLATION_LABEL if interpolation else "α",
                  fontsize=o.font_size)
    span = float(x[-1] - x[0]) if len(x) > 1 else 1.0
    ax.set_xlim(x[0] - X_PADDING * span, x[-1] + X_PADDING * span)  # the whole range
    if interpolation:
        _mark_checkpoints(ax, recipe, o.font_size)
    shown = losses or accs
    mask = nonfinite.non_finite_mask(result, None if not losses or o.quantity is None
                                     else o.quantity)
    why = nonfinite.explain(result, mask)
    raw = np.where(mask, np.nan, 0.0)  # what mark_partial shades: the explained points
    counts = panels.mark_partial(ax, x, None, result.done, raw, o.missing_color,
                                 o.diverged_color, missing=o.partial)
    handles += panels.partial_handles(counts, o.missing_color, o.diverged_color,
                                      why.describe(), line=True)
    for a in fig.axes:
        a.tick_params(labelsize=o.font_size - 1)
    if handles:
        _legend_below(fig, handles, o.font_size - 1)
    return {"axes": ax, "accuracy_axes": acc_ax, "non_finite": why, "quantities": shown}


def checkpoint_labels(recipe: Any) -> tuple[str, str]:
    """'A: small_batch', 'B: large_batch': the checkpoints at α = 0 and α = 1 of an
    interpolation, by the shortest ends of their paths that tell them apart."""
    a, b = recipe.model.checkpoint, recipe.directions.param("checkpoint")
    paths = [p for p in (a, b) if p]
    return (f"A: {distinct_tail(a, paths)}" if a else "A",
            f"B: {distinct_tail(b, paths)}" if b else "B")


# --- internals -------------------------------------------------------------------------


def _accuracy(result: SurfaceResult, q: str) -> np.ndarray:
    """Accuracy where its split's loss is finite (chance accuracy is no reading)."""
    v = np.asarray(result.values[q], float)
    split = qreg.quantity(q).split
    loss = f"{split}_loss"
    if loss in result.values:
        v = np.where(np.isfinite(result.values[loss]), v, np.nan)
    return v


def _mark_checkpoints(ax: Any, recipe: Any, font_size: float) -> None:
    """Dashed lines at α = 0 and 1, each named along it (vertical text covers little)."""
    for a, name in zip((0.0, 1.0), checkpoint_labels(recipe), strict=True):
        ax.axvline(a, color="gray", linestyle="--", linewidth=0.8, zorder=1)
        ax.annotate(name, (a, 0.5), xycoords=("data", "axes fraction"), xytext=(-3, 0),
                    textcoords="offset points", rotation=90, ha="right", va="center",
                    fontsize=font_size - 1, color="dimgray",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.7})


def _legend_below(fig: Figure, handles: list[Any], font_size: float) -> Any:
    """One legend row (or as few rows as fit the figure's width) below the axes; a label
    longer than the figure is wide is broken into lines."""
    chars = max(12, int(fig.get_figwidth() * 72 / (0.6 * font_size)) - 6)
    for h in handles:
        h.set_label(textwrap.fill(h.get_label(), chars, break_on_hyphens=False))
    renderer = fig.canvas.get_renderer()
    for cols in range(len(handles), 0, -1):
        legend = fig.legend(handles=handles, loc="outside lower center", fontsize=font_size,
                            ncols=cols, frameon=False)
        if cols == 1 or legend.get_window_extent(renderer).width <= 0.98 * fig.bbox.width:
            return legend
        legend.remove()
    return None
