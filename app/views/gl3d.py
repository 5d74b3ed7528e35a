"""The GL plumbing of the 3-D view: off-screen rendering, a linkable view, the labels overlay.

Labels, messages and the hover box are painted with QPainter over the GL scene by one
``draw`` method, used for the window and, at export scale, for an off-screen render of any
size. The colour bar is not here: it has its own strip beside the scene (``colorbar``).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QMatrix4x4, QPainter, QVector3D
from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat

from .colormaps import format_tick

_LABEL_COLOR = QColor(40, 40, 40)
_NOTE_COLOR = QColor(190, 30, 35)
_NOTE_FILL = QColor(255, 255, 255, 190)
_BANNER_COLOR = QColor(150, 70, 0)
_OFF = 0.1  # distance of tick labels from the box, in box units


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
    """A GLViewWidget that announces camera moves (for linked cameras) and what the user did.

    ``userMoved``: the user rotated, panned or zoomed (the camera is no longer the fitted
    one); ``resetRequested``: Home or a double-click; ``hovered(pos)`` / ``left``: the mouse
    moved over the view without a button held / left it.
    """

    cameraChanged = Signal()
    userMoved = Signal()
    resetRequested = Signal()
    hovered = Signal(QPointF)
    left = Signal()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.setMouseTracking(True)  # hover read-outs without a button held
        self.setMinimumSize(1, 1)

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

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802
        if ev.buttons() == Qt.MouseButton.NoButton:
            self.mousePos = ev.position()
            self.hovered.emit(ev.position())
            return
        super().mouseMoveEvent(ev)
        self.userMoved.emit()

    def wheelEvent(self, ev) -> None:  # noqa: N802
        super().wheelEvent(ev)
        self.userMoved.emit()
        self.cameraChanged.emit()

    def mouseDoubleClickEvent(self, ev) -> None:  # noqa: N802
        ev.accept()
        self.resetRequested.emit()

    def keyPressEvent(self, ev) -> None:  # noqa: N802
        if ev.key() == Qt.Key.Key_Home:
            ev.accept()
            self.resetRequested.emit()
            return
        super().keyPressEvent(ev)
        if ev.key() in self.noRepeatKeys:
            self.userMoved.emit()

    def leaveEvent(self, ev) -> None:  # noqa: N802
        super().leaveEvent(ev)
        self.left.emit()

    def copy_camera(self) -> dict:
        """Camera parameters with the centre copied (pan edits the vector in place)."""
        params = self.cameraParams()
        params["center"] = QVector3D(params["center"])
        return params

    def mvp_for(self, width: int, height: int) -> QMatrix4x4:
        """Projection × view of the current camera for an image of width×height."""
        region = (0, 0, max(int(width), 1), max(int(height), 1))
        return self.projectionMatrix(region, region) * self.viewMatrix()


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


def _font(scale: float, px: float = 12, bold: bool = False) -> QFont:
    font = QFont()
    font.setPixelSize(max(6, round(px * scale)))
    font.setBold(bold)
    return font


class Overlay3D(GLGraphicsItem):
    """Tick labels, axis titles, epoch notes, a banner, a message and the hover box, painted
    with QPainter over the GL scene.

    The same ``draw`` paints the window (from ``paint``) and an off-screen export at any
    size (called by ``SurfaceView3D.grab_image`` with that render's projection).
    """

    def __init__(self) -> None:
        super().__init__()
        self.axes: dict | None = None
        self.message: tuple[str, str] | None = None  # (text, hint) instead of a plot
        self.banner = ""  # one line over the plot: partial, non-finite
        self.hover: tuple[np.ndarray, list[str]] | None = None  # box of lines at a 3-D point

    def clear(self) -> None:
        self.axes = None
        self.hover = None
        self.banner = ""
        self.update()

    def set_axes(self, hx, hy, top, ticks, titles, notes, points) -> None:
        """``notes``: [(pos, text)] in red (first and last epoch); ``points``: (k, 3) box
        positions that must stay in the picture (the trajectory) besides the box."""
        self.axes = dict(
            hx=hx, hy=hy, top=top, ticks=ticks, titles=titles, notes=notes, points=points
        )
        self.update()

    def paint(self) -> None:
        view = self.view()
        if view is None or (self.axes is None and self.message is None):
            return
        painter = QPainter(view)
        try:
            self.draw(painter, view.width(), view.height(), self.mvpMatrix(), 1.0)
        finally:
            painter.end()  # an open painter would leave the GL widget blank from now on

    # --- layout ------------------------------------------------------------------------
    def labels(self, w: int, h: int, mvp: QMatrix4x4, scale: float) -> list:
        """[(rect, baseline origin, text, colour)] of every label for a w×h image."""
        a = self.axes
        if a is None:
            return []
        metrics = QFontMetricsF(_font(scale))
        out: list = []

        def at(p, text, dx=0.0, dy=0.0, color=_LABEL_COLOR):
            ndc = mvp.map(QVector3D(float(p[0]), float(p[1]), float(p[2])))
            adv = metrics.horizontalAdvance(text)
            x = (ndc.x() + 1) / 2 * w - dx * adv
            y = (1 - ndc.y()) / 2 * h + dy * metrics.ascent()
            rect = QRectF(x, y - metrics.ascent(), adv, metrics.ascent() + metrics.descent())
            out.append((rect, QPointF(x, y), text, color))
            return rect

        hx, hy, top = a["hx"], a["hy"], a["top"]
        xt, yt, zt = a["ticks"]
        # the axis titles first, then every tick label that overlaps nothing placed before
        # it (a small or turned view thins its ticks rather than print them over each other)
        taken: list[QRectF] = []
        xl, yl, zl = a["titles"]
        for p, text, dx, dy in (((0, -hy - 3.2 * _OFF, 0), xl, 0.5, 1.0),
                                ((hx + 3.2 * _OFF, 0, 0), yl, 0.0, 0.5),
                                ((-hx, -hy, top + _OFF), zl, 0.5, 0.0)):
            rect = at(p, text, dx=dx, dy=dy)
            while any(rect.intersects(r) for r in taken):  # below the title it meets
                out.pop()
                dy += 1.3
                rect = at(p, text, dx=dx, dy=dy)
            taken.append(rect)
        gap = 3.0 * scale
        for p, v, dx, dy in ([((b, -hy - _OFF, 0), v, 0.5, 1.0) for b, v in xt]
                             + [((hx + _OFF, b, 0), v, 0.0, 0.5) for b, v in yt]
                             + [((-hx - _OFF, -hy - _OFF, b), v, 1.0, 0.4) for b, v in zt]):
            rect = at(p, format_tick(v), dx=dx, dy=dy)
            if any(rect.adjusted(-gap, 0, gap, 0).intersects(r) for r in taken):
                out.pop()
            else:
                taken.append(rect)
        placed: list[QRectF] = []
        for p, text in a["notes"]:
            # first and last epoch: the second goes to the other side if they would overlap
            for dx, dy in ((-0.15, -0.6), (1.15, -0.6), (-0.15, 1.6), (1.15, 1.6)):
                rect = at(p, text, dx=dx, dy=dy, color=_NOTE_COLOR)
                if not any(rect.intersects(r) for r in placed):
                    break
                out.pop()
            else:
                rect = at(p, text, dx=-0.15, dy=-0.6, color=_NOTE_COLOR)
            placed.append(rect)
        return out

    def extent(self, w: int, h: int, mvp: QMatrix4x4, scale: float) -> QRectF:
        """The pixel rectangle of everything drawn: the box, the trajectory, the labels."""
        a = self.axes
        if a is None:
            return QRectF()
        hx, hy, top = a["hx"], a["hy"], a["top"]
        corners = [(sx * hx, sy * hy, z) for sx in (-1, 1) for sy in (-1, 1) for z in (0, top)]
        xs, ys = [], []
        for p in [*corners, *(tuple(q) for q in a["points"])]:
            ndc = mvp.map(QVector3D(float(p[0]), float(p[1]), float(p[2])))
            xs.append((ndc.x() + 1) / 2 * w)
            ys.append((1 - ndc.y()) / 2 * h)
        # points by their coordinates: QRectF.united skips empty (zero-size) rectangles
        rect = QRectF(QPointF(min(xs), min(ys)), QPointF(max(xs), max(ys)))
        for r, *_ in self.labels(w, h, mvp, scale):
            rect = rect.united(r)
        return rect

    # --- painting ----------------------------------------------------------------------
    def draw(self, painter: QPainter, w: int, h: int, mvp: QMatrix4x4, scale: float) -> None:
        """Paint labels (or the message), banner and hover box for a w×h image through mvp."""
        painter.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
        )
        if self.message is not None:
            self._message(painter, w, h, scale)
            return
        painter.setFont(_font(scale))
        for rect, origin, text, color in self.labels(w, h, mvp, scale):
            if color == _NOTE_COLOR:  # epochs sit on the surface: a light box keeps them legible
                painter.fillRect(rect.adjusted(-2 * scale, 0, 2 * scale, 0), _NOTE_FILL)
            painter.setPen(color)
            painter.drawText(origin, text)
        if self.banner:
            self._banner(painter, w, scale)
        if self.hover is not None:
            self._hover_box(painter, w, h, mvp, scale)

    def _message(self, painter: QPainter, w: int, h: int, scale: float) -> None:
        text, hint = self.message
        font = _font(scale, 16, bold=True)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        big = QRectF(0, 0, w, h / 2 + 4 * scale)
        tw = metrics.horizontalAdvance(text) + 24 * scale
        # a light box (also readies the painter's fill for the banner that follows)
        painter.fillRect(
            QRectF(
                (w - tw) / 2,
                big.bottom() - metrics.height() - 6 * scale,
                tw,
                metrics.height() + 8 * scale,
            ),
            QColor(245, 245, 245, 230),
        )
        painter.setPen(QColor(90, 90, 90))
        painter.drawText(big, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, text)
        if hint:
            painter.setPen(QColor(130, 130, 130))
            painter.setFont(_font(scale, 12))
            small = QRectF(0, h / 2 + 10 * scale, w, h / 2)
            painter.drawText(small, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, hint)

    @staticmethod
    def banner_height(scale: float) -> float:
        """Pixels the banner takes at the top (the fitted camera keeps them free)."""
        return QFontMetricsF(_font(scale, 12)).height() + 8 * scale

    def _banner(self, painter: QPainter, w: int, scale: float) -> None:
        font = _font(scale, 12)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        text = metrics.elidedText(self.banner, Qt.TextElideMode.ElideRight, w - 16 * scale)
        box = QRectF(
            4 * scale,
            4 * scale,
            metrics.horizontalAdvance(text) + 8 * scale,
            metrics.height() + 4 * scale,
        )
        painter.fillRect(box, QColor(255, 248, 225, 230))
        painter.setPen(_BANNER_COLOR)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _hover_box(self, painter: QPainter, w: int, h: int, mvp: QMatrix4x4, scale: float):
        p, lines = self.hover
        ndc = mvp.map(QVector3D(float(p[0]), float(p[1]), float(p[2])))
        x, y = (ndc.x() + 1) / 2 * w, (1 - ndc.y()) / 2 * h
        font = _font(scale, 11)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        bw = max(metrics.horizontalAdvance(s) for s in lines) + 10 * scale
        bh = len(lines) * metrics.height() + 6 * scale
        left = x + 10 * scale if x + 10 * scale + bw < w else x - 10 * scale - bw
        top = min(max(y - bh - 6 * scale, 2.0), h - bh - 2)
        box = QRectF(left, top, bw, bh)
        painter.setPen(QColor(120, 120, 120))
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.drawRect(box)
        painter.setPen(_LABEL_COLOR)
        for k, s in enumerate(lines):
            base = top + 3 * scale + metrics.ascent() + k * metrics.height()
            painter.drawText(QPointF(left + 5 * scale, base), s)
