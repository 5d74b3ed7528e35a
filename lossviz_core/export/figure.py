"""Export one result as a figure drawn by matplotlib from the data (PNG, SVG, PDF).

The figure is made from the result's arrays, not from a widget, so it survives outside Qt
and a vector file is vector. It has exactly the requested size: a PNG is
``round(width × dpi) × round(height × dpi)`` pixels, an SVG or PDF page is
``width × 72 × height × 72`` points. The result's specs (its recipe included) and the
options go into the file's metadata (see :func:`lossviz_core.export.figure_file.save_figure`).
Matplotlib is used through Agg only, never pyplot: a Qt application keeps its backend.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, is_color_like
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lossviz_core.errors import InputError
from lossviz_core.export import panels
from lossviz_core.export.figure_file import check_format, save_figure
from lossviz_core.export.lines import draw_line
from lossviz_core.export.panels import draw_trajectory, draw_trajectory3d, shown_values
from lossviz_core.export.titles import recipe_title, wrap
from lossviz_core.recipe.spec import jsonable
from lossviz_core.results import nonfinite
from lossviz_core.results import quantities as qreg
from lossviz_core.results.result import SurfaceResult

KINDS = ("auto", "contour", "filled", "surface", "line", "heatmap")
ASPECTS = ("free", "equal", "auto")
MAX_PIXELS = 16384  # per side; what a PNG viewer and Agg handle without trouble
SAME_SCALE_RATIO = 3.0  # aspect 'auto': α and β to scale unless one span is 3× the other


@dataclass(frozen=True)
class FigureOptions:
    """How to draw an exported figure. ``width``/``height`` are inches (see
    :meth:`from_pixels`); ``levels``, ``vmin`` and ``vmax`` are in the quantity's units
    (the loss, not its log10) and set the colour range and the contour levels.

    ``kind``: ``auto`` (``line`` for 1-D, ``filled`` for 2-D), ``contour`` (isolines),
    ``filled`` (filled contours), ``heatmap`` (one cell per grid point), ``surface`` (3-D),
    ``line``. ``levels``: how many contour levels, or the levels themselves (the
    reference's ``vmin:vlevel:vmax`` is ``tuple(numpy.arange(vmin, vmax, vlevel))``).
    ``quantity`` (None: the main loss; for a line, every quantity), ``colormap`` (None: the
    quantity's registered one), ``log`` (log10 of a loss), ``title`` (None: what the recipe
    says the result is; "" for none). ``partial``: hatch not-computed points with
    ``missing_color``; computed points that are not finite are always drawn in
    ``diverged_color``, the legend saying why. ``isolines``: thin white isolines at the
    levels over a heatmap or filled map (as the window's 2-D view). ``aspect``: ``free``,
    ``equal`` (α and β to scale) or ``auto`` (to scale unless one span is over 3× the
    other, as the window). A heatmap's colours are linear in the shown values (as the
    window's); filled bands and contours over decades of loss are log-spaced.
    """

    kind: str = "auto"
    quantity: str | None = None
    width: float = 6.0
    height: float = 4.5
    dpi: float = 150.0
    levels: int | tuple[float, ...] = 30
    vmin: float | None = None
    vmax: float | None = None
    colormap: str | None = None
    log: bool = False
    title: str | None = None
    trajectory: bool = True
    colorbar: bool = True
    partial: bool = True
    missing_color: str = "0.82"
    diverged_color: str = "#ff00ff"
    font_size: float = 9.0
    isolines: bool = False
    aspect: str = "free"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"unknown figure kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.aspect not in ASPECTS:
            raise InputError(f"unknown aspect {self.aspect!r}; choose one of {', '.join(ASPECTS)}")
        if not 10 <= float(self.dpi) <= 2400:
            raise InputError(f"dpi must be between 10 and 2400, got {self.dpi}")
        for side, inches in (("width", self.width), ("height", self.height)):
            if not (np.isfinite(inches) and 1 <= round(inches * self.dpi) <= MAX_PIXELS):
                raise InputError(f"figure {side} must give 1 to {MAX_PIXELS} pixels at "
                                 f"{self.dpi:g} dpi, got {inches} in")
        if isinstance(self.levels, (int, np.integer)):
            if int(self.levels) < 2:
                raise InputError(f"a figure needs at least 2 contour levels, got {self.levels}")
            object.__setattr__(self, "levels", int(self.levels))
        else:
            lv = tuple(float(v) for v in self.levels)
            if len(lv) < 2 or not np.all(np.isfinite(lv)) or np.any(np.diff(lv) <= 0):
                raise InputError("contour levels must be at least 2 increasing finite numbers")
            object.__setattr__(self, "levels", lv)
        if self.vmin is not None and self.vmax is not None and not self.vmax > self.vmin:
            raise InputError(f"vmax must be greater than vmin, got {self.vmin} and {self.vmax}")
        if self.colormap is not None:
            panels.colormap(self.colormap)
        for name in ("missing_color", "diverged_color"):
            if not is_color_like(getattr(self, name)):
                raise InputError(f"{name.replace('_', ' ')} {getattr(self, name)!r} is not a colour")
        if not 3 <= float(self.font_size) <= 72:
            raise InputError(f"font size must be between 3 and 72 points, got {self.font_size}")

    @classmethod
    def from_pixels(cls, width_px: int, height_px: int, dpi: float = 150.0,
                    **options: Any) -> FigureOptions:
        """Options for a ``width_px`` × ``height_px`` PNG at ``dpi`` (the page of a vector
        file is then ``width_px / dpi`` inches wide)."""
        return cls(width=width_px / dpi, height=height_px / dpi, dpi=dpi, **options)

    @property
    def pixels(self) -> tuple[int, int]:
        """A PNG's size in pixels: inches × dpi, rounded."""
        return round(self.width * self.dpi), round(self.height * self.dpi)

    @property
    def points(self) -> tuple[float, float]:
        """An SVG's or PDF's page size in points (1/72 in)."""
        return self.width * 72.0, self.height * 72.0

    def replace(self, **changes: Any) -> FigureOptions:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self))


def export_figure(result: SurfaceResult, path: str | os.PathLike,
                  options: FigureOptions | None = None) -> Path:
    """Draw ``result`` and write it to ``path`` (.png, .svg or .pdf) at exactly the size of
    ``options``, with the result's specs, recipe, the options and the colour scale drawn
    (``colour_scale``: quantity, vmin, vmax, norm, colour map, isolines) in the metadata.
    An existing file is replaced (atomically). Returns the path."""
    options = options or FigureOptions()
    fig = build_figure(result, options)
    specs = figure_specs(result, options)
    specs["colour_scale"] = figure_scale(result, options)
    return save_exact(fig, path, options, specs)


def build_figure(result: SurfaceResult, options: FigureOptions | None = None) -> Figure:
    """The figure :func:`export_figure` writes (to preview or tweak it before saving)."""
    o = options or FigureOptions()
    kind = resolve_kind(result, o.kind, ("contour", "filled", "heatmap", "surface"))
    fig = new_figure(o)
    if kind == "line":
        if o.quantity is not None:
            panel_quantity(result, o.quantity)
        draw_line(fig, result, o)
    else:
        q = panel_quantity(result, o.quantity)
        z = shown_values(result.values[q], q, o.log)
        scale = scale_for([z], q, o, kind=kind)
        ax = fig.add_subplot(projection="3d" if kind == "surface" else None)
        m = draw_panel(ax, result, q, z, scale, kind, o)
        if o.colorbar and m is not None and scale is not None:
            panels.add_colorbar(fig, m, ax, scale, o.font_size)
        counts = panels.mark_partial(ax, result.x, result.y, result.done, result.values[q],
                                     o.missing_color, o.diverged_color, kind, missing=o.partial)
        why = nonfinite.explain(result, nonfinite.non_finite_mask(result, q))
        add_partial_legend(fig, counts, o, why.describe())
    title = recipe_title(result) if o.title is None else o.title
    if title:
        fig.suptitle(wrap(title, o.width, o.font_size + 1), fontsize=o.font_size + 1)
    return fig


def figure_scale(result: SurfaceResult, options: FigureOptions | None = None
                 ) -> dict[str, Any] | None:
    """The colour scale a figure of ``result`` draws with (None for a line or an empty
    map): ``quantity``, ``vmin``/``vmax`` and ``isolines`` in shown units (log10 with
    ``log``), ``norm`` (linear or log colours), ``colormap``, ``log``."""
    o = options or FigureOptions()
    kind = resolve_kind(result, o.kind, ("contour", "filled", "heatmap", "surface"))
    if kind == "line":
        return None
    q = panel_quantity(result, o.quantity)
    scale = scale_for([shown_values(result.values[q], q, o.log)], q, o, kind=kind)
    if scale is None:
        return None
    lo, hi = float(scale.norm.vmin), float(scale.norm.vmax)
    inside = panels.isoline_levels(scale) if o.isolines else []
    lines = {"contour": scale.levels, "heatmap": inside, "filled": inside}.get(kind, [])
    return {"quantity": q, "vmin": lo, "vmax": hi, "colormap": scale.cmap.name,
            "norm": "log" if isinstance(scale.norm, LogNorm) else "linear",
            "log": bool(o.log and qreg.quantity(q).loggable), "label": scale.label,
            "isolines": [float(v) for v in lines]}


def draw_panel(ax: Any, result: SurfaceResult, quantity: str, z: np.ndarray,
               scale: panels.ColourScale | None, kind: str, o: FigureOptions) -> Any:
    """One 2-D or 3-D panel of ``z`` (the shown values of ``quantity``) with its axis
    labels and trajectory; returns what a colour bar is made from."""
    x, y = np.asarray(result.x, float), np.asarray(result.y, float)
    if len(x) < 2 or len(y) < 2:
        raise InputError(f"a 2-D figure needs at least 2 points along each axis, "
                         f"got {len(x)} x {len(y)}")
    traj = result.trajectory if o.trajectory else None
    xlabel, ylabel = result.axis_labels()
    if kind == "surface":
        m = panels.draw_surface3d(ax, x, y, z, scale)
        if traj is not None and qreg.is_loss(quantity):
            tz = shown_values(traj.loss, quantity, o.log)
            if np.isfinite(tz).any():
                draw_trajectory3d(ax, traj, tz)
        if not o.colorbar:  # else the colour bar says what the height is
            ax.set_zlabel(scale.label if scale else "", fontsize=o.font_size)
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):  # 3-D tick labels crowd quickly
            axis.set_major_locator(MaxNLocator(nbins=5))
    else:
        m = panels.draw_map(ax, x, y, z, scale, kind)
        if o.isolines and kind in ("heatmap", "filled"):
            panels.draw_isolines(ax, x, y, z, scale)
        if _to_scale(x, y, o.aspect):
            ax.set_aspect("equal", adjustable="box")
        if traj is not None:
            draw_trajectory(ax, traj)
        for axis in (ax.xaxis, ax.yaxis):  # no 0.25 steps: "−0.75" labels touch when narrow
            axis.set_major_locator(MaxNLocator("auto", steps=[1, 2, 5, 10]))
    ax.set_xlabel(xlabel, fontsize=o.font_size)
    ax.set_ylabel(ylabel, fontsize=o.font_size)
    ax.tick_params(labelsize=o.font_size - 1)
    return m


def scale_for(arrays: Sequence[np.ndarray], quantity: str, o: FigureOptions,
              centred: bool = False, label: str | None = None, kind: str | None = None
              ) -> panels.ColourScale | None:
    """The colour scale of ``quantity`` over ``arrays`` (shown values) under options ``o``.

    ``vmin``/``vmax``/explicit ``levels`` are converted to log10 when ``o.log`` (except for
    a ``centred`` difference, whose range is in the difference's own units). Without them a
    quantity with a fixed scale (the convexity map's 0-1) keeps it, as in the window.
    A ``heatmap`` (``kind``, default ``o.kind``) colours linearly."""
    q = qreg.quantity(quantity)
    if q.scale is not None and not o.log and not centred and o.vmin is None and o.vmax is None:
        o = o.replace(vmin=float(q.scale[0]), vmax=float(q.scale[1]))
    logged = o.log and q.loggable
    convert = logged and not centred

    def shown(v: float | None) -> float | None:
        if v is None or not convert:
            return v
        if v <= 0:
            raise InputError(f"with a log scale, vmin, vmax and levels must be > 0, got {v}")
        return float(np.log10(v))

    levels = o.levels if isinstance(o.levels, int) else tuple(shown(v) for v in o.levels)
    cmap = o.colormap or ("RdBu_r" if centred else q.colormap)
    text = label or (f"log10 {q.axis_label()}" if logged else q.axis_label())
    return panels.colour_scale(arrays, cmap, text, levels, shown(o.vmin), shown(o.vmax),
                               geometric=qreg.is_loss(quantity) and not logged and not centred,
                               centred=centred, linear=(kind or o.kind) == "heatmap")


def resolve_kind(result: SurfaceResult, kind: str, two_d: Sequence[str]) -> str:
    """``kind`` with ``auto`` resolved, checked against the result's dimension."""
    if kind == "auto":
        return "line" if result.is_line else "filled"
    if kind == "line" and not result.is_line:
        raise InputError(f"kind 'line' needs a 1-D result; use {', '.join(two_d)}")
    if kind != "line" and result.is_line:
        raise InputError(f"kind {kind!r} needs a 2-D result; use kind 'line' for a 1-D one")
    return kind


def panel_quantity(result: SurfaceResult, quantity: str | None) -> str:
    """``quantity``, or the result's main loss; a one-line error when it has neither."""
    if quantity is None:
        if not result.values:
            raise InputError("the result holds no quantities to draw")
        return result.main_quantity()
    if quantity not in result.values:
        have = ", ".join(result.quantities) or "nothing"
        raise InputError(f"the result has no quantity {quantity!r}; it has {have}")
    return quantity


def new_figure(o: FigureOptions) -> Figure:
    """An Agg figure of the requested size with constrained layout (labels never cut)."""
    fig = Figure(figsize=(o.width, o.height), dpi=o.dpi, layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself to fig: Agg for this figure only
    return fig


def add_partial_legend(fig: Figure, counts: dict[str, int], o: FigureOptions,
                       non_finite: str = "") -> None:
    """A legend below the panels for hatched (not computed) and non-finite points
    (``non_finite``: what they are, see :mod:`lossviz_core.results.nonfinite`)."""
    handles = panels.partial_handles(counts, o.missing_color, o.diverged_color, non_finite)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
                   fontsize=o.font_size - 1, frameon=False)


def figure_specs(result: SurfaceResult, options: FigureOptions | None = None) -> dict[str, Any]:
    """What a figure's metadata holds: the result's specs, its recipe (also for files of
    the first version, whose specs hold none) and the options."""
    specs = dict(result.specs)
    recipe = result.recipe
    if recipe is not None:
        specs["recipe"] = recipe.to_dict()
    if options is not None:
        specs["figure"] = options.to_dict()
    return jsonable(specs)


def save_exact(fig: Figure, path: str | os.PathLike, o: FigureOptions, specs: Any) -> Path:
    """Save ``fig`` at exactly the size of ``o`` (never a tight bounding box), with
    ``specs`` in the metadata."""
    path = Path(path)
    fmt = check_format(path)
    if fmt == ".png":  # Agg truncates width × dpi to whole pixels: aim a quarter pixel over
        w, h = o.pixels
        fig.set_size_inches((w + 0.25) / o.dpi, (h + 0.25) / o.dpi)
    else:
        fig.set_size_inches(o.width, o.height)
    with matplotlib.rc_context({"savefig.bbox": "standard"}):  # a user's rc may say "tight"
        return save_figure(fig, path, specs, dpi=o.dpi, fmt=fmt)


def _to_scale(x: np.ndarray, y: np.ndarray, aspect: str) -> bool:
    """Whether α and β are drawn to scale (``aspect``: free, equal or auto)."""
    if aspect != "auto":
        return aspect == "equal"
    w, h = abs(float(x[-1] - x[0])), abs(float(y[-1] - y[0]))
    return h > 0 and 1 / SAME_SCALE_RATIO <= w / h <= SAME_SCALE_RATIO
