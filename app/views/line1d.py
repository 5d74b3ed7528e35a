"""The 1-D view: loss (left axis) and accuracy (right axis) along α, train solid, test dotted.

Accuracy keeps a linear axis of its own when the loss axis is logarithmic; where a loss is
not finite the accuracy of that split is a gap and the stretch is shaded grey, the legend
and the banner saying why (a BatchNorm running variance below zero, or a diverged loss).
The legend has its own row below the plot.
"""

from __future__ import annotations

import html
import os
from pathlib import PurePath

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QStackedLayout, QWidget

from lossviz_core.results.nonfinite import explain, non_finite_mask
from lossviz_core.results.quantities import is_accuracy, is_loss, quantity
from lossviz_core.results.result import SurfaceResult

from . import paths1d
from .colormaps import display_values, log_shown
from .contour2d import NOTE_HTML, placeholder_label, set_placeholder
from .coverage import (
    EMPTY_HINT,
    EMPTY_MESSAGE,
    PREPARING_MESSAGE,
    PlotStateMixin,
    PointCounts,
    point_counts,
)
from .display import DisplaySettings, render_plot_image, set_banner

LOSS_COLOR = (31, 119, 180)
ACC_COLOR = (214, 39, 40)
OTHER_COLORS = ((44, 160, 44), (148, 103, 189), (140, 86, 75), (23, 190, 207))
NON_FINITE_BRUSH = (150, 150, 150, 70)
LEGEND_COLUMNS = 5


def endpoint_labels(a: str | None, b: str | None) -> tuple[str, str]:
    """Names for the checkpoints at α = 0 and α = 1 that tell them apart: the file names,
    or with equal names the shortest trailing folders that differ (``batch_16/model_5.pt``)."""
    if not a or not b:
        return (
            os.path.basename(str(a)) if a else "start",
            os.path.basename(str(b)) if b else "target",
        )
    pa, pb = PurePath(str(a)).parts, PurePath(str(b)).parts
    for k in range(1, max(len(pa), len(pb)) + 1):
        sa, sb = "/".join(pa[-k:]), "/".join(pb[-k:])
        if sa != sb:
            return sa, sb
    return f"{pa[-1]} (α = 0)", f"{pb[-1]} (α = 1)"  # the same file at both ends


def checkpoint_names(result: SurfaceResult) -> tuple[str, str] | None:
    """Labels of the checkpoints at α = 0 and α = 1 of an interpolation or a curve, else None."""
    recipe = result.recipe
    if recipe is None or recipe.directions.method not in paths1d.PATH_METHODS:
        return None
    return endpoint_labels(recipe.model.checkpoint, recipe.directions.param("checkpoint"))


def matching_loss(q: str, names) -> str | None:
    """The loss of accuracy ``q``'s split (train_acc → train_loss), else the first loss."""
    split = quantity(q).split
    losses = [n for n in names if is_loss(n)]
    same = [n for n in losses if quantity(n).split == split]
    return (same or losses or [None])[0]


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(first, last)] of each run of True in a 1-D mask."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _pen(q: str, k: int):
    """Losses blue, accuracies red (right axis), anything else its own colour; test dotted."""
    color = (
        ACC_COLOR
        if is_accuracy(q)
        else LOSS_COLOR
        if is_loss(q)
        else OTHER_COLORS[k % len(OTHER_COLORS)]
    )
    test = quantity(q).split == "test" or q.startswith(paths1d.STRAIGHT + "test")
    if paths1d.is_straight(q):  # a curve's straight line: dashed beside the curve
        style = Qt.PenStyle.DashDotLine if test else Qt.PenStyle.DashLine
    else:
        style = Qt.PenStyle.DotLine if test else Qt.PenStyle.SolidLine
    return pg.mkPen(color, width=2.2, style=style)


class LineView1D(PlotStateMixin, QWidget):
    """Loss and accuracy along one direction; markers at the two checkpoints of a 'target' line.

    Signals: ``cursorInfo(str)`` (α and every quantity at the point nearest the mouse);
    ``countsChanged(PointCounts | None)``.
    """

    cursorInfo = Signal(str)
    countsChanged = Signal(object)

    def __init__(self, settings: DisplaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.result: SurfaceResult | None = None
        self._counts: PointCounts | None = None
        self._message = ""

        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setMinimumSize(1, 1)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "α")
        self.plot.setLabel("left", "loss", color=pg.mkColor(LOSS_COLOR).name())
        self.plot.showAxis("right")
        self.plot.setLabel("right", "accuracy (%)", color=pg.mkColor(ACC_COLOR).name())
        self.acc_box = pg.ViewBox()  # accuracy has its own y scale on the right
        self.plot.scene().addItem(self.acc_box)
        self.plot.getAxis("right").linkToView(self.acc_box)
        self.acc_box.setXLink(self.plot)
        self.plot.vb.sigResized.connect(self._sync_boxes)
        for a in ("left", "right", "bottom"):
            self.plot.getAxis(a).enableAutoSIPrefix(False)
        # after pyqtgraph's own slot (which sets every axis to log): accuracy stays linear
        self.plot.ctrl.logYCheck.toggled.connect(self._keep_accuracy_linear)
        # the legend has its own row under the plot: it never covers a curve
        self.legend = pg.LegendItem(
            offset=None,
            labelTextColor=(40, 40, 40),
            brush=pg.mkBrush(255, 255, 255, 200),
            colCount=LEGEND_COLUMNS,
            frame=False,
        )
        self.plot.layout.addItem(self.legend, 4, 1)
        self.plot.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignHCenter)
        self.plot.vb.sigResized.connect(self.fit_legend)
        self.non_finite_sample = pg.PlotDataItem(
            [],
            [],
            pen=None,
            symbol="s",
            symbolSize=10,
            symbolPen=None,
            symbolBrush=pg.mkBrush(120, 120, 120, 160),
        )
        self.hover_line = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen(120, 120, 120, width=1, style=Qt.PenStyle.DotLine)
        )
        self.hover_line.hide()
        self.plot.addItem(self.hover_line, ignoreBounds=True)
        self.note = pg.TextItem(color=(90, 90, 90), anchor=(0.5, 0.5))
        self.note.hide()
        self.plot.addItem(self.note, ignoreBounds=True)

        self.curves: dict[str, pg.PlotDataItem] = {}  # one per quantity of the shown result
        self.bands: dict[str, paths1d.Band] = {}  # ± std over direction seeds
        self.markers: list[pg.InfiniteLine] = []
        self.non_finite_regions: list[pg.LinearRegionItem] = []

        self.placeholder = placeholder_label()
        self.stack = QStackedLayout(self)
        self.stack.setContentsMargins(0, 0, 0, 0)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.plot_widget)
        settings.changed.connect(self.refresh)
        self.plot_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.show_message(EMPTY_MESSAGE, EMPTY_HINT)

    # --- contract -------------------------------------------------------------------
    def set_result(self, result: SurfaceResult | None) -> None:
        """Show a new line result: curves, legend, checkpoint markers, range fitted."""
        self.result = result if result is not None and result.is_line else None
        for m in self.markers:
            self.plot.removeItem(m)
        self.markers = []
        self.legend.clear()
        self._make_curves(() if self.result is None else
                          paths1d.shown_quantities(self.result))
        if self.result is None:
            self.show_message(EMPTY_MESSAGE, EMPTY_HINT)
            return
        self._message = ""
        self.stack.setCurrentWidget(self.plot_widget)
        self._label_curves()
        method = self.result.recipe.directions.method if self.result.recipe else None
        self.plot.setLabel("bottom", "t (along the curve)" if method == "curve" else "α")
        names = checkpoint_names(self.result)
        if names is not None:
            for pos, name, height in zip((0.0, 1.0), names, (0.94, 0.8), strict=True):
                line = pg.InfiniteLine(
                    pos=pos,
                    angle=90,
                    pen=pg.mkPen(90, 90, 90, width=1, style=Qt.PenStyle.DashLine),
                    label=name,
                    labelOpts={
                        "position": height,  # two heights: long names never collide
                        "color": (50, 50, 50),
                        "fill": (255, 255, 255, 200),
                    },
                )
                self.plot.addItem(line, ignoreBounds=True)
                self.markers.append(line)
        self.plot.setXRange(float(self.result.x[0]), float(self.result.x[-1]), padding=0.02)
        self.refresh()

    def _make_curves(self, names) -> None:
        """Curves for ``names``: accuracies on the right axis, the rest on the left; a band
        for each that has a spread over direction seeds."""
        for q, c in self.curves.items():
            (self.acc_box if is_accuracy(q) else self.plot).removeItem(c)
        for band in self.bands.values():
            band.remove()
        self.curves, self.bands = {}, {}
        values = self.result.values if self.result is not None else {}
        for k, q in enumerate(names):
            curve = pg.PlotDataItem(pen=_pen(q, k), connect="finite")
            box = self.acc_box if is_accuracy(q) else self.plot
            if q + paths1d.SPREAD in values:
                self.bands[q] = paths1d.Band(box, _pen(q, k).color().getRgb()[:3])
            box.addItem(curve)
            self.curves[q] = curve

    def _label_curves(self) -> None:
        """The legend: each curve's label (a path's with its barrier once complete)."""
        self.legend.clear()
        barriers = paths1d.barriers_of(self.result)
        for q, c in self.curves.items():
            self.legend.addItem(c, paths1d.legend_label(self.result, q, barriers))
        self._legend_complete = self.result.complete
        self.fit_legend()

    def refresh(self) -> None:
        """The same result got more points (or the settings changed): redraw the curves."""
        r = self.result
        if r is None:
            return
        log = self.settings.log_scale
        self.plot.setLogMode(x=False, y=log)
        self._keep_accuracy_linear()
        bad = non_finite_mask(r)
        for q, c in self.curves.items():
            if q not in r.values:
                c.setData([], [])
                continue
            v = np.asarray(r.values[q], dtype=float)
            if is_accuracy(q):
                loss = matching_loss(q, r.values)
                if loss is not None:  # chance accuracy at a diverged point is no reading
                    v = np.where(np.isfinite(r.values[loss]), v, np.nan)
            else:
                # the log axis takes raw values; only clip here (log10 is pyqtgraph's job)
                v = display_values(v, False, self.settings.clip_max)
                if log:
                    v = np.where(v > 0, v, np.nan) if log_shown(q, self.settings) else v
            c.setData(r.x, v, connect="finite")
            band = self.bands.get(q)
            if band is not None:
                band.set(r.x, v, np.asarray(r.values[q + paths1d.SPREAD], float))
        if r.complete and not getattr(self, "_legend_complete", True):
            self._label_curves()  # the barriers, now that the path is whole
        self._counts = counts = point_counts(np.where(bad, np.nan, 0.0), r.done, r)
        self._draw_non_finite(bad)
        banner = counts.banner("not drawn (gaps)")
        set_banner(self.plot, banner)
        preparing = counts.state == "preparing"
        self.note.setVisible(preparing)
        if preparing:
            self.note.setHtml(NOTE_HTML.format(PREPARING_MESSAGE))
            self.note.setPos(float(r.x[len(r.x) // 2]), 0.5)
        self.plot.enableAutoRange(axis="y")
        self.acc_box.enableAutoRange(axis="y")
        self._fit_plot()
        self.countsChanged.emit(counts)

    def _fit_plot(self) -> None:
        """The plot as wide as its widget again. A longer banner or legend while points
        arrive widens the plot past the widget (to its minimum size); the view only puts the
        plot back to its own size when the view itself is resized, so the right axis (the
        accuracy) stayed cut off once the banner shortened."""
        self.plot.layout.activate()
        view = self.plot_widget
        rect = QRectF(0, 0, view.width(), view.height())
        if self.plot.geometry() != rect:
            self.plot.setGeometry(rect)

    def grab_image(self, width: int, height: int, transparent: bool = False) -> QImage:
        """The plot as an image of exactly width×height pixels."""
        return render_plot_image(self.plot_widget, self.plot, width, height, transparent)


    def show_message(self, text: str, hint: str = "") -> None:
        """No line: a placeholder with ``text`` instead of empty axes."""
        if self.result is not None:
            self.result = None
            self._make_curves(())
            self.legend.clear()
        self._counts = None
        self._message = text
        self._draw_non_finite(np.zeros(0, dtype=bool))
        set_placeholder(self.placeholder, text, hint)
        self.stack.setCurrentWidget(self.placeholder)
        self.countsChanged.emit(None)

    # --- cursor read-out ----------------------------------------------------------------
    def describe_point(self, px: float) -> str:
        """'α = 0.2: train loss = 0.53, …, train accuracy = 87.1 %' at the point nearest px."""
        r = self.result
        i = int(np.abs(r.x - px).argmin())
        head = f"α = {r.x[i]:.4g}"
        if not r.done[i]:
            return f"{head}: not computed yet"
        point = np.zeros(r.done.shape, dtype=bool)
        point[i] = True
        why = explain(r, point).at(i)
        parts = []
        for q in r.quantities:
            v = float(r.values[q][i])
            unit = f" {quantity(q).unit}" if quantity(q).unit else ""
            loss = matching_loss(q, r.values) if is_accuracy(q) else None
            if loss is not None and not np.isfinite(r.values[loss][i]):
                shown = f"— ({why})"
            elif np.isfinite(v):
                shown = f"{v:.4g}{unit}"
            else:
                shown = f"{v} ({why})"
            parts.append(f"{quantity(q).label} = {shown}")
        return f"{head}: " + ", ".join(parts)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.result is None or not self.plot.vb.sceneBoundingRect().contains(scene_pos):
            self.hover_line.hide()
            return
        x = self.plot.vb.mapSceneToView(scene_pos).x()
        i = int(np.abs(self.result.x - x).argmin())
        self.hover_line.setValue(float(self.result.x[i]))
        self.hover_line.show()
        self._cursor = (x,)
        self.cursorInfo.emit(self.describe_point(x))

    # --- drawing ------------------------------------------------------------------------
    def _draw_non_finite(self, bad: np.ndarray) -> None:
        for region in self.non_finite_regions:
            self.plot.removeItem(region)
        self.non_finite_regions = []
        if self.legend.getLabel(self.non_finite_sample) is not None:
            self.legend.removeItem(self.non_finite_sample)
        if self.result is None or not bad.any():
            return
        x = self.result.x
        dx = float(x[1] - x[0]) if len(x) > 1 else 1.0
        for a, b in runs(bad):
            region = pg.LinearRegionItem(
                values=(float(x[a]) - dx / 2, float(x[b]) + dx / 2),
                movable=False,
                brush=pg.mkBrush(*NON_FINITE_BRUSH),
                pen=pg.mkPen(None),
            )
            region.setZValue(-10)
            self.plot.addItem(region, ignoreBounds=True)
            self.non_finite_regions.append(region)
        # the cause in short (the banner says where); pyqtgraph reads labels as HTML
        why = explain(self.result, bad).short()
        self.legend.addItem(self.non_finite_sample, html.escape(f"non-finite: {why}"))
        self.fit_legend()

    def fit_legend(self, *_args: object) -> None:
        """As many legend columns as fit under the plot (the rest wrap to more rows)."""
        # preferred widths: a laid-out label is stretched to its column
        entries = [
            sample.preferredWidth() + label.preferredWidth() for sample, label in self.legend.items
        ]
        if not entries:
            return
        # the row spans the plot box, about; never more than the widget leaves beside the
        # axes (a legend too wide for it widens the plot past the widget, and then the box
        # it is measured against too: the right axis ends up cut off)
        axes = sum(self.plot.getAxis(a).width() for a in ("left", "right")
                   if self.plot.getAxis(a).isVisible())
        room = max(min(self.plot.vb.width() + 40, self.plot_widget.width() - axes - 8), 1.0)
        cols = 1
        for n in range(min(len(entries), LEGEND_COLUMNS), 1, -1):
            # filled row by row: column c holds entries c, c + n, ...; each as wide as its widest
            if sum(max(entries[c::n]) + 12 for c in range(n)) <= room:
                cols = n
                break
        if cols != self.legend.columnCount:
            self.legend.setColumnCount(cols)
        self.legend.updateGeometry()
        self.plot.layout.activate()  # the legend sizes itself at (0, 0): lay out its row now
        self._fit_plot()

    def _keep_accuracy_linear(self, *_args: object) -> None:
        self.plot.getAxis("right").setLogMode(False, False)

    def _sync_boxes(self) -> None:
        self.acc_box.setGeometry(self.plot.vb.sceneBoundingRect())
        self.acc_box.linkedViewChanged(self.plot.vb, self.acc_box.XAxis)
