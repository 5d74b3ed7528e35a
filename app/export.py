"""Export what is on screen (PNG at any size, SVG/PDF for 2-D and 1-D) and publication figures.

A PNG carries the specs that made it as a text chunk ``lossviz-specs`` (JSON), so any
exported image can be traced back to (and recomputed from) its model, data and ranges.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QGuiApplication, QImage

from lossviz_core.atomic import atomic_path
from lossviz_core.errors import InputError, LossVizError, StoreError
from lossviz_core.results.result import SurfaceResult

from .views.colormaps import colormap_name, log_shown, resolve_quantity
from .views.contour2d import NON_FINITE_RGBA
from .views.surface3d import SurfaceView3D

SPECS_KEY = "lossviz-specs"
RASTER_SUFFIXES = (".png",)
VECTOR_SUFFIXES = (".svg", ".pdf")


def export_image(
    view: Any,
    path: str | os.PathLike,
    width: int,
    height: int,
    transparent: bool = False,
    specs: dict | None = None,
) -> Path:
    """Write ``view`` to ``path``: PNG at width×height (specs in a text chunk), or SVG/PDF.

    The format follows the suffix. SVG and PDF are drawn from the data as the 2-D map, the
    1-D view and the Compare grid show it (:func:`screen_options`); the 3-D view exports
    PNG only.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in VECTOR_SUFFIXES:
        if isinstance(view, SurfaceView3D):
            raise InputError(
                f"the 3-D view exports PNG images only, not {suffix}; "
                "use the 2-D map or File ▸ Publication figure (kind: surface) for vector output"
            )
        _check_folder(path)
        return export_vector_from_data(view, path, width or view.width() or 800,
                                       height or view.height() or 600)
    if suffix not in RASTER_SUFFIXES:
        raise InputError(f"cannot export to {path.name!r}: choose a .png, .svg or .pdf file name")
    _check_folder(path)
    image = view.grab_image(width, height, transparent)
    if specs:
        image.setText(SPECS_KEY, json.dumps(specs, default=str))
    with atomic_path(path, "image") as tmp:
        if not image.save(str(tmp), "PNG"):
            raise StoreError(f"cannot write {path}: saving the PNG failed (is the folder writable?)")
    return path


SCREEN_DPI = 96.0  # pixels of the requested size per inch of the vector page
NON_FINITE_COLOR = "#{:02x}{:02x}{:02x}".format(*NON_FINITE_RGBA[:3])  # the views' grey


def screen_options(view: Any, width: int, height: int) -> Any:
    """FigureOptions that draw what ``view`` shows at ``width`` × ``height`` pixels: the
    2-D map's quantity, log, colour map and colour range (the one its colour bar shows,
    clip included), its isolines, α and β to scale as on screen; the 1-D view's every
    curve, log and clip; the Compare grid's mode and shared scale."""
    from lossviz_core.export import FigureOptions

    s = view.settings
    result = getattr(view, "result", None)
    common = {"dpi": SCREEN_DPI, "log": s.log_scale, "diverged_color": NON_FINITE_COLOR}
    if hasattr(view, "results"):  # the Compare grid: 2-D panes are heatmaps with isolines
        return FigureOptions.from_pixels(
            width, height, kind="heatmap" if view.mode == "2d" else "auto",
            quantity=s.quantity if s.quantity != "auto" else None, vmax=s.clip_max,
            colormap=screen_colormap(s.colormap), levels=max(s.levels, 1) + 2, isolines=True,
            **common)
    if result is None:
        return FigureOptions.from_pixels(width, height, **common)
    if result.is_line:  # every curve, as the 1-D view draws them
        return FigureOptions.from_pixels(width, height, kind="line", vmax=s.clip_max, **common)
    q = resolve_quantity(result, s)
    lo, hi = view.colour_range()
    if log_shown(q, s):  # the bar reads log10 values; the options take the loss itself
        lo, hi = 10.0**lo, 10.0**hi
    # the view draws levels + 2 evenly spaced (or geometric) levels less both ends
    return FigureOptions.from_pixels(
        width, height, kind="heatmap", quantity=q, vmin=lo, vmax=hi,
        colormap=screen_colormap(colormap_name(s, q)), levels=max(s.levels, 1) + 2,
        isolines=True, aspect="auto", **common)


def screen_colormap(name: str) -> str | None:
    """A matplotlib colour map name for the window's ``name`` ('auto': None, each
    quantity's own); a pyqtgraph-only map (CET-L4) is registered with matplotlib from its
    colours, a name neither knows becomes viridis (what the window falls back to)."""
    import matplotlib
    from matplotlib.colors import ListedColormap

    if name in ("auto", ""):
        return None
    if name in matplotlib.colormaps:
        return name
    try:
        cmap = pg.colormap.get(name)
    except Exception:  # noqa: BLE001 - unknown names raise different errors per source
        return "viridis"  # what the window draws with then
    lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=True) / 255.0
    matplotlib.colormaps.register(ListedColormap(lut, name=name), force=True)
    return name


def export_vector_from_data(view: Any, path: Path, width: int, height: int) -> Path:
    """SVG/PDF of what a view shows, drawn by matplotlib from the data (not the widget, whose
    exporter writes strokes librsvg renders as solid blocks), at the requested size."""
    from lossviz_core.export import export_figure, export_grid

    options = screen_options(view, width, height)
    if hasattr(view, "results"):  # the Compare view: one figure of the whole grid
        if not view.results:
            raise InputError("nothing to export: the Compare view is empty")
        missing = sum(r is None for r in view.results)
        if missing:
            raise InputError(f"{missing} of the Compare grid's panels are not computed yet: "
                             "export it once they are (a study draws its own figures when "
                             "it finishes)")
        mode = view.mode if view.mode in ("2d", "3d", "difference", "lines") else "2d"
        if view.capped and options.vmax is None and mode != "lines":
            options = options.replace(vmax=view.vmax)  # a study figure's clip, as on screen
        if mode in ("lines", "difference"):
            options = options.replace(kind="auto")
        cols = None if mode in ("lines", "difference") else view.shape(len(view.results))[1]
        return export_grid(view.results, path, options, cols=cols,
                           titles=view.titles or None, mode=mode)
    if view.result is None:
        raise InputError("nothing to export yet: compute or open a landscape")
    return export_figure(view.result, path, options)


def read_png_specs(path: str | os.PathLike) -> dict | None:
    """The specs stored in a PNG exported by LossViz, or None if it has none."""
    text = QImage(str(path)).text(SPECS_KEY)
    return json.loads(text) if text else None


def copy_image_to_clipboard(view: Any, width: int, height: int) -> QImage:
    """Put the view, rendered at width×height, on the system clipboard (and return it)."""
    image = view.grab_image(width, height, False)
    QGuiApplication.clipboard().setImage(image)
    return image


def export_publication_figure(
    result: SurfaceResult, path: str | os.PathLike, kind: str = "auto", options: Any = None,
    **kwargs: Any,
) -> Path:
    """A matplotlib figure of ``result`` (PNG/SVG/PDF by suffix) at the options' size.

    ``options``: :class:`lossviz_core.export.FigureOptions` (size, DPI, levels, vmin/vmax,
    colour map, log, quantity, title); else ``kind`` and keyword options make one.
    """
    from lossviz_core.export import FigureOptions, export_figure

    _check_folder(Path(path))
    try:
        options = options or FigureOptions(kind=kind, **kwargs)
        return Path(export_figure(result, path, options))
    except LossVizError:
        raise
    except OSError as err:
        raise StoreError(f"cannot write {path}: {err}") from None
    except ValueError as err:  # e.g. a format matplotlib does not know
        raise InputError(f"cannot make the figure {Path(path).name!r}: {err}") from None


def _check_folder(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise StoreError(f"cannot write {path}: the folder {folder} does not exist")
