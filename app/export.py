"""Export what is on screen (PNG at any size, SVG/PDF for 2-D and 1-D) and publication figures.

A PNG carries the specs that made it as a text chunk ``lossviz-specs`` (JSON), so any
exported image can be traced back to (and recomputed from) its model, data and ranges.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtGui import QGuiApplication, QImage

from lossviz_core.atomic import atomic_path
from lossviz_core.errors import InputError, LossVizError, StoreError
from lossviz_core.results.result import SurfaceResult

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

    The format follows the suffix. Vector formats need a view with ``export_vector``
    (the 2-D and 1-D views); the 3-D views export PNG only.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in VECTOR_SUFFIXES:
        if not hasattr(view, "export_vector") and not hasattr(view, "results"):
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


def view_options(view: Any, width: int, height: int) -> Any:
    """FigureOptions that draw what ``view`` shows (quantity, log, clip, colour map, levels)
    at ``width`` × ``height`` pixels."""
    from lossviz_core.export import FigureOptions

    s = view.settings
    result = getattr(view, "result", None)
    quantity = s.quantity if result is not None and s.quantity in result.values else None
    cmap = None if s.colormap in ("auto", "") else s.colormap
    kind = "line" if result is not None and result.is_line else "filled"
    return FigureOptions.from_pixels(width, height, dpi=SCREEN_DPI, kind=kind,
                                     quantity=quantity, log=s.log_scale, vmax=s.clip_max,
                                     colormap=cmap, levels=s.levels)


def export_vector_from_data(view: Any, path: Path, width: int, height: int) -> Path:
    """SVG/PDF of what a view shows, drawn by matplotlib from the data (not the widget, whose
    exporter writes strokes librsvg renders as solid blocks), at the requested size."""
    from lossviz_core.export import export_figure, export_grid

    options = view_options(view, width, height)
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
        cols = None if mode in ("lines", "difference") else view.shape(len(view.results))[1]
        return export_grid(view.results, path, options.replace(kind="auto"), cols=cols,
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
