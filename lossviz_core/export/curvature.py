"""The curvature report as a figure: the spectral density and the per-layer top eigenvalues."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from lossviz_core.export.figure_file import save_figure


def plot_report(report: dict[str, Any], path: str | os.PathLike, dpi: int = 150,
                size: tuple[float, float] = (9, 3.6)) -> Path:
    """Density (log scale, the top eigenvalues and λmin marked) and the per-layer top
    eigenvalues, with matplotlib Agg only; the report's summary goes into the metadata."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    layers = report.get("per_layer") or {}
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2 if layers else 1, squeeze=False)[0]
    ax = axes[0]
    grid = np.asarray(report["density"]["grid"], float)
    vals = np.asarray(report["density"]["values"], float)
    ax.semilogy(grid, np.maximum(vals, 1e-12), color="tab:blue", linewidth=1)
    for i, lam in enumerate(report["eigenvalues"]):
        ax.axvline(lam, color="tab:red", linewidth=0.8, alpha=0.8,
                   label="top eigenvalues" if i == 0 else None)
    ax.axvline(report["lambda_min"], color="tab:green", linewidth=0.8, label="λmin")
    ax.set_xlabel("eigenvalue λ")
    ax.set_ylabel("spectral density (SLQ)")
    ax.legend(fontsize=7)
    ax.set_title(f"trace {report['trace']:.4g} ± {report['trace_stderr']:.2g}", fontsize=9)
    if layers:
        names = list(layers)
        axes[1].barh(range(len(names)), [layers[n] for n in names], color="tab:orange")
        axes[1].set_yticks(range(len(names)), names, fontsize=7)
        axes[1].invert_yaxis()
        axes[1].set_xlabel("top eigenvalue of the layer's block")
    summary = {k: report[k] for k in ("eigenvalues", "lambda_min", "trace", "trace_stderr",
                                      "examples", "sharpness") if k in report}
    return save_figure(fig, path, {"curvature": summary}, dpi=dpi)
