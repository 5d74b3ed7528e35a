"""``lossviz animate RUN_OR_RESULTS… --out FILE.gif|.mp4``: trajectories and sequences.

One result file with a trajectory (a PCA plane): the path moving over the landscape. Several
result files, or a run folder (its checkpoints' landscapes computed on a seeded random
plane): a sequence on one colour scale. ``--kind surface`` draws in 3-D, ``--rotate DEG``
turns the camera.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lossviz_core.errors import InputError


def add_animate_parser(subparsers: Any) -> None:
    from lossviz_core.animate import KINDS, MODES

    p = subparsers.add_parser("animate", help="a GIF or MP4 of a trajectory moving over a "
                              "landscape, or of landscapes over checkpoints")
    p.add_argument("inputs", nargs="+", metavar="RUN_OR_RESULT",
                   help="result files (.h5) or a run folder")
    p.add_argument("--out", required=True, help="the animation (.gif or .mp4)")
    p.add_argument("--mode", choices=MODES, default="auto", help="trajectory (one result's "
                   "path), sequence (results in turn) or auto")
    p.add_argument("--kind", choices=KINDS, default="filled", help="2-D map or 3-D surface")
    p.add_argument("--size", default="800x600", metavar="WxH", help="pixels (800x600)")
    p.add_argument("--fps", type=float, default=10.0, help="frames per second (10)")
    p.add_argument("--duration", type=float, help="seconds (trajectory 4; sequence 1 per "
                   "landscape)")
    p.add_argument("--frames", type=int, help="the number of frames (wins over --duration)")
    p.add_argument("--rotate", type=float, default=0.0, metavar="DEG",
                   help="3-D: turn the camera by DEG degrees over the animation")
    p.add_argument("--elevation", type=float, default=30.0, help="3-D camera elevation (30)")
    p.add_argument("--azimuth", type=float, default=-60.0, help="3-D camera azimuth (-60)")
    p.add_argument("--quantity", help="what to draw (default: the main loss)")
    p.add_argument("--log", action="store_true", help="log10 of the loss")
    p.add_argument("--title", help="the frames' title ('' for none)")
    p.add_argument("--x", default="-1:1:21", help="a run folder's grid (-1:1:21)")
    p.add_argument("--y", default="-1:1:21", help="a run folder's grid (-1:1:21)")
    p.add_argument("--keep", metavar="DIR", help="save a run folder's computed landscapes "
                   "here (and reuse them next time)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing animation")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size wants WIDTHxHEIGHT in pixels, got {text!r}") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise InputError(f"--size must be 16 to 8192 pixels a side, got {text}")
    return w, h


def run_animate(a: argparse.Namespace) -> int:
    from lossviz_core.animate import AnimationOptions, iter_animation
    from lossviz_core.animate.encode import check_target
    from lossviz_core.animate.inputs import iter_inputs
    from lossviz_core.device import threads_for_load
    from lossviz_core.export.figure import FigureOptions
    from lossviz_core.results.paths import check_output

    w, h = _size(a.size)
    options = AnimationOptions(
        mode=a.mode, kind=a.kind, width=w, height=h, fps=a.fps, duration=a.duration,
        frames=a.frames, rotate=a.rotate, elevation=a.elevation, azimuth=a.azimuth,
        figure=FigureOptions(quantity=a.quantity, log=a.log, title=a.title))
    check_output(a.out, "animation", may_exist=a.overwrite)
    check_target(a.out, (w, h), a.fps)
    threads_for_load()
    gen = iter_inputs(a.inputs, "trajectory" if a.mode == "trajectory" else "sequence",
                      a.x, a.y, a.keep)
    try:
        results, titles = yield_steps(gen)
        path = yield_steps(iter_animation(results, a.out, options, titles))
    except KeyboardInterrupt:
        gen.close()
        print("lossviz: interrupted: no animation written", file=sys.stderr)
        return 130
    print(f"lossviz: wrote {path}", file=sys.stderr)
    print(str(path))
    return 0


def yield_steps(gen):
    """Run a generator of Steps, printing each on stderr; its return value."""
    last = None
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            return stop.value
        if step.text != last and not step.text.startswith("frame "):
            print(f"lossviz: {step.text}", file=sys.stderr)
        last = step.text
