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
        if not hasattr(view, "export_vector"):
            raise InputError(
                f"the 3-D view exports PNG images only, not {suffix}; "
                "use the 2-D map or a publication figure for vector output"
            )
        _check_folder(path)
        with atomic_path(path, "image") as tmp:
            view.export_vector(str(tmp.with_suffix(suffix)))
            tmp.with_suffix(suffix).replace(tmp)
        return path
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
    result: SurfaceResult, path: str | os.PathLike, kind: str = "auto", **options: Any
) -> Path:
    """A matplotlib figure of ``result`` (PNG/SVG/PDF by suffix) via lossviz_core.figures.

    ``kind``: 'auto' | 'contour' | 'filled' | 'surface' | 'line'; other keyword options
    (quantity, levels, log, trajectory, dpi, ...) go to ``figures.plot_result``.
    """
    from lossviz_core.figures import plot_result

    _check_folder(Path(path))
    try:
        return Path(plot_result(result, path, kind=kind, **options))
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
