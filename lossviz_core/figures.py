"""The short way to a figure of a result (the command line's ``lossviz plot``, a notebook).

:func:`plot_result` and :func:`make_figure` take the figure's options as keywords and draw
through the one figure pipeline, :mod:`lossviz_core.export` (matplotlib Agg, never pyplot,
so a Qt application keeps its backend). Defaults kept from the first version: a 2-D result
is drawn as labelled contours, a 1-D one as loss and accuracy along α, and the file's
metadata holds the result's specs as they are. Points not computed are hatched only when
some are computed (a result assembled by hand, with values but no done mask, draws as is).

The file helpers (:func:`save_figure`, :func:`figure_metadata`, :func:`read_png_specs`)
and :func:`shown_values` live in :mod:`lossviz_core.export` and are named here too.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from lossviz_core.export.figure import KINDS, FigureOptions, build_figure, save_exact
from lossviz_core.export.figure_file import (
    FORMATS,
    SPECS_KEY,
    check_format,
    figure_metadata,
    read_png_specs,
    save_figure,
)
from lossviz_core.export.panels import shown_values
from lossviz_core.results.paths import check_output
from lossviz_core.results.result import SurfaceResult

__all__ = ["FORMATS", "KINDS", "SPECS_KEY", "figure_metadata", "make_figure", "plot_result",
           "read_png_specs", "save_figure", "shown_values"]


def plot_result(
    result: SurfaceResult,
    path: str | os.PathLike,
    kind: str = "auto",
    quantity: str | None = None,
    levels: int = 30,
    vmin: float | None = None,
    vmax: float | None = None,
    log: bool = False,
    trajectory: bool = True,
    dpi: int = 150,
    size: tuple[float, float] = (6, 4.5),
    title: str | None = None,
    overwrite: bool = True,
) -> Path:
    """Draw ``result`` and save it to ``path`` (PNG, SVG or PDF, chosen by the extension).

    ``overwrite`` False: an existing ``path`` is an error (the command line's default).

    ``kind``: ``contour`` (labelled isolines, trajectory overlay), ``filled`` (contourf and a
    colorbar), ``heatmap``, ``surface`` (3-D), ``line`` (1-D: loss left, accuracy right,
    train solid, test dotted), ``auto`` (line for 1-D, contour for 2-D). ``quantity``
    defaults to the train loss (test loss when only that exists); for a line, ``None``
    draws every quantity. ``log`` shows log10 of the loss. The result's specs go into the
    file's metadata. Returns the written path.
    """
    path = Path(path)
    check_format(path)
    if path.exists() or path.is_symlink():
        check_output(path, "figure", may_exist=overwrite)
    options = _options(result, kind, quantity, levels, vmin, vmax, log, trajectory, size,
                       title, dpi)
    return save_exact(build_figure(result, options), path, options, result.specs)


def make_figure(
    result: SurfaceResult,
    kind: str = "auto",
    quantity: str | None = None,
    levels: int = 30,
    vmin: float | None = None,
    vmax: float | None = None,
    log: bool = False,
    trajectory: bool = True,
    size: tuple[float, float] = (6, 4.5),
    title: str | None = None,
) -> Figure:
    """Build the figure :func:`plot_result` saves (useful to tweak it before saving)."""
    return build_figure(result, _options(result, kind, quantity, levels, vmin, vmax, log,
                                         trajectory, size, title))


def _options(result: SurfaceResult, kind: str, quantity: str | None, levels: int,
             vmin: float | None, vmax: float | None, log: bool, trajectory: bool,
             size: tuple[float, float], title: str | None, dpi: float = 150) -> FigureOptions:
    o = FigureOptions(kind=kind, quantity=quantity, levels=levels, vmin=vmin, vmax=vmax,
                      log=log, trajectory=trajectory, width=float(size[0]),
                      height=float(size[1]), dpi=float(dpi), title=title,
                      partial=bool(result.done.any()))
    if kind == "auto":  # the first version's default map: labelled isolines
        o = o.replace(kind="line" if result.is_line else "contour")
    return o
