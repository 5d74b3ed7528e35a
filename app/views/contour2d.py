"""The 2-D view: heatmap, isolines, colour bar, trajectory, rectangle zoom, cursor read-out."""

from __future__ import annotations

import contourpy
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QVBoxLayout, QWidget

from lossviz_core.results.quantities import is_loss
from lossviz_core.results.result import SurfaceResult, contour_levels

from .colormaps import (
    axis_short_name,
    fill_missing,
    get_colormap,
    quantity_label,
    resolve_quantity,
    shown_grid,
    value_range,
)
from .display import DisplaySettings, export_plot_vector, render_plot_image

MAX_EPOCH_LABELS = 12  # more labels than this hide the landscape under text
_MIN_DRAG_PIXELS = 5  # a shorter drag is a click, not a zoom
_TRAJ_COLOR = (215, 38, 45)


class ZoomViewBox(pg.ViewBox):
    """A ViewBox where left-drag draws a rubber band and reports its rectangle.

    The view itself does not zoom (the main window recomputes a finer grid there); the
    wheel still zooms, right-drag scales, shift+left-drag and middle-drag pan.
    """

    rectSelected = Signal(float, float, float, float)  # xmin, xmax, ymin, ymax

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        band = pg.QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        band.setPen(pg.mkPen((20, 90, 200), width=1.5, style=Qt.PenStyle.DashLine, cosmetic=True))
        band.setBrush(pg.mkBrush(40, 120, 230, 45))
        band.hide()
        self.rbScaleBox = band

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 (Qt naming)
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if axis is not None or ev.button() != Qt.MouseButton.LeftButton or shift:
            super().mouseDragEvent(ev, axis)  # pan / scale as pyqtgraph does
            return
        ev.accept()
        start, end = ev.buttonDownPos(ev.button()), ev.pos()
        if not ev.isFinish():
            self.updateScaleBox(start, end)
            return
        self.rbScaleBox.hide()
        self.select_rect(start, end)

    def select_rect(self, start: QPointF, end: QPointF) -> None:
        """Emit ``rectSelected`` for a drag from ``start`` to ``end`` (item coordinates)."""
        if (
            abs(end.x() - start.x()) < _MIN_DRAG_PIXELS
            or abs(end.y() - start.y()) < _MIN_DRAG_PIXELS
        ):
            return
        a, b = self.mapToView(start), self.mapToView(end)
        self.rectSelected.emit(
            min(a.x(), b.x()), max(a.x(), b.x()), min(a.y(), b.y()), max(a.y(), b.y())
        )


def grid_rect(x: np.ndarray, y: np.ndarray) -> QRectF:
    """The image rectangle that puts pixel centres on the grid coordinates."""
    dx = (x[-1] - x[0]) / (len(x) - 1) if len(x) > 1 else 1.0
    dy = (y[-1] - y[0]) / (len(y) - 1) if len(y) > 1 else 1.0
    return QRectF(x[0] - dx / 2, y[0] - dy / 2, dx * len(x), dy * len(y))


def isoline_points(x, y, z, levels) -> tuple[np.ndarray, np.ndarray]:
    """All isolines of z at ``levels`` as one NaN-separated polyline (x, y)."""
    if len(x) < 2 or len(y) < 2 or len(levels) == 0:
        return np.empty(0), np.empty(0)
    gen = contourpy.contour_generator(x, y, z, line_type=contourpy.LineType.ChunkCombinedNan)
    parts = []
    for level in levels:
        for chunk in gen.lines(float(level))[0]:
            if chunk is not None and len(chunk):
                parts.append(chunk)
                parts.append(np.full((1, 2), np.nan))
    if not parts:
        return np.empty(0), np.empty(0)
    pts = np.concatenate(parts)
    return pts[:, 0], pts[:, 1]


class ContourView2D(QWidget):
    """Heatmap + isolines of one quantity over the (α, β) plane, with the PCA trajectory."""

    zoomRequested = Signal(float, float, float, float)  # xmin, xmax, ymin, ymax
    cursorInfo = Signal(str)

    def __init__(self, settings: DisplaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.result: SurfaceResult | None = None
        self._fixed_range: tuple[float, float] | None = None
        self.levels_shown: np.ndarray = np.empty(0)
        self._rect = QRectF(0, 0, 1, 1)

        self.viewbox = ZoomViewBox()
        self.plot_widget = pg.PlotWidget(viewBox=self.viewbox)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=False, y=False)
        for side in ("top", "right"):
            self.plot.showAxis(side)
            self.plot.getAxis(side).setStyle(showValues=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.isolines = pg.PlotCurveItem(
            connect="finite", pen=pg.mkPen(255, 255, 255, 150, width=1)
        )
        self.trajectory = pg.PlotDataItem(
            pen=pg.mkPen(_TRAJ_COLOR, width=2),
            symbol="o",
            symbolSize=6,
            symbolPen=pg.mkPen(_TRAJ_COLOR),
            symbolBrush=pg.mkBrush(255, 255, 255),
        )
        self.epoch_labels: list[pg.TextItem] = []
        for z, item in enumerate((self.image, self.isolines, self.trajectory)):
            item.setZValue(z)
            self.plot.addItem(item)
        self.colorbar = pg.ColorBarItem(
            values=(0, 1), colorMap=get_colormap(settings.colormap), interactive=False, width=14
        )
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        for axis in (self.colorbar.axis, *(self.plot.getAxis(a) for a in ("left", "bottom"))):
            axis.enableAutoSIPrefix(False)  # "0.4", not "400 (x0.001)"
        self.colorbar.axis.setWidth(None)  # fit the tick text and the label (pyqtgraph fixes 45 px)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)

        self._iso_timer = QTimer(self, singleShot=True, interval=250)
        self._iso_timer.timeout.connect(self._update_isolines)
        self.viewbox.rectSelected.connect(self.zoomRequested)
        self.plot_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        settings.changed.connect(self._on_settings_changed)

    # --- contract -------------------------------------------------------------------
    def set_result(self, result: SurfaceResult | None) -> None:
        """Show a new result (new grid or ranges): full redraw, view fitted to the grid."""
        self.result = result if result is not None and not result.is_line else None
        self._clear_trajectory()
        if self.result is None:
            self.image.clear()
            self.isolines.setData([], [])
            return
        r = self.result
        self._rect = grid_rect(r.x, r.y)
        xl, yl = r.axis_labels()
        self.plot.setLabel("bottom", xl)
        self.plot.setLabel("left", yl)
        self._draw_trajectory()
        self._update_image()
        self._update_isolines()
        self.fit_view()

    def refresh(self) -> None:
        """The same result got more points: recolour now, isolines a moment later."""
        if self.result is None:
            return
        self._update_image()
        if not self._iso_timer.isActive():
            self._iso_timer.start()

    def grab_image(self, width: int, height: int, transparent: bool = False) -> QImage:
        """The plot with colour bar and labels as an image of exactly width×height pixels."""
        return render_plot_image(self.plot_widget, self.plot, width, height, transparent)

    def export_vector(self, path: str) -> None:
        """Write the plot as .svg or .pdf (heatmap embedded as an image, lines as paths)."""
        export_plot_vector(self.plot_widget, self.plot, path)

    # --- extras used by the comparison view and the main window ---------------------
    def set_value_range(self, vrange: tuple[float, float] | None) -> None:
        """Fix the colour scale (display units), e.g. shared by two maps; None: automatic."""
        self._fixed_range = vrange
        if self.result is not None:
            self._update_image()
            self._update_isolines()

    def display_grid(self) -> np.ndarray | None:
        """The shown quantity after clip/log, NaN where missing, shape (ny, nx)."""
        return shown_grid(self.result, self.settings)

    def fit_view(self) -> None:
        """Show the whole grid and the trajectory."""
        if self.result is None:
            return
        rect = grid_rect(self.result.x, self.result.y)
        t = self.result.trajectory
        if t is not None and len(t.x):
            xs = np.r_[rect.left(), rect.right(), t.x]
            ys = np.r_[rect.top(), rect.bottom(), t.y]
            rect = QRectF(
                QPointF(np.nanmin(xs), np.nanmin(ys)), QPointF(np.nanmax(xs), np.nanmax(ys))
            )
        # α and β are in the same units (multiples of d₁, d₂): draw them to scale, as the
        # paper's contour plots, unless one span dwarfs the other (a PCA plane, a thin zoom).
        ratio = rect.width() / rect.height() if rect.height() > 0 else 0.0
        self.viewbox.setAspectLocked(1 / 3 <= ratio <= 3, ratio=1.0)
        self.viewbox.setRange(rect=rect, padding=0.02)

    # --- drawing --------------------------------------------------------------------
    def _value_range(self, z: np.ndarray) -> tuple[float, float]:
        return self._fixed_range if self._fixed_range is not None else value_range(z)

    def _update_image(self) -> None:
        z = self.display_grid()
        filled, _ = fill_missing(z, self.result.done)
        vmin, vmax = self._value_range(z)
        self.image.setImage(filled, autoLevels=False, rect=self._rect)
        self.colorbar.setLevels((vmin, vmax))
        q = resolve_quantity(self.result, self.settings)
        self.colorbar.setLabel("right", quantity_label(q, self.settings.log_scale))

    def _update_isolines(self) -> None:
        self._iso_timer.stop()
        if self.result is None:
            return
        z = self.display_grid()
        filled, _ = fill_missing(z, self.result.done)
        vmin, vmax = self._value_range(z)
        n = self.settings.levels
        q = resolve_quantity(self.result, self.settings)
        geometric = is_loss(q) and not self.settings.log_scale
        self.levels_shown = contour_levels(vmin, vmax, n + 2, geometric)[1:-1]
        xs, ys = isoline_points(self.result.x, self.result.y, filled, self.levels_shown)
        self.isolines.setData(xs, ys, connect="finite")

    def _clear_trajectory(self) -> None:
        self.trajectory.setData([], [])
        for label in self.epoch_labels:
            self.plot.removeItem(label)
        self.epoch_labels = []

    def _draw_trajectory(self) -> None:
        t = self.result.trajectory if self.result is not None else None
        if t is None or len(t.x) == 0:
            return
        self.trajectory.setData(np.asarray(t.x, float), np.asarray(t.y, float))
        n = len(t.x)
        shown = np.unique(np.linspace(0, n - 1, min(n, MAX_EPOCH_LABELS)).round().astype(int))
        for k in shown:
            label = pg.TextItem(str(int(t.epochs[k])), color=_TRAJ_COLOR, anchor=(-0.15, 1.0))
            label.setPos(float(t.x[k]), float(t.y[k]))
            label.setZValue(5)
            self.plot.addItem(label)
            self.epoch_labels.append(label)

    # --- reactions ------------------------------------------------------------------
    def _on_settings_changed(self) -> None:
        self.colorbar.setColorMap(get_colormap(self.settings.colormap))
        if self.result is not None:
            self._update_image()
            self._update_isolines()

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.result is None or not self.viewbox.sceneBoundingRect().contains(scene_pos):
            return
        p = self.viewbox.mapSceneToView(scene_pos)
        self.cursorInfo.emit(self.describe_point(p.x(), p.y()))

    def describe_point(self, px: float, py: float) -> str:
        """'α = 0.12, β = -0.40, train loss = 0.532' for the grid point nearest (px, py)."""
        r = self.result
        xl, yl = (axis_short_name(s) for s in r.axis_labels())
        text = f"{xl} = {px:.3g}, {yl} = {py:.3g}"
        rect = grid_rect(r.x, r.y)
        if not rect.contains(QPointF(px, py)):
            return text
        i = int(np.clip(np.abs(r.x - px).argmin(), 0, len(r.x) - 1))
        j = int(np.clip(np.abs(r.y - py).argmin(), 0, len(r.y) - 1))
        q = resolve_quantity(r, self.settings)
        v = r.values[q][j, i]
        if not r.done[j, i]:
            shown = "not computed yet"
        else:
            shown = f"{v:.4g}" if np.isfinite(v) else f"{v} (diverged)"
        return f"{text}, {quantity_label(q)} = {shown}"
