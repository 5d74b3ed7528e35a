"""Drawing one panel of an export: a 2-D map, a 3-D surface, with its partial state shown.

Every panel of a figure draws through one :class:`ColourScale` (colour map, norm, levels),
so a compare grid has one shared scale and one colour bar. Grid orientation is the
project's (design: Conventions): ``z[j, i] = f(x[i], y[j])``, shape (ny, nx).

A partial result is shown as partial: points not computed yet get hatched grey cells,
points computed but not finite a distinct colour, whose legend says why
(:mod:`lossviz_core.results.nonfinite`: a negative BatchNorm variance, or a diverged loss).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import Colormap, LogNorm, Normalize
from matplotlib.patches import Patch
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, MaxNLocator, ScalarFormatter

from lossviz_core.errors import InputError
from lossviz_core.results import quantities as qreg
from lossviz_core.results.result import contour_levels

MISSING_HATCH = "///"
COLORBAR_GID = "lossviz-colorbar"
NON_FINITE_ALPHA = 0.22  # a line's non-finite stretch: shaded, the curves stay readable
ISOLINE_STYLE = {"colors": "white", "alpha": 0.6, "linewidths": 0.7}  # as the window's
_MAX_EPOCH_LABELS = 12
_LABEL_GAP = 0.05  # fraction of the axes between two epoch labels


def shown_values(values: np.ndarray, quantity: str, log: bool) -> np.ndarray:
    """The values as drawn: log10 of a log-able quantity when ``log`` (<= 0 becomes NaN)."""
    z = np.asarray(values, dtype=float)
    if log and qreg.quantity(quantity).loggable:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(z > 0, np.log10(np.where(z > 0, z, 1.0)), np.nan)
    return z


@dataclass(frozen=True)
class ColourScale:
    """One colour scale shared by every panel of a figure: ``levels`` for contours,
    ``norm`` for colours, ``extend`` saying whether data lies beyond the range."""

    cmap: Colormap
    norm: Normalize
    levels: np.ndarray
    label: str
    extend: str = "neither"


def colour_scale(
    arrays: Sequence[np.ndarray], cmap: str, label: str, levels: int | Sequence[float],
    vmin: float | None = None, vmax: float | None = None, geometric: bool = False,
    centred: bool = False, linear: bool = False,
) -> ColourScale | None:
    """The scale over the finite values of all ``arrays`` (or [vmin, vmax]); ``None`` when
    nothing is finite and no range was given. ``centred``: symmetric about 0 (a difference).
    Colours follow log-spaced levels (filled bands of a loss over decades) unless
    ``linear`` (a heatmap: colours linear in the shown values, as the window's)."""
    finite = np.concatenate([np.asarray(a, float)[np.isfinite(a)] for a in arrays] or [[]])
    explicit = None if isinstance(levels, (int, np.integer)) else np.asarray(levels, float)
    lo = vmin if vmin is not None else (explicit[0] if explicit is not None else None)
    hi = vmax if vmax is not None else (explicit[-1] if explicit is not None else None)
    if finite.size == 0 and (lo is None or hi is None):
        return None
    lo = float(finite.min()) if lo is None else float(lo)
    hi = float(finite.max()) if hi is None else float(hi)
    if centred and vmin is None and vmax is None:
        lim = max(abs(lo), abs(hi)) or 1.0  # identical surfaces: a flat 0 in the middle
        lo, hi = -lim, lim
    if not hi > lo:  # a constant surface: widen so it still gets a colour and a level
        lo, hi = lo - (abs(lo) or 1.0) * 0.5, hi + (abs(hi) or 1.0) * 0.5
    lv = explicit if explicit is not None else contour_levels(lo, hi, int(levels), geometric)
    norm = LogNorm(lo, hi) if _log_spaced(lv) and lo > 0 and not linear else Normalize(lo, hi)
    below = bool(finite.size and finite.min() < lo)
    above = bool(finite.size and finite.max() > hi)
    extend = {(True, True): "both", (True, False): "min", (False, True): "max"}.get(
        (below, above), "neither")
    return ColourScale(colormap(cmap), norm, np.asarray(lv, float), label, extend)


def colormap(name: str) -> Colormap:
    """The registered matplotlib colour map ``name`` (one-line error for a bad name)."""
    try:
        return matplotlib.colormaps[name]
    except KeyError:
        raise InputError(
            f"unknown colour map {name!r}; use a matplotlib name such as viridis, magma, RdBu_r"
        ) from None


def draw_map(ax: Any, x: np.ndarray, y: np.ndarray, z: np.ndarray, scale: ColourScale | None,
             kind: str) -> Any:
    """``z`` on the plane as ``contour`` lines, ``filled`` contours or a ``heatmap`` (one
    cell per grid point); returns what a colour bar is made from (None if nothing drawn)."""
    # a heatmap's cells reach half a step beyond the outer points; contours end at them
    ex, ey = (_edges(x), _edges(y)) if kind == "heatmap" else (x, y)
    ax.set_xlim(ex[0], ex[-1])
    ax.set_ylim(ey[0], ey[-1])
    if scale is None or not np.isfinite(z).any():
        ax.text(0.5, 0.5, "no finite values yet", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
        return None
    style = {"cmap": scale.cmap, "norm": scale.norm}
    # Renderers (librsvg, poppler, browsers) antialias each polygon on its own, which
    # leaves light hairline seams between neighbours: a heatmap on an even grid is one
    # image (embedded unresampled in SVG/PDF; cells repeated into blocks, since librsvg
    # smooths images and ignores image-rendering: pixelated), and filled bands get an edge
    # in their own colour, wide enough (1 pt) to cover a pixel at 72-96 dpi.
    if kind == "heatmap" and _even(x) and _even(y):
        return ax.imshow(np.ma.masked_invalid(_blocks(z)), origin="lower", aspect="auto",
                         interpolation="none", extent=(ex[0], ex[-1], ey[0], ey[-1]),
                         **style)
    if kind == "heatmap":
        return ax.pcolormesh(ex, ey, np.ma.masked_invalid(z), shading="flat",
                             edgecolors="face", linewidth=1.0, **style)
    if kind == "filled":
        cs = ax.contourf(x, y, z, levels=scale.levels, extend=scale.extend, **style)
        cs.set_edgecolor("face")
        cs.set_linewidth(1.0)
        return cs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a level not crossing the data is fine
        cs = ax.contour(x, y, z, levels=scale.levels, linewidths=1.0, **style)
    if len(cs.levels):
        ax.clabel(cs, cs.levels[:: max(1, len(cs.levels) // 8)], inline=True, fontsize=6,
                  fmt="%.3g")
    return cs


def draw_isolines(ax: Any, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                  scale: ColourScale | None) -> Any:
    """Thin white isolines over a heatmap or filled map at the scale's levels inside its
    range (the window's 2-D view draws the same)."""
    if scale is None or not np.isfinite(z).any():
        return None
    levels = isoline_levels(scale)
    if not levels:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a level not crossing the data is fine
        return ax.contour(x, y, np.ma.masked_invalid(z), levels=levels, **ISOLINE_STYLE)


def isoline_levels(scale: ColourScale) -> list[float]:
    """The scale's levels strictly inside its range (the ends touch a point at most)."""
    lo, hi = float(scale.norm.vmin), float(scale.norm.vmax)
    return [float(v) for v in scale.levels if lo < v < hi]


PATH_COLOURS = ("r", "deepskyblue", "orange", "lime")  # each run's path: seen on viridis


def trajectory_paths(traj: Any) -> list[tuple[str, np.ndarray, str]]:
    """``(label, point indices, colour)`` of each run's path (one red path for one run)."""
    paths = traj.paths() if hasattr(traj, "paths") else [("", np.arange(len(traj.x)))]
    return [(label, idx, PATH_COLOURS[k % len(PATH_COLOURS)])
            for k, (label, idx) in enumerate(paths)]


def draw_trajectory(ax: Any, traj: Any) -> None:
    """The optimizer's path on the plane (each run's in its colour, with a legend when
    labelled), labelled with epochs where labels fit; named models on their plane (A, B, C)
    as labelled markers, as Garipov et al.'s Figure 1."""
    tx, ty = np.asarray(traj.x, float), np.asarray(traj.y, float)
    if getattr(traj, "labels", None):
        ax.plot(tx, ty, "o", color="white", markeredgecolor="black", markersize=7, zorder=5)
        for k, label in enumerate(traj.labels):
            ax.annotate(label, (tx[k], ty[k]), textcoords="offset points", xytext=(6, 5),
                        fontsize=9, fontweight="bold", zorder=6,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7,
                              "lw": 0})
        return
    epochs = np.asarray(traj.epochs)
    # Label from the last epoch back, skipping points crowded near an already labelled one.
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    u = (tx - x0) / ((x1 - x0) or 1.0)
    v = (ty - y0) / ((y1 - y0) or 1.0)
    placed: list[int] = []
    labelled = False
    for label, idx, colour in trajectory_paths(traj):
        ax.plot(tx[idx], ty[idx], "-o", color=colour, markersize=3, linewidth=1,
                label=label or None)
        labelled = labelled or bool(label)
        for k in idx[::-1]:
            if len(placed) >= _MAX_EPOCH_LABELS:
                break
            if all(np.hypot(u[k] - u[j], v[k] - v[j]) > _LABEL_GAP for j in placed):
                placed.append(k)
                ax.annotate(str(int(epochs[k])), (tx[k], ty[k]), textcoords="offset points",
                            xytext=(3, 3), fontsize=7,  # darkred: legible on dark colours
                            color="darkred" if colour == "r" else colour,
                            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                                  "alpha": 0.65})
    if labelled:
        ax.legend(fontsize=7, loc="best", framealpha=0.8)


def draw_trajectory3d(ax: Any, traj: Any, tz: np.ndarray) -> None:
    """Each run's path over a 3-D surface at heights ``tz`` (the shown losses)."""
    tx, ty = np.asarray(traj.x, float), np.asarray(traj.y, float)
    for label, idx, colour in trajectory_paths(traj):
        ax.plot(tx[idx], ty[idx], np.asarray(tz)[idx], "-o", color=colour, markersize=3,
                zorder=10, label=label or None)


def line_with_band(ax: Any, x: np.ndarray, result: Any, q: str, color: str,
                   label: str | None = None, linewidth: float = 1.5,
                   values: np.ndarray | None = None) -> list:
    """``q`` against ``x`` (test dotted; a curve's straight line dashed), and ± one standard
    deviation over direction seeds as a band when the result holds it. ``values``: what to
    draw instead of the stored values (accuracy masked where its loss is not finite)."""
    straight = q.startswith(qreg.STRAIGHT_PREFIX)
    test = qreg.quantity(q).split == "test" or q.startswith(qreg.STRAIGHT_PREFIX + "test")
    style = ("-." if test else "--") if straight else (":" if test else "-")
    y = np.asarray(result.values[q] if values is None else values, float)
    lines = ax.plot(x, y, style, color=color, label=label or qreg.quantity(q).label,
                    linewidth=linewidth)
    spread = result.values.get(q + qreg.SPREAD_SUFFIX)
    if spread is not None:
        ax.fill_between(x, y - spread, y + spread, color=color, alpha=0.18, linewidth=0)
    return lines


def draw_surface3d(ax: Any, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                   scale: ColourScale | None) -> Any:
    """``z`` as a 3-D surface coloured by ``scale``, clipped to its range."""
    xx, yy = np.meshgrid(x, y)  # (ny, nx), matching z
    if scale is None or not np.isfinite(z).any():
        ax.text2D(0.5, 0.5, "no finite values yet", ha="center", va="center",
                  transform=ax.transAxes, color="0.4")
        return None
    lo, hi = float(scale.norm.vmin), float(scale.norm.vmax)
    # clip to the scale, but a diverged (inf) point stays a hole, not a spike to the top
    zz = np.ma.masked_invalid(np.where(np.isfinite(z), np.clip(z, lo, hi), np.nan))
    # face colours from the shared norm: plot_surface's own would rescale per panel
    faces = scale.cmap(scale.norm(_face_means(zz)))
    ax.plot_surface(xx, yy, zz, facecolors=faces, rstride=1, cstride=1, linewidth=0,
                    antialiased=False, shade=False)
    ax.set_zlim(lo, hi)
    return matplotlib.cm.ScalarMappable(norm=scale.norm, cmap=scale.cmap)


def mark_partial(ax: Any, x: np.ndarray, y: np.ndarray | None, done: np.ndarray,
                 raw: np.ndarray, missing_color: str, diverged_color: str,
                 kind: str = "heatmap", spans: bool = True, missing: bool = True
                 ) -> dict[str, int]:
    """Cover not-computed points with hatched grey cells (unless not ``missing``) and
    computed, non-finite ones with ``diverged_color``; returns how many of each were marked.

    A ``heatmap`` (and a line) marks each point's own cell; ``contour``/``filled`` mark
    the grid cells that have such a point at a corner: the area the contours cannot
    reach, so no white gap is left between drawn and marked; ``surface`` marks the
    points on the floor of the 3-D box. A line shades its non-finite stretches; without
    ``spans`` (one of several overlaid, whose gaps show) it marks those points with a
    cross at the bottom, inside the axes, and leaves its missing stretches as gaps."""
    not_done = ~np.asarray(done, bool)
    diverged = ~not_done & ~np.isfinite(np.asarray(raw, float))
    if not missing:
        not_done = np.zeros_like(not_done)
    counts = {"missing": int(not_done.sum()), "diverged": int(diverged.sum())}
    if kind == "surface":
        lo = ax.get_zlim()[0]
        for mask, color, marker in ((not_done, missing_color, "s"),
                                    (diverged, diverged_color, "x")):
            jj, ii = np.nonzero(mask)
            if len(ii):
                ax.scatter(x[ii], y[jj], np.full(len(ii), lo), color=color, marker=marker, s=6,
                           depthshade=False)
        return counts
    if y is None:
        ex = _edges(x)
        for mask, style in ((not_done, {"facecolor": missing_color, "edgecolor": "0.45",
                                        "hatch": MISSING_HATCH}),
                            (diverged, {"facecolor": diverged_color,
                                        "alpha": NON_FINITE_ALPHA})):
            for i0, i1 in _runs(mask) if spans else ():
                ax.axvspan(ex[i0], ex[i1], linewidth=0, zorder=0, **style)
        if diverged.any() and not spans:
            ax.scatter(x[diverged], np.full(int(diverged.sum()), 0.03), marker="x", s=20,
                       zorder=5, color=diverged_color, transform=ax.get_xaxis_transform())
        return counts
    if kind == "heatmap":
        ex, ey = _edges(x), _edges(y)
    else:  # cell (j, i) spans x[i]..x[i+1], y[j]..y[j+1]: any marked corner marks it
        ex, ey = np.asarray(x, float), np.asarray(y, float)
        not_done, diverged = _corner_cells(not_done), _corner_cells(diverged)
    # a hatch takes the edge colour; solid cells get an edge of their own colour, so rows
    # of cells show no hairline seams in a renderer (as filled bands)
    for mask, color, hatch, edge, width in ((not_done, missing_color, MISSING_HATCH, "0.45", 0),
                                            (diverged, diverged_color, None, diverged_color, 1)):
        boxes = [[(ex[i0], ey[j]), (ex[i1], ey[j]), (ex[i1], ey[j + 1]), (ex[i0], ey[j + 1])]
                 for j in range(mask.shape[0]) for i0, i1 in _runs(mask[j])]
        if boxes:
            # above the colours (zorder 1), below isolines, trajectory and labels (2+)
            ax.add_collection(PolyCollection(boxes, facecolors=color, edgecolors=edge,
                                             linewidths=width, hatch=hatch, zorder=1.5))
    return counts


def partial_handles(counts: dict[str, int], missing_color: str, diverged_color: str,
                    non_finite: str = "", line: bool = False) -> list[Patch]:
    """Legend entries for what :func:`mark_partial` drew (none for a complete, finite
    result). ``non_finite``: what the non-finite points are (default: how many); ``line``:
    their stretches are shaded (a line's), not filled."""
    out = []
    if counts.get("missing"):
        out.append(Patch(facecolor=missing_color, edgecolor="0.45", hatch=MISSING_HATCH,
                         linewidth=0, label=f"not computed ({counts['missing']} points)"))
    if counts.get("diverged"):
        out.append(Patch(facecolor=diverged_color, alpha=NON_FINITE_ALPHA if line else None,
                         label=non_finite or f"{counts['diverged']} non-finite"))
    return out


def add_colorbar(fig: Any, mappable: Any, axes: Any, scale: ColourScale,
                 font_size: float = 9.0) -> Any:
    """One colour bar for ``axes`` (a panel or every panel of a grid), ticked at round
    numbers (not at the 30 contour levels)."""
    cb = fig.colorbar(mappable, ax=axes, shrink=0.9,
                      extend=getattr(mappable, "extend", scale.extend))
    cb.set_label(scale.label, fontsize=font_size)
    cb.ax.set_gid(COLORBAR_GID)  # an SVG reader finds the bar's tick labels under this id
    solids = getattr(cb, "solids", None)
    if solids is not None and not solids.get_rasterized():  # few bands: vector, seamless
        solids.set_edgecolor("face")
        solids.set_linewidth(0.8)
    if isinstance(scale.norm, LogNorm):
        cb.locator = LogLocator(base=10)
        cb.formatter = LogFormatterSciNotation()
    else:
        cb.locator = MaxNLocator(nbins=7)
        cb.formatter = ScalarFormatter()
    cb.ax.tick_params(labelsize=font_size - 1)
    return cb


# --- internals -------------------------------------------------------------------------


def _edges(c: np.ndarray) -> np.ndarray:
    """Cell edges around grid coordinates: midpoints, half a step beyond the ends."""
    c = np.asarray(c, float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def _even(c: np.ndarray) -> bool:
    """Evenly spaced coordinates (what a Range gives), increasing."""
    d = np.diff(np.asarray(c, float))
    return bool(len(d) and d[0] > 0 and np.allclose(d, d[0], rtol=1e-6, atol=0))


def _blocks(z: np.ndarray, side: int = 1024) -> np.ndarray:
    """Each cell repeated into an f × f block (the image's larger side near ``side``)."""
    f = int(np.clip(side // max(z.shape), 1, 64))
    return np.repeat(np.repeat(z, f, axis=0), f, axis=1)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True in a 1-D mask (stop exclusive)."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(int)
    d = np.diff(m)
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0], strict=True))


def _corner_cells(points: np.ndarray) -> np.ndarray:
    """(ny-1, nx-1): grid cells with a marked point at any of their four corners."""
    p = np.asarray(points, bool)
    return p[:-1, :-1] | p[1:, :-1] | p[:-1, 1:] | p[1:, 1:]


def _face_means(z: np.ma.MaskedArray) -> np.ndarray:
    """Per-vertex values for ``facecolors`` (plot_surface takes one colour per vertex and
    uses the (ny-1, nx-1) top-left ones): the mean of each cell's corners."""
    zf = np.ma.filled(z.astype(float), np.nan)
    mean = np.full(zf.shape, np.nan)  # the last row and column colour no cell
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN cell stays NaN
        mean[:-1, :-1] = np.nanmean(
            np.stack([zf[:-1, :-1], zf[1:, :-1], zf[:-1, 1:], zf[1:, 1:]]), axis=0)
    return np.ma.masked_invalid(mean)


def _log_spaced(levels: np.ndarray) -> bool:
    """Positive levels with a constant ratio, not a constant step (see contour_levels)."""
    lv = np.asarray(levels, float)
    if len(lv) < 3 or lv[0] <= 0:
        return False
    return bool(np.allclose(lv[1:] / lv[:-1], lv[1] / lv[0])
                and not np.allclose(np.diff(lv), lv[1] - lv[0]))
