"""The 1-D view: loss (left axis) and accuracy (right axis) along α, train solid, test dotted."""

from __future__ import annotations

import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QVBoxLayout, QWidget

from lossviz_core.results.quantities import is_accuracy, is_loss, quantity
from lossviz_core.results.result import SurfaceResult

from .colormaps import display_values
from .display import DisplaySettings, export_plot_vector, render_plot_image

LOSS_COLOR = (31, 119, 180)
ACC_COLOR = (214, 39, 40)
OTHER_COLORS = ((44, 160, 44), (148, 103, 189), (140, 86, 75), (23, 190, 207))


def checkpoint_names(result: SurfaceResult) -> tuple[str, str] | None:
    """Basenames of the checkpoints at α = 0 and α = 1 for a 'target' interpolation, else None."""
    recipe = result.recipe
    if recipe is None or recipe.directions.method != "target":
        return None
    a, b = recipe.model.checkpoint, recipe.directions.target_checkpoint
    return (os.path.basename(str(a)) if a else "start", os.path.basename(str(b)) if b else "target")


def _pen(q: str, k: int):
    """Losses blue, accuracies red (right axis), anything else its own colour; test dotted."""
    color = ACC_COLOR if is_accuracy(q) else LOSS_COLOR if is_loss(q) else OTHER_COLORS[
        k % len(OTHER_COLORS)]
    style = Qt.PenStyle.DotLine if quantity(q).split == "test" else Qt.PenStyle.SolidLine
    return pg.mkPen(color, width=2.2, style=style)


class LineView1D(QWidget):
    """Loss and accuracy along one direction; markers at the two checkpoints of a 'target' line."""

    def __init__(self, settings: DisplaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.result: SurfaceResult | None = None

        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "α")
        self.plot.setLabel("left", "loss", color=pg.mkColor(LOSS_COLOR).name())
        self.plot.showAxis("right")
        self.plot.setLabel("right", "accuracy", color=pg.mkColor(ACC_COLOR).name())
        self.acc_box = pg.ViewBox()  # accuracy has its own y scale on the right
        self.plot.scene().addItem(self.acc_box)
        self.plot.getAxis("right").linkToView(self.acc_box)
        self.acc_box.setXLink(self.plot)
        self.plot.vb.sigResized.connect(self._sync_boxes)
        for a in ("left", "right", "bottom"):
            self.plot.getAxis(a).enableAutoSIPrefix(False)
        self.legend = self.plot.addLegend(
            offset=(-10, 10), labelTextColor=(40, 40, 40), brush=pg.mkBrush(255, 255, 255, 200)
        )

        self.curves: dict[str, pg.PlotDataItem] = {}  # one per quantity of the shown result
        self.markers: list[pg.InfiniteLine] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        settings.changed.connect(self.refresh)

    # --- contract -------------------------------------------------------------------
    def set_result(self, result: SurfaceResult | None) -> None:
        """Show a new line result: curves, legend, checkpoint markers, range fitted."""
        self.result = result if result is not None and result.is_line else None
        for m in self.markers:
            self.plot.removeItem(m)
        self.markers = []
        self.legend.clear()
        self._make_curves(() if self.result is None else self.result.quantities)
        if self.result is None:
            return
        for q, c in self.curves.items():
            self.legend.addItem(c, quantity(q).label)
        names = checkpoint_names(self.result)
        if names is not None:
            for pos, name in zip((0.0, 1.0), names, strict=True):
                line = pg.InfiniteLine(
                    pos=pos,
                    angle=90,
                    pen=pg.mkPen(90, 90, 90, width=1, style=Qt.PenStyle.DashLine),
                    label=name,
                    labelOpts={
                        "position": 0.92,
                        "color": (50, 50, 50),
                        "fill": (255, 255, 255, 200),
                    },
                )
                self.plot.addItem(line, ignoreBounds=True)
                self.markers.append(line)
        self.plot.setXRange(float(self.result.x[0]), float(self.result.x[-1]), padding=0.02)
        self.refresh()

    def _make_curves(self, names) -> None:
        """Curves for ``names``: accuracies on the right axis, the rest on the left."""
        for q, c in self.curves.items():
            (self.acc_box if is_accuracy(q) else self.plot).removeItem(c)
        self.curves = {}
        for k, q in enumerate(names):
            curve = pg.PlotDataItem(pen=_pen(q, k), connect="finite")
            (self.acc_box if is_accuracy(q) else self.plot).addItem(curve)
            self.curves[q] = curve

    def refresh(self) -> None:
        """The same result got more points (or the settings changed): redraw the curves."""
        r = self.result
        if r is None:
            return
        log = self.settings.log_scale
        self.plot.setLogMode(x=False, y=log)
        for q, c in self.curves.items():
            if q not in r.values:
                c.setData([], [])
                continue
            v = np.asarray(r.values[q], dtype=float)
            if not is_accuracy(q):
                # the log axis takes raw values; only clip here (log10 is pyqtgraph's job)
                v = display_values(v, False, self.settings.clip_max)
                if log:
                    v = np.where(v > 0, v, np.nan)
            c.setData(r.x, v, connect="finite")
        self.plot.enableAutoRange(axis="y")
        self.acc_box.enableAutoRange(axis="y")

    def grab_image(self, width: int, height: int, transparent: bool = False) -> QImage:
        """The plot as an image of exactly width×height pixels."""
        return render_plot_image(self.plot_widget, self.plot, width, height, transparent)

    def export_vector(self, path: str) -> None:
        """Write the plot as .svg or .pdf."""
        export_plot_vector(self.plot_widget, self.plot, path)

    def _sync_boxes(self) -> None:
        self.acc_box.setGeometry(self.plot.vb.sceneBoundingRect())
        self.acc_box.linkedViewChanged(self.plot.vb, self.acc_box.XAxis)
