"""The edge-of-stability figure of a tracked run: sharpness and 2/lr, and the loss, by step.

Top: λmax (the top Hessian eigenvalue) and critical sharpness λc against the optimizer step,
with the stability threshold 2/lr (gradient descent diverges along a direction whose
curvature exceeds it; with heavy-ball momentum β the threshold is (2 + 2β)/lr, drawn too).
Progressive sharpening is λmax rising towards 2/lr; the edge of stability is λmax hovering
there. Bottom: the training loss at each record and the probe examples' loss. Drawn from
``RUN/track.jsonl`` by matplotlib Agg, the records' summary in the file's metadata.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lossviz_core.errors import InputError
from lossviz_core.export.figure_file import save_figure
from lossviz_core.track.records import read_track, series

SHARPNESS_SERIES = (("lambda_max", "λmax (top Hessian eigenvalue)", "tab:blue", "o"),
                    ("sharpness", "critical sharpness λc", "tab:orange", "s"))
LOSS_SERIES = (("loss", "training loss (batch)", "tab:green", "-"),
               ("probe_loss", "probe loss", "tab:olive", "--"))


def thresholds(records: list[dict[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """``2/lr`` (and ``(2+2β)/lr`` where momentum β was recorded) at each record."""
    steps = [int(r["step"]) for r in records if r.get("lr")]
    out = {"2/lr": (steps, [2.0 / r["lr"] for r in records if r.get("lr")])}
    if any(r.get("momentum") for r in records):
        out["(2+2β)/lr"] = (steps, [(2.0 + 2.0 * (r.get("momentum") or 0.0)) / r["lr"]
                                    for r in records if r.get("lr")])
    return out


def build_eos_figure(records: list[dict[str, Any]], size: tuple[float, float] = (7.0, 5.0),
                     dpi: float = 150.0, title: str | None = None) -> Figure:
    """The figure (two panels sharing the step axis) for ``records``."""
    if not records:
        raise InputError("the run has no tracked records yet")
    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    for key, label, colour, marker in SHARPNESS_SERIES:
        steps, values = series(records, key)
        if steps and np.isfinite(values).any():
            top.plot(steps, values, marker=marker, markersize=3, color=colour, label=label)
    for (name, (steps, values)), style in zip(thresholds(records).items(), ("--", ":"),
                                              strict=False):
        top.step(steps, values, where="post", linestyle=style, color="black", linewidth=1,
                 label=name)
    top.set_ylabel("sharpness")
    top.legend(fontsize=7, loc="best")
    drawn = False
    for key, label, colour, style in LOSS_SERIES:
        steps, values = series(records, key)
        if steps and np.isfinite(values).any():
            bottom.plot(steps, values, style, color=colour, label=label)
            drawn = True
    if drawn:
        bottom.legend(fontsize=7, loc="best")
        finite = np.concatenate([np.asarray(series(records, k)[1], float) for k, *_ in
                                 LOSS_SERIES])
        finite = finite[np.isfinite(finite)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 20:
            bottom.set_yscale("log")
    bottom.set_ylabel("loss")
    bottom.set_xlabel("step")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_eos(run_or_records: str | os.PathLike | list[dict[str, Any]],
             path: str | os.PathLike, dpi: float = 150.0,
             size: tuple[float, float] = (7.0, 5.0), title: str | None = None) -> Path:
    """Write the edge-of-stability figure of a run folder (or of records) to ``path``
    (.png, .svg, .pdf)."""
    if isinstance(run_or_records, list):
        records = run_or_records
    else:
        records = read_track(run_or_records)
        title = Path(run_or_records).name if title is None else title
    fig = build_eos_figure(records, size, dpi, title)
    last = records[-1]
    summary = {"track": {"records": len(records), "last": {k: last.get(k) for k in (
        "step", "epoch", "lr", "lambda_max", "sharpness", "loss")}}}
    return save_figure(fig, path, summary, dpi=dpi)
