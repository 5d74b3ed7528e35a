"""The states an animation shows, and each state drawn exactly as its still export.

- :func:`trajectory_states`: the optimizer's path growing over one landscape. At frame f of
  F every run's path is drawn up to the fraction f/(F−1) of its checkpoints, the head
  interpolated linearly between two checkpoints (so a 10-checkpoint run still moves
  smoothly over 50 frames); the first frame shows each start, the last the whole path.
- :func:`sequence_states`: several landscapes (one per checkpoint, say), each held for an
  equal share of the frames, all on one colour scale (the range over every landscape).

:func:`render` draws one state with :func:`lossviz_core.export.figure.build_figure` and
saves it as the still PNG export does (``save_exact``), so a frame *is* a still export of
that state; a 3-D camera (elevation, azimuth) may turn over the frames.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lossviz_core.errors import InputError
from lossviz_core.export.figure import FigureOptions, build_figure, figure_specs, save_exact
from lossviz_core.results.result import SurfaceResult, Trajectory


@dataclass(frozen=True)
class State:
    """One frame's content: a result (its trajectory cut where the frame is), the figure
    options, and for a 3-D figure the camera (degrees) or None for matplotlib's default."""

    result: SurfaceResult
    options: FigureOptions
    camera: tuple[float, float] | None = None


def trajectory_states(result: SurfaceResult, frames: int, options: FigureOptions,
                      camera: Sequence[tuple[float, float]] | None = None) -> Iterator[State]:
    """``frames`` states of ``result`` with its trajectory growing from the start(s) to the
    end(s); ``camera``: one (elevation, azimuth) per frame for a 3-D figure."""
    if result.is_line:
        raise InputError("an animation needs a 2-D result (a surface), not a line")
    traj = result.trajectory
    for f in range(frames):
        cut = None if traj is None else cut_trajectory(traj, f / max(frames - 1, 1))
        yield State(dataclasses.replace(result, trajectory=cut), options,
                    None if camera is None else tuple(camera[f]))


def cut_trajectory(traj: Trajectory, fraction: float) -> Trajectory:
    """Each run's path up to ``fraction`` (0..1) of its checkpoints, its head interpolated."""
    keep: list[tuple[np.ndarray, float]] = []
    for _, idx in traj.paths():
        s = fraction * (len(idx) - 1)
        whole = int(np.floor(s + 1e-9))
        keep.append((idx[: whole + 1], s - whole if whole < len(idx) - 1 else 0.0))

    def take(values: np.ndarray | None, interpolate: bool = True) -> np.ndarray | None:
        if values is None:
            return None
        v = np.asarray(values)
        parts = []
        for (idx, frac), (_, full) in zip(keep, traj.paths(), strict=True):
            parts.append(v[idx])
            if frac > 0:
                a, b = v[full[len(idx) - 1]], v[full[len(idx)]]
                head = a + frac * (b - a) if interpolate else a
                parts.append(np.asarray([head], dtype=v.dtype if not interpolate else float))
        return np.concatenate(parts)

    return Trajectory(epochs=take(traj.epochs, interpolate=False), x=take(traj.x),
                      y=take(traj.y), off_plane=take(traj.off_plane), loss=take(traj.loss),
                      explained_variance=traj.explained_variance,
                      x_lstsq=take(traj.x_lstsq), y_lstsq=take(traj.y_lstsq),
                      run=take(traj.run, interpolate=False), runs=traj.runs, unit=traj.unit)


def sequence_states(results: Sequence[SurfaceResult], frames: int, options: FigureOptions,
                    titles: Sequence[str] | None = None,
                    camera: Sequence[tuple[float, float]] | None = None) -> Iterator[State]:
    """``frames`` states showing each result in turn for an equal share, on one colour
    scale: ``vmin``/``vmax`` over every result's values unless the options give them;
    ``titles``: one per result ("" keeps the figure's own)."""
    if not results:
        raise InputError("no results to animate")
    if any(r.is_line for r in results):
        raise InputError("an animation needs 2-D results (surfaces), not lines")
    options = common_scale(results, options)
    held = [State(r, options.replace(title=titles[k]) if titles and titles[k] else options)
            for k, r in enumerate(results)]
    for f in range(frames):
        k = min(int(f * len(results) / frames), len(results) - 1)
        # one State object per landscape while the camera stands: drawn once, shown again
        yield held[k] if camera is None else dataclasses.replace(held[k], camera=tuple(camera[f]))


def common_scale(results: Sequence[SurfaceResult], options: FigureOptions) -> FigureOptions:
    """The options with one colour range over all ``results`` (their main quantity or the
    options' one, in its own units)."""
    if options.vmin is not None and options.vmax is not None:
        return options
    q = options.quantity or results[0].main_quantity()
    missing = [r.path or "a result" for r in results if q not in r.values]
    if missing:
        raise InputError(f"{missing[0]} has no {q!r}: a sequence shows one quantity")
    values = np.concatenate([np.asarray(r.values[q], float).ravel() for r in results])
    values = values[np.isfinite(values)]
    if options.log:
        values = values[values > 0]
    if values.size == 0:
        return options
    lo, hi = float(values.min()), float(values.max())
    if not hi > lo:
        return options
    return options.replace(vmin=options.vmin if options.vmin is not None else lo,
                           vmax=options.vmax if options.vmax is not None else hi)


def render(state: State, path: str | Path) -> Path:
    """Draw ``state`` and save it as a PNG exactly as the still export does."""
    fig = build_figure(state.result, state.options)
    if state.camera is not None:
        for ax in fig.axes:
            if hasattr(ax, "view_init"):
                ax.view_init(elev=state.camera[0], azim=state.camera[1])
    return save_exact(fig, path, state.options, figure_specs(state.result, state.options))


def render_frames(states: Iterator[State]) -> Iterator[np.ndarray]:
    """Each state as an RGB array (``height × width × 3``, uint8) of its still PNG export
    (a transparent background composited on white); a state repeated is drawn once."""
    import imageio.v3 as iio

    with tempfile.TemporaryDirectory(prefix="lossviz-frames-") as tmp:
        path = Path(tmp) / "frame.png"
        last, frame = None, None
        for state in states:
            if state is not last:
                render(state, path)
                last, frame = state, to_rgb(iio.imread(path))
            yield frame


def to_rgb(image: np.ndarray) -> np.ndarray:
    """RGB uint8 of an RGB or RGBA image (alpha composited on white)."""
    image = np.asarray(image)
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[..., 3:4].astype(np.float32) / 255.0
        rgb = image[..., :3].astype(np.float32) * alpha + 255.0 * (1 - alpha)
        return np.round(rgb).astype(np.uint8)
    return image[..., :3].astype(np.uint8)
