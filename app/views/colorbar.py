"""The 3-D view's colour bar: its own strip beside the GL scene, never over the surface.

``paint_colorbar`` draws it into any rectangle (the widget, or the right strip of an
export at export scale), so the window and the exported image agree.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QLinearGradient, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from .colormaps import format_tick, nice_ticks

BAR_WIDTH = 78  # px at window scale: bar, ticks, tick labels and the rotated title
_PEN = QColor(60, 60, 60)


def paint_colorbar(
    painter: QPainter,
    rect: QRectF,
    cmap: pg.ColorMap,
    vrange: tuple[float, float],
    title: str,
    scale: float = 1.0,
) -> None:
    """A vertical bar with ticks and a title rotated along its left side, inside ``rect``."""
    vmin, vmax = vrange
    painter.save()
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    font = QFont()
    font.setPixelSize(max(6, round(12 * scale)))
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    title_w = metrics.height() + 4 * scale
    length = min(0.76 * rect.height(), 9 * rect.width())  # a tall export: not a pole
    top = rect.center().y() - length / 2
    bottom = top + length
    bar = QRectF(rect.left() + title_w, top, 14 * scale, max(bottom - top, 10 * scale))
    grad = QLinearGradient(bar.bottomLeft(), bar.topLeft())
    for t, c in zip(*cmap.getStops(mode="qcolor"), strict=True):
        grad.setColorAt(float(t), c)
    painter.fillRect(bar, grad)
    painter.setPen(_PEN)
    painter.drawRect(bar)
    if vmax > vmin:
        for v in nice_ticks(vmin, vmax, 5):
            y = bar.bottom() - (v - vmin) / (vmax - vmin) * bar.height()
            painter.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 3 * scale, y))
            text = format_tick(v)
            painter.drawText(QPointF(bar.right() + 5 * scale, y + 0.35 * metrics.ascent()), text)
    painter.translate(rect.left() + metrics.ascent() + 1 * scale, bar.center().y())
    painter.rotate(-90)
    shown = metrics.elidedText(title, Qt.TextElideMode.ElideRight, bar.height())
    painter.drawText(QPointF(-metrics.horizontalAdvance(shown) / 2, 0), shown)
    painter.restore()


class ColorBarWidget(QWidget):
    """The bar as a widget of fixed width; blank until ``set_bar``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedWidth(BAR_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Ignored)
        self.setAutoFillBackground(False)
        self.bar: tuple[pg.ColorMap, tuple[float, float], str] | None = None

    def set_bar(self, cmap: pg.ColorMap, vrange: tuple[float, float], title: str) -> None:
        self.bar = (cmap, vrange, title)
        self.update()

    def clear(self) -> None:
        self.bar = None
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt naming)
        return QSize(BAR_WIDTH, 200)

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.white)
        if self.bar is not None:
            paint_colorbar(painter, QRectF(self.rect()), *self.bar)
        painter.end()
