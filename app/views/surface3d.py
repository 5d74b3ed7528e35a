"""The 3-D view: an OpenGL surface in a normalized box, with axes, colour legend, trajectory.

The grid (ny, nx) is transposed once here, because GLSurfacePlotItem wants z[x, y]. x and
y are mapped into a box of half-width ≤ 1 and the shown values into a height
``BOX_HEIGHT × z_scale``, so a loss range of 0..10 and one of 0..0.01 look alike; the
axes' tick labels give the real numbers back.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtGui import QImage, QMatrix4x4, QPainter, QVector3D
from PySide6.QtWidgets import QVBoxLayout, QWidget

from lossviz_core.errors import InputError
from lossviz_core.results.result import SurfaceResult

from .colormaps import (
    bilinear,
    colors_for,
    fill_missing,
    get_colormap,
    nice_ticks,
    quantity_label,
    resolve_quantity,
    shown_grid,
    value_range,
)
from .display import DisplaySettings, validate_size
from .gl3d import LinkableGLView, Overlay3D, box_lines, render_offscreen

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


class SurfaceView3D(QWidget):
    """The landscape as a coloured 3-D surface with mouse rotate (drag) and zoom (wheel)."""

    def __init__(self, settings: DisplaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.result: SurfaceResult | None = None
        self._fixed_range: tuple[float, float] | None = None
        self._camera_set = False
        self.half = (1.0, 1.0)  # box half-widths along x and y
        self.vrange = (0.0, 1.0)  # display values mapped to the box floor and top
        self._traj_ends: list = []

        self.gl = LinkableGLView()
        self.gl.setBackgroundColor("w")
        self.surface = gl.GLSurfacePlotItem(
            smooth=False, computeNormals=False, shader=None, glOptions="opaque"
        )
        self.surface.setVisible(False)
        self.box = gl.GLLinePlotItem(
            mode="lines",
            color=(0.3, 0.3, 0.3, 1.0),
            width=1,
            antialias=True,
            glOptions="translucent",
        )
        self.traj_line = gl.GLLinePlotItem(
            color=_TRAJ_RGBA, width=2.5, antialias=True, glOptions=_ON_TOP
        )
        self.traj_points = gl.GLScatterPlotItem(
            color=(1, 1, 1, 1), size=7, pxMode=True, glOptions=_ON_TOP
        )
        self.overlay = Overlay3D()
        for depth, item in enumerate((self.box, self.surface, self.traj_line, self.traj_points)):
            item.setDepthValue(depth)
            self.gl.addItem(item)
        self.overlay.setDepthValue(100)  # painted last, over everything
        self.gl.addItem(self.overlay)
        self.traj_line.setVisible(False)
        self.traj_points.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.gl)
        settings.changed.connect(self._on_settings_changed)

    # --- contract -------------------------------------------------------------------
    def set_result(self, result: SurfaceResult | None) -> None:
        """Show a new result (new grid or ranges): rebuild the box, axes and surface."""
        self.result = result if result is not None and not result.is_line else None
        self.surface.setVisible(self.result is not None)
        if self.result is None:
            self.traj_line.setVisible(False)
            self.traj_points.setVisible(False)
            self.overlay.clear()
            self.box.setData(pos=np.zeros((0, 3)))
            return
        r = self.result
        span_x = float(r.x[-1] - r.x[0]) or 1.0
        span_y = float(r.y[-1] - r.y[0]) or 1.0
        longest = max(span_x, span_y)
        self.half = (max(span_x / longest, MIN_HALF_WIDTH), max(span_y / longest, MIN_HALF_WIDTH))
        self.surface.setData(
            x=self.box_x(r.x), y=self.box_y(r.y), z=np.zeros((len(r.x), len(r.y)), dtype=np.float32)
        )
        self.refresh()
        if not self._camera_set:
            self.reset_camera()

    def refresh(self) -> None:
        """The same result got more points: new heights and colours on the same mesh."""
        if self.result is None:
            return
        z = self.display_grid()
        filled, _ = fill_missing(z, self.result.done)
        self.vrange = self._fixed_range or value_range(z)
        vmin, vmax = self.vrange
        colors = colors_for(get_colormap(self.settings.colormap), filled, vmin, vmax)
        # Computed points whose loss diverged (NaN/inf): at the top of the box, in grey.
        diverged = ~np.isfinite(filled)
        colors[diverged] = _DIVERGED_RGBA
        self.surface.setData(
            z=self.box_z(np.where(diverged, vmax, filled)).T.astype(np.float32),
            colors=colors.transpose(1, 0, 2).reshape(-1, 4),
        )
        wire = self.settings.wireframe
        self.surface.setData(showGrid=wire, lineColor=(0, 0, 0, 0.35), lineWidth=1)
        self.surface.lineplot.setVisible(wire)
        self._draw_trajectory(filled)
        self._draw_axes()
        self.gl.update()

    def grab_image(self, width: int, height: int, transparent: bool = False) -> QImage:
        """Render off-screen at exactly width×height pixels (any size, also above the window)."""
        width, height = validate_size(width, height)
        if not self.gl.isValid():
            self.gl.grabFramebuffer()  # a view never shown (e.g. a hidden tab) initializes GL here
        if not self.gl.isValid():
            raise InputError(
                "the 3-D view cannot be rendered: OpenGL is not available in this window"
            )
        bg = self.gl.opts["bgcolor"]
        if transparent:
            self.gl.opts["bgcolor"] = (0.0, 0.0, 0.0, 0.0)
        self.overlay.setVisible(False)  # text is painted below with QPainter, at export scale
        try:
            image = render_offscreen(self.gl, width, height)
        finally:
            self.gl.opts["bgcolor"] = bg
            self.overlay.setVisible(True)
            self.gl.update()
        image = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        painter = QPainter(image)
        scale = max(width / max(self.gl.width(), 200), height / max(self.gl.height(), 150))
        self.overlay.draw(painter, width, height, self.mvp(width, height), scale)
        painter.end()
        return image

    # --- extras used by the comparison view ----------------------------------------
    def set_value_range(self, vrange: tuple[float, float] | None) -> None:
        """Fix the colour and height scale (display units); None: automatic."""
        self._fixed_range = vrange
        self.refresh()

    def display_grid(self) -> np.ndarray | None:
        """The shown quantity after clip/log, NaN where missing, shape (ny, nx)."""
        return shown_grid(self.result, self.settings)

    def reset_camera(self) -> None:
        """Look at the whole box from the front right, 30° up, as matplotlib's default."""
        hx, hy = self.half
        h = BOX_HEIGHT * self.settings.z_scale
        radius = float(np.sqrt(hx**2 + hy**2 + (h / 2) ** 2)) * 1.2  # room for tick labels
        w, ht = max(self.gl.width(), 1), max(self.gl.height(), 1)
        fov = 45.0
        half_v = np.arctan(np.tan(np.radians(fov / 2)) * min(ht / w, 1.0))
        self.gl.setCameraParams(
            center=QVector3D(0, 0, h * 0.4),
            distance=radius / np.sin(half_v),
            fov=fov,
            elevation=28,
            azimuth=-60,
        )
        self._camera_set = True

    def mvp(self, width: int, height: int) -> QMatrix4x4:
        """Projection × view for an off-screen render of width×height."""
        region = (0, 0, width, height)
        return self.gl.projectionMatrix(region, region) * self.gl.viewMatrix()

    # --- data → box coordinates -------------------------------------------------------
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
    def _draw_trajectory(self, filled: np.ndarray) -> None:
        t = self.result.trajectory
        show = t is not None and len(t.x) > 0
        self.traj_line.setVisible(show)
        self.traj_points.setVisible(show)
        if not show:
            return
        z = bilinear(self.result.x, self.result.y, filled, t.x, t.y)
        lift = 0.01 * BOX_HEIGHT * self.settings.z_scale  # just above the surface
        pos = np.column_stack([self.box_x(t.x), self.box_y(t.y), self.box_z(z) + lift])
        self.traj_line.setData(pos=pos)
        self.traj_points.setData(pos=pos)
        self._traj_ends = [
            (pos[0], f"epoch {int(t.epochs[0])}"),
            (pos[-1], f"epoch {int(t.epochs[-1])}"),
        ]

    def _draw_axes(self) -> None:
        r = self.result
        hx, hy = self.half
        top = BOX_HEIGHT * self.settings.z_scale
        vmin, vmax = self.vrange
        xt = [v for v in nice_ticks(r.x[0], r.x[-1], 5)]
        yt = [v for v in nice_ticks(r.y[0], r.y[-1], 5)]
        zt = [v for v in nice_ticks(vmin, vmax, 4)]
        self.box.setData(
            pos=box_lines(hx, hy, top, self.box_x(xt), self.box_y(yt), self.box_z(zt)), mode="lines"
        )
        q = resolve_quantity(r, self.settings)
        xl, yl = r.axis_labels()
        ends = self._traj_ends if r.trajectory is not None and len(r.trajectory.x) else []
        self.overlay.set_axes(
            hx,
            hy,
            top,
            ticks=(
                list(zip(self.box_x(xt), xt, strict=True)),
                list(zip(self.box_y(yt), yt, strict=True)),
                list(zip(self.box_z(zt), zt, strict=True)),
            ),
            titles=(xl, yl, quantity_label(q, self.settings.log_scale)),
            cmap=get_colormap(self.settings.colormap),
            vrange=self.vrange,
            notes=ends,
        )

    def _on_settings_changed(self) -> None:
        if self.result is None:
            return
        self.refresh()
