"""Publication figures of a surface or a line with matplotlib (Agg only, no pyplot).

Figures are built on ``matplotlib.figure.Figure`` with an explicit ``FigureCanvasAgg``,
so no global backend is selected: a Qt application that imported matplotlib already
keeps its own. The grid orientation is the project's (design: Conventions):
``Z[j, i] = f(x_i, y_j)``, shape (ny, nx), which is what ``contour(x, y, Z)`` expects.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lossviz_core.atomic import atomic_path
from lossviz_core.errors import InputError, StoreError
from lossviz_core.results import quantities as qreg
from lossviz_core.results.result import SurfaceResult, contour_levels

KINDS = ("auto", "contour", "filled", "surface", "line")
FORMATS = (".png", ".svg", ".pdf")
SPECS_KEY = "lossviz-specs"
_MAX_EPOCH_LABELS = 12
_LABEL_GAP = 0.05  # fraction of the axes between two epoch labels


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
    colorbar), ``surface`` (3-D), ``line`` (1-D: loss left, accuracy right, train solid,
    test dotted), ``auto`` (line for 1-D, contour for 2-D). ``quantity`` defaults to the
    train loss (test loss when only that exists); for a line, ``None`` draws every quantity.
    ``log`` shows log10 of the loss. The result's specs go into the file's metadata.
    Returns the written path.
    """
    path = Path(path)
    fmt = _check_format(path)
    if path.exists() or path.is_symlink():
        from lossviz_core.results.paths import check_output

        check_output(path, "figure", may_exist=overwrite)
    fig = make_figure(
        result, kind=kind, quantity=quantity, levels=levels, vmin=vmin, vmax=vmax,
        log=log, trajectory=trajectory, size=size, title=title,
    )
    return save_figure(fig, path, result.specs, dpi=dpi, fmt=fmt)


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
    if kind not in KINDS:
        raise InputError(f"unknown figure kind {kind!r}; choose one of {', '.join(KINDS)}")
    if int(levels) < 2:
        raise InputError(f"a figure needs at least 2 contour levels, got {levels}")
    if kind == "auto":
        kind = "line" if result.is_line else "contour"
    if kind == "line" and not result.is_line:
        raise InputError("kind 'line' needs a 1-D result; use contour, filled or surface")
    if kind != "line" and result.is_line:
        raise InputError(f"kind {kind!r} needs a 2-D result; use kind 'line' for a 1-D one")
    if quantity is not None and quantity not in result.values:
        have = ", ".join(result.values) or "nothing"
        raise InputError(f"the result has no quantity {quantity!r}; it has {have}")

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself to fig: Agg for this figure only
    if kind == "line":
        draw_line(fig, result, quantity, log)
    else:
        _draw_surface(fig, result, kind, quantity or result.main_quantity(),
                      int(levels), vmin, vmax, log, trajectory)
    text = _default_title(result, quantity, kind) if title is None else title
    if text:
        fig.suptitle(text)
    return fig


def save_figure(
    fig: Figure,
    path: str | os.PathLike,
    specs: dict[str, Any] | list[Any] | None = None,
    dpi: int = 150,
    fmt: str | None = None,
) -> Path:
    """Save ``fig`` with the specs that made it in the file's metadata (PNG text chunk
    ``lossviz-specs``, SVG description, PDF subject), creating parent folders.

    ``specs`` is any JSON-able value: a result's specs, or a list of them (a compare grid).
    """
    path = Path(path)
    fmt = fmt or _check_format(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot write figure {path}: {exc.strerror or exc}") from None
    with atomic_path(path, "figure") as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt.lstrip("."), metadata=figure_metadata(specs, fmt))
    return path


def figure_metadata(specs: dict[str, Any] | list[Any] | None, fmt: str) -> dict[str, str]:
    """The metadata dict ``savefig`` takes for format ``fmt`` ('.png', '.svg', '.pdf')."""
    text = json.dumps(specs or {}, sort_keys=True, default=str)  # ASCII: fits a PNG tEXt chunk
    if fmt == ".png":
        return {SPECS_KEY: text, "Software": "LossViz"}
    if fmt == ".svg":
        return {"Description": text, "Title": "LossViz figure"}
    return {"Subject": text, "Title": "LossViz figure", "Creator": "LossViz"}


def read_png_specs(path: str | os.PathLike) -> dict[str, Any] | None:
    """The specs stored in a PNG written by :func:`plot_result` (``None`` if it has none)."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise InputError(f"{path} is not a PNG file")
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if ctype == b"tEXt":
            key, _, value = body.partition(b"\0")
            if key.decode("latin-1") == SPECS_KEY:
                return json.loads(value.decode("latin-1"))
        elif ctype == b"zTXt":
            key, _, rest = body.partition(b"\0")
            if key.decode("latin-1") == SPECS_KEY:
                return json.loads(zlib.decompress(rest[1:]).decode("latin-1"))
        elif ctype == b"IEND":
            break
    return None


# --- internals -------------------------------------------------------------------------


def _check_format(path: Path) -> str:
    fmt = path.suffix.lower()
    if fmt not in FORMATS:
        raise InputError(
            f"cannot save a figure as {path.name!r}: use a .png, .svg or .pdf file name"
        )
    return fmt


def _default_title(result: SurfaceResult, quantity: str | None, kind: str) -> str:
    model = (result.specs.get("model") or {}).get("name")
    what = "loss and accuracy" if kind == "line" and quantity is None else _pretty(
        quantity or result.main_quantity()
    )
    return f"{model}: {what}" if model else what


def _pretty(quantity: str) -> str:
    return qreg.quantity(quantity).label


def shown_values(values: np.ndarray, quantity: str, log: bool) -> np.ndarray:
    """The values as drawn: log10 of a log-able quantity when ``log`` (<= 0 becomes NaN)."""
    z = np.asarray(values, dtype=float)
    if log and qreg.quantity(quantity).loggable:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(z > 0, np.log10(np.where(z > 0, z, 1.0)), np.nan)
    return z


def _levels(
    z: np.ndarray, n: int, vmin: float | None, vmax: float | None, geometric: bool = False
) -> np.ndarray | None:
    """``n`` levels over [vmin, vmax] (the finite data range by default); see
    :func:`~lossviz_core.results.result.contour_levels`."""
    finite = z[np.isfinite(z)]
    if finite.size == 0 and (vmin is None or vmax is None):
        return None
    lo = float(finite.min()) if vmin is None else float(vmin)
    hi = float(finite.max()) if vmax is None else float(vmax)
    if not hi > lo:
        return None
    return contour_levels(lo, hi, n, geometric)


def _draw_surface(
    fig: Figure, result: SurfaceResult, kind: str, quantity: str, levels: int,
    vmin: float | None, vmax: float | None, log: bool, trajectory: bool,
) -> None:
    x, y = np.asarray(result.x, float), np.asarray(result.y, float)
    if len(x) < 2 or len(y) < 2:
        raise InputError(
            f"a {kind} figure needs at least 2 points along each axis, got {len(x)} x {len(y)}"
        )
    z = shown_values(result.values[quantity], quantity, log)
    loggable = qreg.quantity(quantity).loggable
    zlabel = f"log10 {_pretty(quantity)}" if log and loggable else _pretty(quantity)
    xlabel, ylabel = result.axis_labels()
    lv = _levels(z, levels, vmin, vmax, geometric=qreg.is_loss(quantity) and not log)
    traj = result.trajectory if trajectory else None

    if kind == "surface":
        ax = fig.add_subplot(projection="3d")
        xx, yy = np.meshgrid(x, y)  # (ny, nx), matching z
        zz = z if lv is None else np.clip(z, lv[0], lv[-1])
        # plot_surface cannot take NaN: mask the missing points out of the face colours
        ax.plot_surface(xx, yy, np.ma.masked_invalid(zz), cmap="viridis", linewidth=0,
                        antialiased=False, rstride=1, cstride=1)
        ax.set_zlabel(zlabel)
        if traj is not None and qreg.is_loss(quantity):
            tz = shown_values(traj.loss, quantity, log)
            if np.isfinite(tz).any():
                draw_trajectory3d(ax, traj, tz)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        return

    ax = fig.add_subplot()
    if lv is None:
        ax.text(0.5, 0.5, "no finite values to contour yet", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(y[0], y[-1])
    elif kind == "filled":
        cs = ax.contourf(x, y, z, levels=lv, cmap="viridis", extend="both")
        fig.colorbar(cs, ax=ax, label=zlabel)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # no level crossing the data is fine
            cs = ax.contour(x, y, z, levels=lv, cmap="summer")
        if len(cs.levels):
            ax.clabel(cs, cs.levels[::max(1, len(cs.levels) // 8)], inline=True, fontsize=7,
                      fmt="%.3g")
    if traj is not None:
        draw_trajectory(ax, traj)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


PATH_COLOURS = ("r", "deepskyblue", "orange", "lime")  # each run's path: seen on viridis


def trajectory_paths(traj: Any) -> list[tuple[str, np.ndarray, str]]:
    """``(label, point indices, colour)`` of each run's path (one red path for one run)."""
    paths = traj.paths() if hasattr(traj, "paths") else [("", np.arange(len(traj.x)))]
    return [(label, idx, PATH_COLOURS[k % len(PATH_COLOURS)])
            for k, (label, idx) in enumerate(paths)]


def draw_trajectory(ax: Any, traj: Any) -> None:
    """The optimizer's path on the plane (each run's in its colour, with a legend when
    labelled), labelled with epochs where labels fit."""
    tx, ty = np.asarray(traj.x, float), np.asarray(traj.y, float)
    epochs = np.asarray(traj.epochs)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    u = (tx - x0) / ((x1 - x0) or 1.0)
    v = (ty - y0) / ((y1 - y0) or 1.0)
    placed: list[int] = []
    labelled = False
    for label, idx, colour in trajectory_paths(traj):
        ax.plot(tx[idx], ty[idx], "-o", color=colour, markersize=3, linewidth=1,
                label=label or None)
        labelled = labelled or bool(label)
        # Label from the last epoch back, skipping points crowded near a labelled one.
        for k in idx[::-1]:
            if len(placed) >= _MAX_EPOCH_LABELS:
                break
            if all(np.hypot(u[k] - u[j], v[k] - v[j]) > _LABEL_GAP for j in placed):
                placed.append(k)
                ax.annotate(str(int(epochs[k])), (tx[k], ty[k]), textcoords="offset points",
                            xytext=(3, 3), fontsize=7,
                            color="darkred" if colour == "r" else colour)
    if labelled:
        ax.legend(fontsize=7, loc="best", framealpha=0.8)


def draw_trajectory3d(ax: Any, traj: Any, tz: np.ndarray) -> None:
    """Each run's path over a 3-D surface at heights ``tz`` (the shown losses)."""
    tx, ty = np.asarray(traj.x, float), np.asarray(traj.y, float)
    for label, idx, colour in trajectory_paths(traj):
        ax.plot(tx[idx], ty[idx], np.asarray(tz)[idx], "-o", color=colour, markersize=3,
                zorder=10, label=label or None)


def draw_line(fig: Figure, result: SurfaceResult, quantity: str | None, log: bool) -> None:
    """A 1-D result: losses on the left axis, accuracies on the right, test dotted."""
    x = np.asarray(result.x, float)
    wanted = [quantity] if quantity is not None else list(result.quantities)
    # losses (and any other quantity) on the left axis, accuracies on the right
    accs = [q for q in wanted if qreg.is_accuracy(q)]
    losses = [q for q in wanted if q not in accs]
    ax = fig.add_subplot()
    xlabel = "α"
    directions = result.specs.get("directions") or {}
    interpolation = directions.get("method") == "target"
    if interpolation:
        xlabel = "α (interpolation: θ = (1 − α)·θ_A + α·θ_B)"
    lines = []
    for q in losses:
        style = ":" if qreg.quantity(q).split == "test" else "-"
        lines += ax.plot(x, result.values[q], style, color="tab:blue", label=_pretty(q))
    ax.set_xlabel(xlabel)
    if losses:
        ax.set_ylabel("loss", color="tab:blue")
        ax.tick_params(axis="y", labelcolor="tab:blue")
        finite = np.concatenate([np.asarray(result.values[q], float).ravel() for q in losses])
        if log and np.any(finite[np.isfinite(finite)] > 0):
            ax.set_yscale("log")
    if accs:
        ax2 = ax.twinx() if losses else ax
        for q in accs:
            style = ":" if qreg.quantity(q).split == "test" else "-"
            lines += ax2.plot(x, result.values[q], style, color="tab:red", label=_pretty(q))
        ax2.set_ylabel("accuracy", color="tab:red")
        ax2.tick_params(axis="y", labelcolor="tab:red")
    if interpolation:
        names = (_checkpoint_label((result.specs.get("model") or {}).get("checkpoint"), "A"),
                 _checkpoint_label(directions.get("target_checkpoint"), "B"))
        for a, name in zip((0.0, 1.0), names, strict=True):
            ax.axvline(a, color="gray", linestyle="--", linewidth=0.8)
            ax.annotate(name, (a, 0.0), xycoords=("data", "axes fraction"),
                        xytext=(3, 4), textcoords="offset points", ha="left",
                        fontsize=8, color="dimgray")
    if lines:
        ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8, loc="best")


def _checkpoint_label(checkpoint: str | None, fallback: str) -> str:
    if not checkpoint:
        return fallback
    return f"{fallback}: {Path(str(checkpoint)).stem}"
