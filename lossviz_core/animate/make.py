"""What an animation is made of and how it is made: the API that
:mod:`lossviz_core.animate` names (imported when first used, as it loads matplotlib)."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lossviz_core.animate import KINDS, MODES
from lossviz_core.animate.encode import check_target, write_frames
from lossviz_core.animate.frames import (
    State,
    render_frames,
    sequence_states,
    trajectory_states,
)
from lossviz_core.errors import InputError
from lossviz_core.export.figure import FigureOptions
from lossviz_core.progress import Step, drain
from lossviz_core.results.result import SurfaceResult


@dataclass(frozen=True)
class AnimationOptions:
    """How an animation looks and runs. ``mode``: ``trajectory`` (one result, its path
    growing), ``sequence`` (several results in turn) or ``auto`` (one result: trajectory;
    several: sequence). ``width``/``height``: pixels; ``fps``: frames per second;
    ``duration``: seconds (default 4 for a trajectory, 1 per landscape for a sequence) or
    ``frames`` (wins over the duration). ``rotate``: degrees the 3-D camera turns about the
    vertical over the animation, from ``azimuth`` at ``elevation``. ``figure``: the still
    export's options (quantity, log, colour map, title, ...); its size and kind are set
    from these."""

    mode: str = "auto"
    kind: str = "filled"
    width: int = 800
    height: int = 600
    dpi: float = 100.0
    fps: float = 10.0
    duration: float | None = None
    frames: int | None = None
    rotate: float = 0.0
    elevation: float = 30.0
    azimuth: float = -60.0
    figure: FigureOptions | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"unknown animation mode {self.mode!r}; choose one of "
                             f"{', '.join(MODES)}")
        if self.kind not in KINDS:
            raise InputError(f"unknown animation kind {self.kind!r}; choose one of "
                             f"{', '.join(KINDS)}")
        if self.frames is not None and int(self.frames) < 1:
            raise InputError(f"an animation needs at least 1 frame, got {self.frames}")
        if self.duration is not None and not self.duration > 0:
            raise InputError(f"the duration must be positive, got {self.duration}")
        if self.rotate and self.kind != "surface":
            raise InputError("the camera turns only around a 3-D surface: use kind surface")

    def figure_options(self) -> FigureOptions:
        base = self.figure or FigureOptions()
        return base.replace(kind=self.kind, width=self.width / self.dpi,
                            height=self.height / self.dpi, dpi=self.dpi)

    def mode_for(self, results: Sequence[SurfaceResult]) -> str:
        if self.mode != "auto":
            return self.mode
        return "trajectory" if len(results) == 1 else "sequence"

    def frame_count(self, mode: str, n_results: int) -> int:
        if self.frames is not None:
            return int(self.frames)
        seconds = self.duration if self.duration is not None else (
            4.0 if mode == "trajectory" else float(n_results))
        return max(1, round(seconds * self.fps))

    def camera(self, frames: int) -> list[tuple[float, float]] | None:
        """(elevation, azimuth) per frame for a 3-D figure, turning by ``rotate``."""
        if self.kind != "surface":
            return None
        steps = np.linspace(0.0, self.rotate, frames) if frames > 1 else np.zeros(1)
        return [(self.elevation, self.azimuth + float(a)) for a in steps]


def plan_states(results: Sequence[SurfaceResult], options: AnimationOptions,
                titles: Sequence[str] | None = None) -> tuple[list[State], str]:
    """Every frame's state, and the mode they show."""
    mode = options.mode_for(results)
    frames = options.frame_count(mode, len(results))
    fo = options.figure_options()
    if mode == "trajectory":
        if len(results) != 1:
            raise InputError(f"a trajectory animation shows one result, got {len(results)}; "
                             "several results make a sequence")
        r = results[0]
        if r.trajectory is None and not options.rotate:
            raise InputError(f"{r.path or 'the result'} has no trajectory to animate: use a "
                             "PCA result, several results (a sequence) or --rotate")
        return list(trajectory_states(r, frames, fo, options.camera(frames))), mode
    return list(sequence_states(results, frames, fo, titles, options.camera(frames))), mode


def iter_animation(results: Sequence[SurfaceResult], out: str | os.PathLike,
                   options: AnimationOptions | None = None,
                   titles: Sequence[str] | None = None) -> Generator[Step, None, Path]:
    """Write the animation of ``results`` to ``out`` (.gif or .mp4), a Step per frame."""
    options = options or AnimationOptions()
    path = check_target(out, (options.width, options.height), options.fps)
    states, mode = plan_states(results, options, titles)
    yield Step(f"{mode} animation: {len(states)} frames of {options.width}×{options.height} "
               f"at {options.fps:g} fps", 0.0)
    for n in write_frames(render_frames(iter(states)), path, options.fps):
        yield Step(f"frame {n}/{len(states)}", n / len(states))
    return path


def animate(results: Sequence[SurfaceResult], out: str | os.PathLike,
            options: AnimationOptions | None = None,
            titles: Sequence[str] | None = None) -> Path:
    """:func:`iter_animation` without progress."""
    return drain(iter_animation(results, out, options, titles))


def frames_of(results: Sequence[SurfaceResult], options: AnimationOptions) -> Iterator[np.ndarray]:
    """The frames as RGB arrays, without encoding (to look at or test)."""
    states, _ = plan_states(results, options)
    return render_frames(iter(states))

