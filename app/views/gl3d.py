"""The GL plumbing of the 3-D view: off-screen rendering, linkable cameras, labels overlay.

Labels and the colour legend are painted with QPainter over the GL scene by one ``draw``
method, used for the window and, at export scale, for an off-screen render of any size.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QLinearGradient,
    QMatrix4x4,
    QPainter,
    QVector3D,
)
from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat

from .colormaps import format_tick, nice_ticks

_LABEL_COLOR = QColor(40, 40, 40)


def render_offscreen(view: gl.GLViewWidget, width: int, height: int) -> QImage:
    """Paint the GL scene into a multisampled framebuffer of exactly width×height."""
    view.makeCurrent()
    try:
        limit = int(GL.glGetIntegerv(GL.GL_MAX_RENDERBUFFER_SIZE))
        if max(width, height) > limit:  # beyond one framebuffer: pyqtgraph's tiled render
            arr = view.renderToArray((width, height))
            return QImage(arr.data, width, height, 4 * width, QImage.Format.Format_ARGB32).copy()
        fmt = QOpenGLFramebufferObjectFormat()
        fmt.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
        fmt.setSamples(4)
        fbo = QOpenGLFramebufferObject(width, height, fmt)
        fbo.bind()
        GL.glViewport(0, 0, width, height)
        region = (0, 0, width, height)
        view.paint(region=region, viewport=region)
        image = fbo.toImage()
        fbo.release()
        return image
    finally:
        view.doneCurrent()


class LinkableGLView(gl.GLViewWidget):
    """A GLViewWidget that announces camera moves (for linked cameras)."""

    cameraChanged = Signal()

    def setCameraPosition(self, *args, **kwargs) -> None:  # noqa: N802 (Qt naming)
        super().setCameraPosition(*args, **kwargs)
        self.cameraChanged.emit()

    def setCameraParams(self, **kwargs) -> None:  # noqa: N802
        super().setCameraParams(**kwargs)
        self.cameraChanged.emit()

    def orbit(self, azim: float, elev: float) -> None:
        super().orbit(azim, elev)
        self.cameraChanged.emit()

    def pan(self, dx, dy, dz, relative: str = "global") -> None:
        super().pan(dx, dy, dz, relative)
        self.cameraChanged.emit()

    def wheelEvent(self, ev) -> None:  # noqa: N802
        super().wheelEvent(ev)
        self.cameraChanged.emit()

    def copy_camera(self) -> dict:
        """Camera parameters with the centre copied (pan edits the vector in place)."""
        params = self.cameraParams()
        params["center"] = QVector3D(params["center"])
        return params


def box_lines(hx: float, hy: float, top: float, xt, yt, zt) -> np.ndarray:
    """Segments (2k, 3) of the floor frame, the vertical value axis and the tick marks."""
    t = 0.04  # tick length in box units
    c = [(-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy)]
    seg = [((*c[k], 0), (*c[(k + 1) % 4], 0)) for k in range(4)]
    seg.append(((-hx, -hy, 0), (-hx, -hy, top)))
    seg += [((v, -hy, 0), (v, -hy - t, 0)) for v in xt]
    seg += [((hx, v, 0), (hx + t, v, 0)) for v in yt]
    seg += [((-hx, -hy, v), (-hx - t, -hy - t, v)) for v in zt]
    return np.asarray(seg, dtype=np.float32).reshape(-1, 3)


class Overlay3D(GLGraphicsItem):
    """Tick labels, axis titles and the colour legend, painted with QPainter over the GL scene.

    The same ``draw`` paints the window (from ``paint``) and an off-screen export at any
    size (called by ``SurfaceView3D.grab_image`` with that render's projection).
    """

    def __init__(self) -> None:
        super().__init__()
        self.axes: dict | None = None

    def clear(self) -> None:
        self.axes = None
        self.update()

    def set_axes(self, hx, hy, top, ticks, titles, cmap, vrange, notes) -> None:
        self.axes = dict(
            hx=hx, hy=hy, top=top, ticks=ticks, titles=titles, cmap=cmap, vrange=vrange, notes=notes
        )
        self.update()

    def paint(self) -> None:
        view = self.view()
        if self.axes is None or view is None:
            return
        painter = QPainter(view)
        self.draw(painter, view.width(), view.height(), self.mvpMatrix(), 1.0)
        painter.end()

    def draw(self, painter: QPainter, w: int, h: int, mvp: QMatrix4x4, scale: float) -> None:
        """Paint labels and legend for an image of w×h pixels seen through ``mvp``."""
        a = self.axes
        if a is None:
            return
        painter.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
        )
        font = QFont()
        font.setPixelSize(max(6, round(12 * scale)))
        painter.setFont(font)
        metrics = QFontMetricsF(font)

        def at(p, text, dx=0.0, dy=0.0, color=_LABEL_COLOR):
            ndc = mvp.map(QVector3D(float(p[0]), float(p[1]), float(p[2])))
            x = (ndc.x() + 1) / 2 * w - dx * metrics.horizontalAdvance(text)
            y = (1 - ndc.y()) / 2 * h + dy * metrics.ascent()
            painter.setPen(color)
            painter.drawText(QPointF(x, y), text)

        hx, hy, top = a["hx"], a["hy"], a["top"]
        xt, yt, zt = a["ticks"]
        off = 0.1
        for b, v in xt:
            at((b, -hy - off, 0), format_tick(v), dx=0.5, dy=1.0)
        for b, v in yt:
            at((hx + off, b, 0), format_tick(v), dx=0.0, dy=0.5)
        for b, v in zt:
            at((-hx - off, -hy - off, b), format_tick(v), dx=1.0, dy=0.4)
        xl, yl, zl = a["titles"]
        at((0, -hy - 3.2 * off, 0), xl, dx=0.5, dy=1.0)
        at((hx + 3.2 * off, 0, 0), yl, dx=0.0, dy=0.5)
        at((-hx, -hy, top + off), zl, dx=0.5, dy=0.0)
        for p, text in a["notes"]:
            at(p, text, dx=-0.15, dy=-0.6, color=QColor(190, 30, 35))
        self._legend(painter, w, h, scale, metrics, zl)

    def _legend(self, painter, w, h, scale, metrics, title) -> None:
        vmin, vmax = self.axes["vrange"]
        bar = QRectF(w - 62 * scale, 0.2 * h, 14 * scale, 0.55 * h)
        grad = QLinearGradient(bar.bottomLeft(), bar.topLeft())
        for t, c in zip(*self.axes["cmap"].getStops(mode="qcolor"), strict=True):
            grad.setColorAt(float(t), c)
        painter.fillRect(bar, grad)
        painter.setPen(QColor(60, 60, 60))
        painter.drawRect(bar)
        for v in nice_ticks(vmin, vmax, 5):
            y = bar.bottom() - (v - vmin) / (vmax - vmin) * bar.height()
            painter.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 3 * scale, y))
            painter.drawText(
                QPointF(bar.right() + 5 * scale, y + 0.4 * metrics.ascent()), format_tick(v)
            )
        tw = metrics.horizontalAdvance(title)
        painter.drawText(
            QPointF(
                min(bar.center().x() - tw / 2, w - tw - 4 * scale),
                bar.top() - 0.8 * metrics.height(),
            ),
            title,
        )
