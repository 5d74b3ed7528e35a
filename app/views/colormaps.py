"""From a result's raw numbers to what a view draws: quantity, log/clip, NaN fill, colours.

Pure numpy + pyqtgraph colour maps, shared by every view so the 2-D map, the 3-D surface
and the comparison agree on one colour scale.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from lossviz_core.results.quantities import quantity as registered_quantity
from lossviz_core.results.result import SurfaceResult
from lossviz_core.run.grid import fill_missing as preview_fill

from .display import DisplaySettings

AUTO = "auto"  # DisplaySettings.colormap: each quantity's registered colour map
# diverging maps: a signed quantity (λmin) is drawn centred at 0, so 0 gets the middle colour
_DIVERGING = {
    "coolwarm",
    "bwr",
    "seismic",
    "RdBu",
    "RdGy",
    "PiYG",
    "PRGn",
    "BrBG",
    "PuOr",
    "RdYlBu",
    "RdYlGn",
    "Spectral",
    "berlin",
    "managua",
    "vanimo",
}


def colormap_name(settings: DisplaySettings, quantity: str) -> str:
    """The colour map to draw ``quantity`` with: the setting, or with 'auto' the registry's."""
    name = settings.colormap
    return registered_quantity(quantity).colormap if name == AUTO else name


def is_diverging(name: str) -> bool:
    base = name.removesuffix("_r")
    return base in _DIVERGING or base.startswith("CET-D")


def quantity_scale(settings: DisplaySettings, quantity: str) -> tuple[float, float] | None:
    """The quantity's fixed colour scale (e.g. the convexity map's 0-1), unless log or clip
    change what is shown."""
    if settings.log_scale or settings.clip_max is not None:
        return None
    return registered_quantity(quantity).scale


def color_range(z: np.ndarray, cmap_name: str, scale: tuple[float, float] | None = None
                ) -> tuple[float, float]:
    """The colour scale of a grid: ``scale`` when given (a quantity's fixed one), else
    finite (min, max); symmetric about 0 for a diverging map when the values change sign
    (negative and positive get the two halves of the map)."""
    if scale is not None:
        return float(scale[0]), float(scale[1])
    lo, hi = value_range(z)
    if is_diverging(cmap_name) and lo < 0 < hi:
        m = max(-lo, hi)
        return -m, m
    return lo, hi


def get_colormap(name: str) -> pg.ColorMap:
    """A pyqtgraph colour map by name (pyqtgraph's own, then matplotlib's); viridis if unknown."""
    for getter in (pg.colormap.get, pg.colormap.getFromMatplotlib):
        try:
            cmap = getter(name)
        except Exception:  # unknown names raise different errors in each source
            cmap = None
        if cmap is not None:
            return cmap
    return pg.colormap.get("viridis")


def resolve_quantity(result: SurfaceResult, settings: DisplaySettings) -> str:
    """The quantity to show: the setting if the result has it, else the result's main loss."""
    q = settings.quantity
    return q if q in result.values else result.main_quantity()


def log_shown(quantity: str, settings: DisplaySettings) -> bool:
    """Log scale applies to quantities registered as log-able (losses), never to accuracy."""
    return settings.log_scale and registered_quantity(quantity).loggable


def quantity_label(quantity: str, log: bool = False) -> str:
    """'train loss', or 'log₁₀ train loss' when the scale is logarithmic."""
    name = registered_quantity(quantity).label
    return f"log₁₀ {name}" if log else name


def display_values(values: np.ndarray, log: bool, clip_max: float | None) -> np.ndarray:
    """Clip at ``clip_max`` (the paper's vmax), then log10 if asked; NaN stays NaN."""
    v = np.array(values, dtype=float, copy=True)
    if clip_max is not None:
        v = np.minimum(v, clip_max)  # NaN propagates: missing stays missing
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
    return v


def shown_grid(result: SurfaceResult | None, settings: DisplaySettings) -> np.ndarray | None:
    """The quantity a view shows after clip/log, NaN where missing, shape (ny, nx)."""
    if result is None:
        return None
    q = resolve_quantity(result, settings)
    return display_values(result.values[q], log_shown(q, settings), settings.clip_max)


def fill_missing(z: np.ndarray, done: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(preview, known)``: missing points interpolated from finished ones (engine's
    :func:`lossviz_core.run.grid.fill_missing`): computed points that diverged stay NaN;
    with nothing known, a flat zero grid."""
    known = np.isfinite(z)
    if not known.any():
        return np.zeros_like(z, dtype=float), known
    return preview_fill(z, done), known


def value_range(*arrays: np.ndarray) -> tuple[float, float]:
    """Finite (min, max) over all arrays, widened when flat; (0, 1) when nothing is known."""
    finite = [a[np.isfinite(a)] for a in arrays if a is not None and np.isfinite(a).any()]
    if not finite:
        return 0.0, 1.0
    lo = float(min(f.min() for f in finite))
    hi = float(max(f.max() for f in finite))
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        pad = 0.5 * max(abs(hi), 1e-6)
        return lo - pad, hi + pad
    return lo, hi


def colors_for(cmap: pg.ColorMap, z: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """RGBA floats (..., 4) in 0..1 for values z on the scale [vmin, vmax]."""
    t = np.clip((z - vmin) / (vmax - vmin), 0.0, 1.0)
    t = np.where(np.isfinite(t), t, 0.0)
    lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=True).astype(np.float32) / 255.0
    return lut[np.round(t * 255).astype(np.intp)]


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2, 5 × 10^k steps) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 * step:
        ticks.append(0.0 if abs(t) < 1e-12 * step else t)
        t += step
    return ticks


def format_tick(v: float) -> str:
    """Short tick text: 0.5, 12, 1e-03."""
    return f"{v:.3g}"


def bilinear(x: np.ndarray, y: np.ndarray, z: np.ndarray, px: np.ndarray, py: np.ndarray):
    """Bilinear interpolation of a (ny, nx) grid at points (px, py), clamped to the grid."""
    px = np.clip(np.asarray(px, dtype=float), x[0], x[-1])
    py = np.clip(np.asarray(py, dtype=float), y[0], y[-1])
    if len(x) == 1 or len(y) == 1:
        fx = np.interp(px, x, z[0, :]) if len(y) == 1 else None
        return fx if fx is not None else np.interp(py, y, z[:, 0])
    i = np.clip(np.searchsorted(x, px) - 1, 0, len(x) - 2)
    j = np.clip(np.searchsorted(y, py) - 1, 0, len(y) - 2)
    tx = (px - x[i]) / (x[i + 1] - x[i])
    ty = (py - y[j]) / (y[j + 1] - y[j])
    return (
        (1 - tx) * (1 - ty) * z[j, i]
        + tx * (1 - ty) * z[j, i + 1]
        + (1 - tx) * ty * z[j + 1, i]
        + tx * ty * z[j + 1, i + 1]
    )


def axis_short_name(label: str) -> str:
    """'PC1: 77.2 %' -> 'PC1'; 'α' -> 'α' (for cursor read-outs)."""
    return label.split(":")[0].strip()
