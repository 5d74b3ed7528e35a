"""The edge-of-stability view: λmax and critical sharpness against 2/lr, the loss below.

Drawn from a tracked run's records (``RUN/track.jsonl``) as they arrive, in the training
dialog and in the run-folder window; :meth:`EosView.export` writes the same figure with
matplotlib (:func:`lossviz_core.export.eos.plot_eos`: PNG, SVG or PDF), as every figure is
exported (the *Export…* button: :mod:`lossviz.eos_panel`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from lossviz_core.export.eos import LOSS_SERIES, SHARPNESS_SERIES, thresholds
from lossviz_core.track.records import series

_SYMBOLS = {"o": "o", "s": "s"}
_STYLES = {"-": Qt.PenStyle.SolidLine, "--": Qt.PenStyle.DashLine, ":": Qt.PenStyle.DotLine}


def held(steps: list[int], values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """A threshold held from each record to the next (as the exported figure's steps)."""
    x, y = np.asarray(steps, float), np.asarray(values, float)
    if len(x) < 2:
        return x, y
    return np.repeat(x, 2)[1:], np.repeat(y, 2)[:-1]


def _colour(name: str) -> tuple[int, int, int]:
    from matplotlib.colors import to_rgb

    return tuple(int(255 * c) for c in to_rgb(name))


class EosView(QWidget):
    """Two linked plots of ``records`` (dicts of ``track.jsonl``): sharpness and thresholds
    on top, losses below, against the optimizer step."""

    def __init__(self, parent: QWidget | None = None, title: str = "") -> None:
        super().__init__(parent)
        self.records: list[dict[str, Any]] = []
        self.title = title
        self.top = pg.PlotWidget()
        self.bottom = pg.PlotWidget()
        self.bottom.setXLink(self.top)
        self.top.setLabel("left", "sharpness")
        self.bottom.setLabel("left", "loss")
        self.bottom.setLabel("bottom", "step")
        self.curves: dict[str, pg.PlotDataItem] = {}
        # translucent: at a small size the legend lies over the curves, which show through
        self.legends = {p: p.addLegend(offset=(-10, 10), brush=(255, 255, 255, 170))
                        for p in (self.top, self.bottom)}
        for p in (self.top, self.bottom):
            p.showGrid(x=True, y=True, alpha=0.3)
        for key, label, colour, marker in SHARPNESS_SERIES:
            c = _colour(colour)
            self.curves[key] = self.top.plot([], [], name=label, pen=pg.mkPen(c, width=2),
                                             symbol=_SYMBOLS[marker], symbolSize=6,
                                             symbolBrush=c)
        for name, style in (("2/lr", "--"), ("(2+2β)/lr", ":")):
            self.curves[name] = self.top.plot([], [], name=name,
                                              pen=pg.mkPen((20, 20, 20), width=1.5,
                                                           style=_STYLES[style]))
        for key, label, colour, style in LOSS_SERIES:
            self.curves[key] = self.bottom.plot([], [], name=label,
                                                pen=pg.mkPen(_colour(colour), width=2,
                                                             style=_STYLES[style]))
        self.status = QLabel("No tracked records yet.")
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.top, 3)
        lay.addWidget(self.bottom, 2)
        lay.addWidget(self.status)
        self._name_drawn_curves()

    def set_records(self, records: list[dict[str, Any]]) -> None:
        """Draw ``records`` (all of them, in step order)."""
        self.records = list(records)
        for key, *_ in (*SHARPNESS_SERIES, *LOSS_SERIES):
            steps, values = series(self.records, key)
            ok = np.isfinite(values) if values else np.zeros(0, bool)
            self.curves[key].setData(np.asarray(steps, float)[ok], np.asarray(values)[ok])
        lines = thresholds(self.records)
        for name in ("2/lr", "(2+2β)/lr"):
            steps, values = lines.get(name, ([], []))
            self.curves[name].setData(*held(steps, values))
        self._name_drawn_curves()
        self.status.setText(self.describe())

    def _name_drawn_curves(self) -> None:
        """The legends name only the curves with points (no momentum: no (2+2β)/lr)."""
        for plot, legend in self.legends.items():
            for curve in plot.listDataItems():
                named = any(sample.item is curve for sample, _ in legend.items)
                drawn = curve.xData is not None and len(curve.xData) > 0
                if drawn and not named:
                    legend.addItem(curve, curve.name())
                elif named and not drawn:
                    legend.removeItem(curve)

    def add_records(self, records: list[dict[str, Any]]) -> None:
        """Append new records (from a training run's epochs) and redraw."""
        if records:
            self.set_records(self.records + list(records))

    def describe(self) -> str:
        if not self.records:
            return "No tracked records yet."
        last = self.records[-1]
        parts = [f"{len(self.records)} records, last at step {last['step']}"]
        if last.get("lambda_max") is not None:
            parts.append(f"λmax {last['lambda_max']:.4g}")
        if last.get("sharpness") is not None:
            parts.append(f"λc {last['sharpness']:.4g}")
        if last.get("lr"):
            parts.append(f"2/lr {2 / last['lr']:.4g}")
        return " · ".join(parts)

    def export(self, path: str) -> str:
        """Write the figure of the records shown to ``path`` (.png, .svg or .pdf)."""
        from lossviz_core.export.eos import plot_eos

        return str(plot_eos(self.records, path, title=self.title or None))
