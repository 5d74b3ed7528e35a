"""The 3-D view: an OpenGL surface in a normalized box, with axes, trajectory, colour bar.

The grid (ny, nx) is transposed once here, because GLSurfacePlotItem wants z[x, y]. x and
y are mapped into a box of half-width ≤ 1 and the shown values into a height
``BOX_HEIGHT × z_scale``, so a loss range of 0..10 and one of 0..0.01 look alike; the
axes' tick labels give the real numbers back. The colour bar has its own strip to the
right of the GL scene, so a zoomed surface never runs under it.

The camera is fitted to each landscape (the box and its labels fill the view); a new
result of another grid or recipe refits it, a refresh keeps it, and Home, a double-click
or ``reset_camera()`` bring the fitted camera back after the user rotated or zoomed.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QMatrix4x4, QPainter, QVector3D
from PySide6.QtWidgets import QHBoxLayout, QToolButton, QWidget

from lossviz_core.errors import InputError
from lossviz_core.results.result import SurfaceResult

from .camera3d import FittedCamera
from .colorbar import BAR_WIDTH, ColorBarWidget, paint_colorbar
from .colormaps import (
    bilinear,
    color_range,
    colormap_name,
    colors_for,
    fill_missing,
    get_colormap,
    log_shown,
    nice_ticks,
    quantity_label,
    quantity_scale,
    resolve_quantity,
    shown_grid,
)
from .coverage import EMPTY_HINT, EMPTY_MESSAGE, PREPARING_MESSAGE, PointCounts, point_counts
from .display import DisplaySettings, validate_size
from .gl3d import LinkableGLView, Overlay3D, box_lines, render_offscreen
from .trajectory import checkpoint_lines, describe_checkpoint, nearest_point

BOX_HEIGHT = 1.1  # surface height in box units at z_scale 1 (the box is ~2 wide)
MIN_HALF_WIDTH = 0.35  # a very narrow range still gets a visible side
_TRAJ_RGBA = (0.84, 0.15, 0.18, 1.0)
_ON_TOP = {
    GL.GL_DEPTH_TEST: False,
    GL.GL_BLEND: True,
    GL.GL_CULL_FACE: False,
    "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA),
}
_DIVERGED_RGBA = np.array([0.6, 0.6, 0.6, 1.0], dtype=np.float32)
_PALE = 0.6  # points not computed yet: this much white over their interpolated colour


class SurfaceView3D(QWidget):
    """The landscape as a coloured 3-D surface with mouse rotate (drag) and zoom (wheel).

    Signals: ``cursorInfo(str)`` and ``trajectoryHovered(index, text)`` (index -1: none) when
    the mouse is over a trajectory checkpoint; ``countsChanged(PointCounts | None)``.
    """

    cursorInfo = Signal(str)
    trajectoryHovered = Signal(int, str)
    countsChanged = Signal(object)

    def __init__(self, settings: DisplaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.result: SurfaceResult | None = None
        self._fixed_range: tuple[float, float] | None = None
        self._hovered = -1
        self._counts: PointCounts | None = None
        self._z_scale = settings.z_scale
        self.half = (1.0, 1.0)  # box half-widths along x and y
        self.vrange = (0.0, 1.0)  # display values mapped to the box floor and top
        self._traj_pos = np.zeros((0, 3))
        self._bar_wanted = True
        self._titles: tuple[str, ...] = ()  # the axis titles the camera was fitted with

        self.gl = LinkableGLView()
        self.gl.setBackgroundColor("w")
        self.surface = gl.GLSurfacePlotItem(
            smooth=False, computeNormals=False, shader=None, glOptions="opaque"
        )
        self.box = gl.GLLinePlotItem(
            mode="lines",
            color=(0.3, 0.3, 0.3, 1.0),
            width=1,
            antialias=True,
            glOptions="translucent",
        )
        self.computed_points = gl.GLScatterPlotItem(
            color=(0.1, 0.1, 0.1, 0.75), size=3.5, pxMode=True, glOptions="translucent"
        )
        self.traj_line = gl.GLLinePlotItem(
            color=_TRAJ_RGBA, width=2.5, antialias=True, glOptions=_ON_TOP
        )
        self.traj_points = gl.GLScatterPlotItem(
            color=(1, 1, 1, 1), size=7, pxMode=True, glOptions=_ON_TOP
        )
        self.overlay = Overlay3D()
        items = (self.box, self.surface, self.computed_points, self.traj_line, self.traj_points)
        for depth, item in enumerate(items):
            item.setDepthValue(depth)
            item.setVisible(False)
            self.gl.addItem(item)
        self.overlay.setDepthValue(100)  # painted last, over everything
        self.gl.addItem(self.overlay)
        self.colorbar = ColorBarWidget()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.gl, 1)
        layout.addWidget(self.colorbar)
        self.camera = FittedCamera(self.gl, self.overlay, self._box)
        # on the GL area (not in exported images, which render the scene alone)
        self.reset_button = QToolButton(self.gl)
        self.reset_button.setText("⟲ Reset view")
        self.reset_button.setAutoRaise(True)
        self.reset_button.setToolTip("Back to the fitted camera: the whole surface and its "
                                     "labels in view (also Home, or a double-click)")
        self.reset_button.setStyleSheet("QToolButton { background: rgba(255,255,255,200); "
                                        "border: 1px solid #bbb; border-radius: 3px; "
                                        "padding: 1px 4px; }")
        self.reset_button.move(4, 4)
        self.reset_button.clicked.connect(self.reset_camera)
        self.gl.resetRequested.connect(self.reset_camera)
        self.gl.hovered.connect(self._on_hover)
        self.gl.left.connect(lambda: self._set_hover(-1))
        settings.changed.connect(self._on_settings_changed)
        self.show_message(EMPTY_MESSAGE, EMPTY_HINT)

    # --- contract -------------------------------------------------------------------
    def set_result(self, result: SurfaceResult | None) -> None:
        """Show a new result (new grid or ranges): rebuild the box, axes and surface.

        The camera is refitted when the result is another landscape (grid or recipe)."""
        self.result = result if result is not None and not result.is_line else None
        if self.result is None:
            self.show_message(EMPTY_MESSAGE, EMPTY_HINT)
            return
        self.overlay.message = None
        r = self.result
        span_x = float(r.x[-1] - r.x[0]) or 1.0
        span_y = float(r.y[-1] - r.y[0]) or 1.0
        longest = max(span_x, span_y)
        self.half = (max(span_x / longest, MIN_HALF_WIDTH), max(span_y / longest, MIN_HALF_WIDTH))
        self.surface.setData(
            x=self.box_x(r.x), y=self.box_y(r.y), z=np.zeros((len(r.x), len(r.y)), dtype=np.float32)
        )
        self._set_hover(-1)
        self.refresh()
        self.camera.follow(r)

    def refresh(self) -> None:
        """The same result got more points: new heights and colours on the same mesh."""
        if self.result is None:
            return
        r = self.result
        q = resolve_quantity(r, self.settings)
        self._counts = counts = point_counts(r.values[q], r.done, r)
        z = self.display_grid()
        cmap_name = colormap_name(self.settings, q)
        preparing = counts.state == "preparing"
        self.vrange = self._fixed_range or color_range(z, cmap_name,
                                                       quantity_scale(self.settings, q))
        filled, _ = fill_missing(z, r.done)
        if preparing:
            self._draw_blank()
        else:
            self._draw_surface(filled, get_colormap(cmap_name))
        self.surface.setVisible(True)
        self.box.setVisible(not preparing)
        self._draw_trajectory(filled, shown=not preparing)
        self._draw_axes()
        self.overlay.message = (PREPARING_MESSAGE, "") if preparing else None
        self.overlay.banner = counts.banner("interpolated (pale)")
        self._place_reset_button()
        title = quantity_label(q, log_shown(q, self.settings))
        if preparing:
            self.colorbar.clear()
        else:
            self.colorbar.set_bar(get_colormap(cmap_name), self.vrange, title)
        self.gl.update()
        self.countsChanged.emit(counts)

    def grab_image(self, width: int, height: int, transparent: bool = False) -> QImage:
        """Render off-screen at exactly width×height pixels (any size, also above the window):
        the scene, its labels and, in its own strip on the right, the colour bar."""
        width, height = validate_size(width, height)
        if not self.gl.isValid():
            self.gl.grabFramebuffer()  # a view never shown (e.g. a hidden tab) initializes GL here
        if not self.gl.isValid():
            raise InputError(
                "the 3-D view cannot be rendered: OpenGL is not available in this window"
            )
        gl_w, bar_w, scale = self.export_layout(width, height)
        saved = self.gl.copy_camera(), self.gl.opts["bgcolor"]
        if transparent:
            self.gl.opts["bgcolor"] = (0.0, 0.0, 0.0, 0.0)
        self.overlay.setVisible(False)  # text is painted below with QPainter, at export scale
        try:
            self.camera.frame_export(gl_w, height, scale)
            mvp = self.gl.mvp_for(gl_w, height)
            scene = render_offscreen(self.gl, gl_w, height)
        finally:
            camera, self.gl.opts["bgcolor"] = saved
            self.gl.opts.update(camera)
            self.overlay.setVisible(True)
            self.gl.update()
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent if transparent else Qt.GlobalColor.white)
        painter = QPainter(image)
        painter.drawImage(0, 0, scene.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied))
        self.overlay.draw(painter, gl_w, height, mvp, scale)
        if bar_w:
            paint_colorbar(painter, QRectF(gl_w, 0, bar_w, height), *self.colorbar.bar, scale)
        painter.end()
        return image

    def show_message(self, text: str, hint: str = "") -> None:
        """No landscape: a centred message instead (``Preparing …`` before the grid exists,
        the empty state)."""
        self.result = None
        self._counts = None
        for item in (
            self.box,
            self.surface,
            self.computed_points,
            self.traj_line,
            self.traj_points,
        ):
            item.setVisible(False)
        self.overlay.clear()
        self.overlay.message = (text, hint)
        self.colorbar.clear()
        self._set_hover(-1)
        self.gl.update()
        self.countsChanged.emit(None)

    def state(self) -> str:
        """'empty', 'message' (show_message), 'preparing', 'partial' or 'complete'."""
        if self.result is None or self._counts is None:
            msg = self.overlay.message
            return "empty" if msg is None or msg[0] == EMPTY_MESSAGE else "message"
        return self._counts.state

    def message(self) -> str:
        """The message shown instead of a surface, '' when a surface is drawn."""
        return self.overlay.message[0] if self.overlay.message else ""

    def point_counts(self) -> PointCounts | None:
        """Computed / interpolated / non-finite points of the shown quantity (None: empty)."""
        return self._counts

    # --- extras used by the comparison view ----------------------------------------
    def set_value_range(self, vrange: tuple[float, float] | None) -> None:
        """Fix the colour and height scale (display units); None: automatic."""
        self._fixed_range = vrange
        self.refresh()

    def display_grid(self) -> np.ndarray | None:
        """The shown quantity after clip/log, NaN where missing, shape (ny, nx)."""
        return shown_grid(self.result, self.settings)

    def set_colorbar_visible(self, visible: bool) -> None:
        """Show or hide the colour bar strip (e.g. panes sharing one scale); exports follow."""
        self._bar_wanted = bool(visible)
        self.colorbar.setVisible(self._bar_wanted)

    # --- camera ---------------------------------------------------------------------
    def reset_camera(self) -> None:
        """Back to the fitted camera (also Home and a double-click in the view)."""
        self.camera.reset()

    def fitted_camera(
        self, width: int | None = None, height: int | None = None, scale: float = 1.0
    ) -> dict:
        """The camera that shows the whole box and its labels in a width×height picture
        (default: the GL area), seen from the front right as matplotlib's default."""
        return self.camera.params(width, height, scale)

    def camera_is_fitted(self) -> bool:
        """True until the user rotates, pans or zooms (then Home brings the fit back)."""
        return self.camera.fitted

    def mvp(self, width: int, height: int) -> QMatrix4x4:
        """Projection × view for an off-screen render of width×height."""
        return self.gl.mvp_for(width, height)

    def export_layout(self, width: int, height: int) -> tuple[int, int, float]:
        """(scene width, colour bar width, scale) of a width×height export: the bar takes
        the right strip; text and lines are scaled by the shorter side relative to the
        window, so a tall or wide export keeps labels in proportion to the surface."""
        scale = min(width / max(self.width(), 200), height / max(self.height(), 150))
        shown = self.colorbar.bar is not None and self._bar_wanted
        bar_w = min(round(BAR_WIDTH * scale), width // 3) if shown else 0
        return max(width - bar_w, 1), bar_w, scale

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(480, 360)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(160, 120)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.gl.update()  # repaint after a dialog or another tab covered the view

    # --- data → box coordinates -------------------------------------------------------
    def _box(self) -> tuple[float, float, float]:
        return (*self.half, BOX_HEIGHT * self.settings.z_scale)

    def box_x(self, x: np.ndarray) -> np.ndarray:
        r = self.result
        mid, half_span = (r.x[0] + r.x[-1]) / 2, (float(r.x[-1] - r.x[0]) or 1.0) / 2
        return ((np.asarray(x, float) - mid) / half_span * self.half[0]).astype(np.float32)

    def box_y(self, y: np.ndarray) -> np.ndarray:
        r = self.result
        mid, half_span = (r.y[0] + r.y[-1]) / 2, (float(r.y[-1] - r.y[0]) or 1.0) / 2
        return ((np.asarray(y, float) - mid) / half_span * self.half[1]).astype(np.float32)

    def box_z(self, v: np.ndarray) -> np.ndarray:
        vmin, vmax = self.vrange
        t = np.clip((np.asarray(v, float) - vmin) / (vmax - vmin), 0.0, 1.0)
        return t * BOX_HEIGHT * self.settings.z_scale

    # --- drawing ----------------------------------------------------------------------
    def _draw_blank(self) -> None:
        """No point yet: the flat mesh in the background colour, and no marks. Drawn, not
        hidden, so the surface's and the marks' shaders compile now, not at the first
        points (on llvmpipe that stalls the window ~50 ms while it should be computing)."""
        nx, ny = len(self.result.x), len(self.result.y)
        colors = np.empty((nx * ny, 4), dtype=np.float32)
        colors[:] = self.gl.opts["bgcolor"]
        self.surface.setData(z=np.zeros((nx, ny), dtype=np.float32), colors=colors)
        self.surface.lineplot.setVisible(False)
        self.computed_points.setData(pos=np.zeros((0, 3)))
        self.computed_points.setVisible(True)

    def _draw_surface(self, filled: np.ndarray, cmap) -> None:
        r = self.result
        vmin, vmax = self.vrange
        colors = colors_for(cmap, filled, vmin, vmax)
        pending = ~r.done  # not computed yet: interpolated, drawn pale
        colors[pending, :3] = (1 - _PALE) * colors[pending, :3] + _PALE
        # Computed points whose value diverged (NaN/inf): at the top of the box, in grey.
        diverged = ~np.isfinite(filled)
        colors[diverged] = _DIVERGED_RGBA
        heights = self.box_z(np.where(diverged, vmax, filled))
        self.surface.setData(
            z=heights.T.astype(np.float32), colors=colors.transpose(1, 0, 2).reshape(-1, 4)
        )
        wire = self.settings.wireframe
        self.surface.setData(showGrid=wire, lineColor=(0, 0, 0, 0.35), lineWidth=1)
        self.surface.lineplot.setVisible(wire)
        # while partial, mark what is measured, so the preview is not read as the result
        none = np.zeros(0, dtype=int)
        jj, ii = np.nonzero(r.done) if pending.any() else (none, none)
        lift = 0.006 * BOX_HEIGHT * self.settings.z_scale
        pos = np.column_stack([self.box_x(r.x[ii]), self.box_y(r.y[jj]), heights[jj, ii] + lift])
        self.computed_points.setData(pos=pos.reshape(-1, 3))
        self.computed_points.setVisible(True)

    def _draw_trajectory(self, filled: np.ndarray, shown: bool = True) -> None:
        t = self.result.trajectory
        show = shown and t is not None and len(t.x) > 0
        self.traj_line.setVisible(show and not t.labels)  # named models: no path between
        self.traj_points.setVisible(show)
        if not show:
            self._traj_pos = np.zeros((0, 3))
            return
        z = bilinear(
            self.result.x, self.result.y, np.nan_to_num(filled, nan=self.vrange[1]), t.x, t.y
        )
        lift = 0.01 * BOX_HEIGHT * self.settings.z_scale  # just above the surface
        pos = np.column_stack([self.box_x(t.x), self.box_y(t.y), self.box_z(z) + lift])
        self.traj_line.setData(pos=pos)
        self.traj_points.setData(pos=pos)
        self._traj_pos = pos

    def _draw_axes(self) -> None:
        r = self.result
        hx, hy = self.half
        top = BOX_HEIGHT * self.settings.z_scale
        vmin, vmax = self.vrange
        xt = nice_ticks(r.x[0], r.x[-1], 5)
        yt = nice_ticks(r.y[0], r.y[-1], 5)
        zt = nice_ticks(vmin, vmax, 4)
        self.box.setData(
            pos=box_lines(hx, hy, top, self.box_x(xt), self.box_y(yt), self.box_z(zt)), mode="lines"
        )
        q = resolve_quantity(r, self.settings)
        xl, yl = r.axis_labels()
        self._titles = (xl, yl, quantity_label(q, log_shown(q, self.settings)))
        t, pos = r.trajectory, self._traj_pos
        notes = []
        if t is not None and len(pos) and t.labels:  # the models a plane goes through
            notes = [(pos[k], t.point_label(k)) for k in range(len(pos))]
        elif t is not None and len(pos):
            notes = [(pos[0], t.point_label(0)), (pos[-1], t.point_label(len(t.epochs) - 1))]
        self.overlay.set_axes(
            hx,
            hy,
            top,
            ticks=(
                list(zip(self.box_x(xt), xt, strict=True)),
                list(zip(self.box_y(yt), yt, strict=True)),
                list(zip(self.box_z(zt), zt, strict=True)),
            ),
            titles=self._titles,
            notes=notes,
            points=pos,
        )

    # --- reactions --------------------------------------------------------------------
    def _on_hover(self, pos: QPointF) -> None:
        t = self.result.trajectory if self.result is not None else None
        if t is None or not len(self._traj_pos) or not self.traj_line.visible():
            self._set_hover(-1)
            return
        mvp = self.gl.mvp_for(self.gl.width(), self.gl.height())
        w, h = self.gl.width(), self.gl.height()
        px, py = [], []
        for p in self._traj_pos:
            ndc = mvp.map(QVector3D(float(p[0]), float(p[1]), float(p[2])))
            px.append((ndc.x() + 1) / 2 * w)
            py.append((1 - ndc.y()) / 2 * h)
        k = nearest_point(np.array(px), np.array(py), pos.x(), pos.y())
        self._set_hover(-1 if k is None else k)

    def _set_hover(self, k: int) -> None:
        if k == self._hovered:
            return
        self._hovered = k
        t = self.result.trajectory if self.result is not None else None
        if k < 0 or t is None:
            self.overlay.hover = None
            self.trajectoryHovered.emit(-1, "")
        else:
            self.overlay.hover = (self._traj_pos[k], checkpoint_lines(t, k))
            text = describe_checkpoint(t, k)
            self.trajectoryHovered.emit(k, text)
            self.cursorInfo.emit(text)
        self.gl.update()

    def _on_settings_changed(self) -> None:
        if self.result is None:
            return
        rescaled = self.settings.z_scale != self._z_scale
        self._z_scale = self.settings.z_scale
        titles = self._titles
        self.refresh()
        if rescaled or self._titles != titles:
            self.camera.refit()  # a taller or flatter box, or longer labels to keep in view

    def _place_reset_button(self) -> None:
        """Top left of the GL area, below the banner while one is shown (never over it)."""
        below = Overlay3D.banner_height(1.0) + 2 if self.overlay.banner else 0
        self.reset_button.move(4, 4 + round(below))
