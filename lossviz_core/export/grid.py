"""Compare results for a paper: N results in a grid on one colour scale, a difference map,
1-D overlays, written as one figure (PNG, SVG or PDF) that carries every panel's recipe.

The paper's figures compare pairs (ResNet-56 with and without skip connections) and rows of
them; one shared colour scale and one colour bar make the panels comparable at a glance.
Panels are titled by what tells them apart (:func:`distinguishing_titles`), the figure by
what they share.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from lossviz_core.errors import InputError
from lossviz_core.export import panels
from lossviz_core.export.figure import (
    FigureOptions,
    add_partial_legend,
    draw_panel,
    figure_specs,
    new_figure,
    panel_quantity,
    save_exact,
    scale_for,
)
from lossviz_core.export.panels import shown_values
from lossviz_core.export.titles import (
    differing_fields,
    distinguishing_titles,
    recipe_fields,
    recipe_title,
    wrap,
)
from lossviz_core.results import nonfinite
from lossviz_core.results import quantities as qreg
from lossviz_core.results.result import SurfaceResult

MODES = ("2d", "3d", "difference", "lines")
_MAP_KINDS = ("contour", "filled", "heatmap")


def export_grid(
    results: Sequence[SurfaceResult], path: str | os.PathLike,
    options: FigureOptions | None = None, rows: int | None = None, cols: int | None = None,
    titles: Sequence[str] | None = None, mode: str = "2d",
) -> Path:
    """Write ``results`` as one figure (see :func:`build_grid`) of exactly the size of
    ``options``; the metadata holds a JSON list with each panel's specs and recipe."""
    options = options or FigureOptions()
    titles = _titles(results, titles)
    fig = build_grid(results, options, rows, cols, titles, mode)
    specs = [{**figure_specs(r, options), "panel": t, "mode": mode}
             for r, t in zip(results, titles, strict=True)]
    return save_exact(fig, path, options, specs)


def build_grid(
    results: Sequence[SurfaceResult], options: FigureOptions | None = None,
    rows: int | None = None, cols: int | None = None, titles: Sequence[str] | None = None,
    mode: str = "2d",
) -> Figure:
    """The compare figure. ``mode``: ``2d`` (maps: ``options.kind`` contour, filled or
    heatmap), ``3d`` (surfaces), both in ``rows`` × ``cols`` panels on one colour scale
    with one colour bar; ``difference`` (exactly two results on the same grid: a − b on a
    diverging colour map centred at 0); ``lines`` (1-D results overlaid in one axes).
    ``titles``: one per result (default: :func:`distinguishing_titles`); the figure's title
    is ``options.title``, or what every result shares."""
    o = options or FigureOptions()
    if mode not in MODES:
        raise InputError(f"unknown compare mode {mode!r}; choose one of {', '.join(MODES)}")
    if not results:
        raise InputError("nothing to compare: no results given")
    titles = _titles(results, titles)
    if mode == "lines":
        fig = _lines(results, titles, o)
    elif mode == "difference":
        fig = _difference(results, titles, o)
    else:
        fig = _panels(results, titles, o, mode, *grid_shape(len(results), rows, cols))
    title = common_title(results) if o.title is None else o.title
    if title:
        fig.suptitle(wrap(title, o.width, o.font_size + 1), fontsize=o.font_size + 1)
    return fig


def difference_values(a: SurfaceResult, b: SurfaceResult, quantity: str | None = None,
                      log: bool = False) -> np.ndarray:
    """``a − b`` of ``quantity`` (of log10 values with ``log``), shape (ny, nx), as the
    difference map draws it; NaN where either is missing. Results on different grids are
    refused (:class:`InputError`)."""
    check_same_grid(a, b)
    q = panel_quantity(a, quantity)
    panel_quantity(b, q)
    return shown_values(a.values[q], q, log) - shown_values(b.values[q], q, log)


def check_same_grid(a: SurfaceResult, b: SurfaceResult) -> None:
    """One-line :class:`InputError` unless ``a`` and ``b`` are surfaces on the same grid."""
    if a.is_line or b.is_line:
        raise InputError("a difference map needs two 2-D results; use mode 'lines' for 1-D")
    same = (a.shape == b.shape and np.allclose(a.x, b.x, rtol=1e-9, atol=1e-12)
            and np.allclose(a.y, b.y, rtol=1e-9, atol=1e-12))
    if not same:
        raise InputError(f"a difference map needs two results on the same grid, got "
                         f"{_grid_text(a)} and {_grid_text(b)}")


def grid_shape(n: int, rows: int | None = None, cols: int | None = None) -> tuple[int, int]:
    """Rows and columns for ``n`` panels: up to 3 in a row, then a near-square grid."""
    if rows is not None and rows < 1 or cols is not None and cols < 1:
        raise InputError(f"rows and columns must be >= 1, got {rows} x {cols}")
    if rows is None and cols is None:
        cols = n if n <= 3 else math.ceil(math.sqrt(n))
    if cols is None:
        cols = math.ceil(n / rows)
    if rows is None:
        rows = math.ceil(n / cols)
    if rows * cols < n:
        raise InputError(f"{n} results do not fit in {rows} x {cols} panels")
    return rows, cols


def common_title(results: Sequence[SurfaceResult]) -> str:
    """What every result shares (the fields their panel titles do not name)."""
    fields = [recipe_fields(r) for r in results]
    return recipe_title(results[0], skip=differing_fields(fields, implied=True))


# --- internals -------------------------------------------------------------------------


def _titles(results: Sequence[SurfaceResult], titles: Sequence[str] | None) -> list[str]:
    if titles is None:
        return distinguishing_titles(results)
    if len(titles) != len(results):
        raise InputError(f"{len(results)} results need {len(results)} titles, got {len(titles)}")
    return [str(t) for t in titles]


def _quantity(results: Sequence[SurfaceResult], titles: Sequence[str], o: FigureOptions) -> str:
    q = panel_quantity(results[0], o.quantity)
    for r, t in zip(results, titles, strict=True):
        if q not in r.values:
            raise InputError(f"the result {t!r} has no quantity {q!r} to compare")
    return q


def _need_dims(results: Sequence[SurfaceResult], titles: Sequence[str], line: bool,
               mode: str) -> None:
    for r, t in zip(results, titles, strict=True):
        if r.is_line != line:
            need = "1-D" if line else "2-D"
            raise InputError(f"mode {mode!r} compares {need} results; {t!r} is not {need}")


def _panels(results: Sequence[SurfaceResult], titles: Sequence[str], o: FigureOptions,
            mode: str, rows: int, cols: int) -> Figure:
    _need_dims(results, titles, False, mode)
    if mode == "3d" and o.kind not in ("auto", "surface"):
        raise InputError(f"mode '3d' draws surfaces, not kind {o.kind!r}; use mode '2d'")
    kind = "surface" if mode == "3d" else ("filled" if o.kind == "auto" else o.kind)
    if kind not in _MAP_KINDS + ("surface",):
        raise InputError(f"mode '2d' draws {', '.join(_MAP_KINDS)}, not kind {o.kind!r}")
    if mode == "2d" and kind == "surface":
        raise InputError("mode '2d' draws maps; use mode '3d' for surfaces")
    q = _quantity(results, titles, o)
    zs = [shown_values(r.values[q], q, o.log) for r in results]
    scale = scale_for(zs, q, o)
    fig = new_figure(o)
    axes = fig.subplots(rows, cols, squeeze=False,
                        subplot_kw={"projection": "3d"} if kind == "surface" else None).ravel()
    for ax in axes[len(results):]:
        ax.remove()
    mappable, counts = None, {"missing": 0, "diverged": 0}
    for ax, r, z, t in zip(axes, results, zs, titles, strict=False):
        m = draw_panel(ax, r, q, z, scale, kind, o)
        mappable = mappable if mappable is not None else m
        ax.set_title(wrap(t, o.width / cols, o.font_size), fontsize=o.font_size)
        c = panels.mark_partial(ax, r.x, r.y, r.done, r.values[q], o.missing_color,
                                o.diverged_color, kind, missing=o.partial)
        counts = {k: counts[k] + c[k] for k in counts}
    if o.colorbar and mappable is not None and scale is not None:
        panels.add_colorbar(fig, mappable, list(axes[: len(results)]), scale, o.font_size)
    add_partial_legend(fig, counts, o, _non_finite(results, q))
    return fig


def _difference(results: Sequence[SurfaceResult], titles: Sequence[str],
                o: FigureOptions) -> Figure:
    if len(results) != 2:
        raise InputError(f"a difference map needs exactly two results, got {len(results)}")
    a, b = results
    kind = "filled" if o.kind == "auto" else o.kind
    if kind not in _MAP_KINDS:
        raise InputError(f"a difference map is drawn as {', '.join(_MAP_KINDS)}, not {kind!r}")
    d = difference_values(a, b, o.quantity, o.log)
    q = panel_quantity(a, o.quantity)
    name = qreg.quantity(q).axis_label()
    label = f"Δ log10 {name}" if o.log and qreg.quantity(q).loggable else f"Δ {name}"
    scale = scale_for([d], q, o, centred=True, label=label)
    diff = SurfaceResult(x=a.x, y=a.y, values={q: d}, done=a.done & b.done,
                         trajectory=a.trajectory)  # for the axis names; not drawn
    fig = new_figure(o)
    ax = fig.add_subplot()
    m = draw_panel(ax, diff, q, d, scale, kind, o.replace(trajectory=False))
    ax.set_title(wrap(f"{titles[0]} − {titles[1]}", o.width, o.font_size), fontsize=o.font_size)
    if o.colorbar and m is not None and scale is not None:
        panels.add_colorbar(fig, m, ax, scale, o.font_size)
    counts = panels.mark_partial(ax, diff.x, diff.y, diff.done, d, o.missing_color,
                                 o.diverged_color, kind, missing=o.partial)
    add_partial_legend(fig, counts, o)  # non-finite in a or b: see each result for why
    return fig


def _lines(results: Sequence[SurfaceResult], titles: Sequence[str], o: FigureOptions) -> Figure:
    _need_dims(results, titles, True, "lines")
    if o.kind not in ("auto", "line"):
        raise InputError(f"mode 'lines' draws lines, not kind {o.kind!r}")
    q = _quantity(results, titles, o)
    fig = new_figure(o)
    ax = fig.add_subplot()
    counts = {"missing": 0, "diverged": 0}
    for k, (r, t) in enumerate(zip(results, titles, strict=True)):
        # a line's gap shows where it is missing: hatching it would cover the others
        missing = int((~r.done).sum())
        label = f"{t} ({missing} of {r.done.size} not computed)" if o.partial and missing else t
        panels.line_with_band(ax, r.x, r, q, f"C{k % 10}", label, linewidth=1.2)
        straight = qreg.STRAIGHT_PREFIX + q
        if straight in r.values:  # a curve: its straight line beside it, dashed
            panels.line_with_band(ax, r.x, r, straight, f"C{k % 10}", f"{t}, straight line",
                                  1.2)
        c = panels.mark_partial(ax, r.x, None, r.done, r.values[q], o.missing_color,
                                o.diverged_color, spans=False)
        counts["diverged"] += c["diverged"]
    finite = np.concatenate([np.asarray(r.values[q], float).ravel() for r in results])
    if o.log and qreg.quantity(q).loggable and np.any(finite[np.isfinite(finite)] > 0):
        ax.set_yscale("log")
    if o.vmin is not None or o.vmax is not None:
        ax.set_ylim(o.vmin, o.vmax)
    methods = {recipe_fields(r).get("directions.method") for r in results}
    xlabel = ("α (interpolation: θ = (1 − α)·θ_A + α·θ_B)" if methods == {"target"} else
              "t (along the curve from A to B)" if methods == {"curve"} else "α")
    ax.set_xlabel(xlabel, fontsize=o.font_size)
    ax.set_ylabel(qreg.quantity(q).axis_label(), fontsize=o.font_size)
    ax.tick_params(labelsize=o.font_size - 1)
    ax.legend(fontsize=o.font_size - 1, loc="best")
    add_partial_legend(fig, counts, o, _non_finite(results, q))
    return fig


def _non_finite(results: Sequence[SurfaceResult], q: str) -> str:
    """What the results' non-finite points of ``q`` are, in one line."""
    return nonfinite.summary(nonfinite.explain(r, nonfinite.non_finite_mask(r, q))
                             for r in results)


def _grid_text(r: SurfaceResult) -> str:
    if r.is_line:
        return f"a line of {len(r.x)} points"
    return (f"{len(r.x)}x{len(r.y)} (α {r.x[0]:g}..{r.x[-1]:g}, "
            f"β {r.y[0]:g}..{r.y[-1]:g})")
