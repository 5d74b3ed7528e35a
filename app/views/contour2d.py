"""The 2-D view: heatmap, isolines, colour bar, trajectory, rectangle zoom, cursor read-out.

A partial result is drawn as partial: cells not computed yet are interpolated under a pale
veil, computed points are dotted, computed points whose value is not finite are grey with a
cross, and the title says how much is done and why points are not finite. With no result a
placeholder says what to do.
"""

from __future__ import annotations

import contourpy
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

from lossviz_core.results.nonfinite import explain
from lossviz_core.results.quantities import is_loss
from lossviz_core.results.result import SurfaceResult, contour_levels

from .colormaps import (
    axis_short_name,
    color_range,
    colormap_name,
    fill_missing,
    get_colormap,
    log_shown,
    quantity_label,
    quantity_scale,
    resolve_quantity,
    shown_grid,
)
from .coverage import (
    EMPTY_HINT,
    EMPTY_MESSAGE,
    PREPARING_MESSAGE,
    PlotStateMixin,
    PointCounts,
    point_counts,
)
from .display import DisplaySettings, render_plot_image, set_banner
from .traj2d import TrajectoryLayer
from .trajectory import describe_checkpoint

_MIN_DRAG_PIXELS = 5  # a shorter drag is a click, not a zoom
VEIL_RGBA = (255, 255, 255, 150)  # over cells not computed yet (interpolated preview)
NON_FINITE_RGBA = (150, 150, 150, 255)  # computed cells whose value diverged
NOTE_HTML = "<span style='font-size:13pt; font-weight:600; color:#5a5a5a'>{}</span>"


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


def veil_image(done: np.ndarray, z: np.ndarray) -> np.ndarray:
    """RGBA (ny, nx, 4) drawn over the heatmap: pale where not computed yet, grey where a
    computed value is not finite, clear elsewhere."""
    veil = np.zeros((*done.shape, 4), dtype=np.uint8)
    veil[~done] = VEIL_RGBA
    veil[done & ~np.isfinite(z)] = NON_FINITE_RGBA
    return veil


def placeholder_label() -> QLabel:
    label = QLabel()
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("QLabel { background: white; color: #5a5a5a; }")
    label.setMinimumSize(1, 1)
    return label


def set_placeholder(label: QLabel, text: str, hint: str) -> None:
    small = f"<br><span style='font-size:10pt; color:#888'>{hint}</span>" if hint else ""
    label.setText(f"<span style='font-size:14pt; font-weight:600'>{text}</span>{small}")


class ContourView2D(PlotStateMixin, QWidget):
    """Heatmap + isolines of one quantity over the (α, β) plane, with the PCA trajectory.

    Signals: ``zoomRequested(xmin, xmax, ymin, ymax)``; ``cursorInfo(str)`` (grid point or
    trajectory checkpoint under the mouse); ``trajectoryHovered(index, text)`` (-1: none);
    ``countsChanged(PointCounts | None)``.
    """

    zoomRequested = Signal(float, float, float, float)  # xmin, xmax, ymin, ymax
    cursorInfo = Signal(str)
    trajectoryHovered = Signal(int, str)
    countsChanged = Signal(object)

    def __init__(self, settings: DisplaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.result: SurfaceResult | None = None
        self._fixed_range: tuple[float, float] | None = None
        self._counts: PointCounts | None = None
        self._message = ""
        self.levels_shown: np.ndarray = np.empty(0)
        self._rect = QRectF(0, 0, 1, 1)

        self.viewbox = ZoomViewBox()
        self.plot_widget = pg.PlotWidget(viewBox=self.viewbox)
        self.plot_widget.setMinimumSize(1, 1)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=False, y=False)
        for side in ("top", "right"):
            self.plot.showAxis(side)
            self.plot.getAxis(side).setStyle(showValues=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.veil = pg.ImageItem(axisOrder="row-major")
        self.isolines = pg.PlotCurveItem(
            connect="finite", pen=pg.mkPen(255, 255, 255, 150, width=1)
        )
        self.computed_marks = pg.ScatterPlotItem(
            size=3, pen=None, brush=pg.mkBrush(20, 20, 20, 170), pxMode=True
        )
        self.non_finite_marks = pg.ScatterPlotItem(
            symbol="x", size=9, pen=None, brush=pg.mkBrush(60, 60, 60, 230), pxMode=True
        )
        for z, item in enumerate(
            (self.image, self.veil, self.isolines, self.computed_marks, self.non_finite_marks)
        ):
            item.setZValue(z)
            self.plot.addItem(item)
        self.traj = TrajectoryLayer(self.plot, z=6)
        self.trajectory = self.traj.path
        self.note = pg.TextItem(color=(90, 90, 90), anchor=(0.5, 0.5))
        self.note.setZValue(20)
        self.plot.addItem(self.note, ignoreBounds=True)
        self.colorbar = pg.ColorBarItem(
            values=(0, 1), colorMap=get_colormap("viridis"), interactive=False, width=14
        )
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        for axis in (self.colorbar.axis, *(self.plot.getAxis(a) for a in ("left", "bottom"))):
            axis.enableAutoSIPrefix(False)  # "0.4", not "400 (x0.001)"
        self.colorbar.axis.setWidth(None)  # fit the tick text and the label (pyqtgraph fixes 45 px)

        self.placeholder = placeholder_label()
        self.stack = QStackedLayout(self)
        self.stack.setContentsMargins(0, 0, 0, 0)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.plot_widget)

        self._iso_timer = QTimer(self, singleShot=True, interval=250)
        self._iso_timer.timeout.connect(self._update_isolines)
        self.viewbox.rectSelected.connect(self.zoomRequested)
        self.plot_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        settings.changed.connect(self._on_settings_changed)
        self.show_message(EMPTY_MESSAGE, EMPTY_HINT)

    # --- contract -------------------------------------------------------------------
    def set_result(self, result: SurfaceResult | None) -> None:
        """Show a new result (new grid or ranges): full redraw, view fitted to the grid."""
        self.result = result if result is not None and not result.is_line else None
        self.traj.clear()
        if self.result is None:
            self.show_message(EMPTY_MESSAGE, EMPTY_HINT)
            return
        self._message = ""
        self.stack.setCurrentWidget(self.plot_widget)
        r = self.result
        self._rect = grid_rect(r.x, r.y)
        xl, yl = r.axis_labels()
        self.plot.setLabel("bottom", xl)
        self.plot.setLabel("left", yl)
        self.traj.set(r.trajectory)
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


    def show_message(self, text: str, hint: str = "") -> None:
        """No landscape: a placeholder with ``text`` instead of empty axes."""
        self.result = None
        self._counts = None
        self._message = text
        self.traj.clear()
        self.image.clear()
        self.veil.clear()
        self.isolines.setData([], [])
        set_placeholder(self.placeholder, text, hint)
        self.stack.setCurrentWidget(self.placeholder)
        self.countsChanged.emit(None)

    # --- extras used by the comparison view and the main window ---------------------
    def set_value_range(self, vrange: tuple[float, float] | None) -> None:
        """Fix the colour scale (display units), e.g. shared by two maps; None: automatic."""
        self._fixed_range = vrange
        if self.result is not None:
            self._update_image()
            self._update_isolines()

    def colour_range(self) -> tuple[float, float]:
        """The colour bar's (vmin, vmax) in shown units (log10 with log scale)."""
        if self.result is None:
            return 0.0, 1.0
        return self._value_range(self.display_grid())

    def display_grid(self) -> np.ndarray | None:
        """The shown quantity after clip/log, NaN where missing, shape (ny, nx)."""
        return shown_grid(self.result, self.settings)

    @property
    def epoch_labels(self) -> list[pg.TextItem]:
        """One label per checkpoint; those that would overlap are hidden."""
        return self.traj.labels

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
        if self._fixed_range is not None:
            return self._fixed_range
        q = resolve_quantity(self.result, self.settings)
        return color_range(z, colormap_name(self.settings, q), quantity_scale(self.settings, q))

    def _update_image(self) -> None:
        r = self.result
        q = resolve_quantity(r, self.settings)
        self._counts = counts = point_counts(r.values[q], r.done, r)
        preparing = counts.state == "preparing"
        z = self.display_grid()
        self.colorbar.setColorMap(get_colormap(colormap_name(self.settings, q)))
        self.colorbar.setVisible(not preparing)
        set_banner(self.plot, counts.banner("interpolated (pale)"))
        self.note.setVisible(preparing)
        if preparing:  # no stand-in surface and no 0..1 colour bar: say what is happening
            self.image.clear()
            self.veil.clear()
            self.computed_marks.setData([], [])
            self.non_finite_marks.setData([], [])
            self.note.setHtml(NOTE_HTML.format(PREPARING_MESSAGE))
            self.note.setPos(self._rect.center())
            self.countsChanged.emit(counts)
            return
        filled, _ = fill_missing(z, r.done)
        vmin, vmax = self._value_range(z)
        self.image.setImage(filled, autoLevels=False, rect=self._rect)
        self.colorbar.setLevels((vmin, vmax))
        self.colorbar.setLabel("right", quantity_label(q, log_shown(q, self.settings)))
        self.veil.setImage(veil_image(r.done, z), levels=(0, 255), rect=self._rect)
        jj, ii = np.nonzero(r.done & np.isfinite(z))
        partial = counts.state == "partial"
        self.computed_marks.setData(r.x[ii] if partial else [], r.y[jj] if partial else [])
        jj, ii = np.nonzero(r.done & ~np.isfinite(z))
        self.non_finite_marks.setData(r.x[ii], r.y[jj])
        self.countsChanged.emit(counts)

    def _update_isolines(self) -> None:
        self._iso_timer.stop()
        if self.result is None or self._counts is None or self._counts.state == "preparing":
            self.isolines.setData([], [])
            return
        z = self.display_grid()
        filled, _ = fill_missing(z, self.result.done)
        vmin, vmax = self._value_range(z)
        n = self.settings.levels
        q = resolve_quantity(self.result, self.settings)
        geometric = is_loss(q) and not log_shown(q, self.settings)
        self.levels_shown = contour_levels(vmin, vmax, n + 2, geometric)[1:-1]
        xs, ys = isoline_points(self.result.x, self.result.y, filled, self.levels_shown)
        self.isolines.setData(xs, ys, connect="finite")

    # --- reactions ------------------------------------------------------------------
    def _on_settings_changed(self) -> None:
        if self.result is not None:
            self._update_image()
            self._update_isolines()

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.result is None or not self.viewbox.sceneBoundingRect().contains(scene_pos):
            return
        k = self.traj.point_at(scene_pos)
        if k is not None:
            self._cursor = None
            text = describe_checkpoint(self.result.trajectory, k)
            if k != self.traj.hovered:
                self.traj.show_hover(k)
                self.trajectoryHovered.emit(k, text)
            self.cursorInfo.emit(text)
            return
        if self.traj.hovered >= 0:
            self.traj.show_hover(-1)
            self.trajectoryHovered.emit(-1, "")
        p = self.viewbox.mapSceneToView(scene_pos)
        self._cursor = (p.x(), p.y())
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
            shown = "not computed yet (interpolated)"
        elif np.isfinite(v):
            shown = f"{v:.4g}"
        else:
            point = np.zeros(r.done.shape, dtype=bool)
            point[j, i] = True
            shown = f"{v} ({explain(r, point).at((j, i))})"
        return f"{text}, {quantity_label(q)} = {shown}"
