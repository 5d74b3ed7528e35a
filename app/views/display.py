"""The view settings model (colour map, log scale, clip, z-scale, ...) shared by all views."""

from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF, QImage, QPainter
from PySide6.QtWidgets import QGraphicsWidget, QWidget

from lossviz_core.errors import InputError


class DisplaySettings(QObject):
    """How a landscape is shown; every view observes ``changed``.

    ``clip_max`` caps the shown values (as the paper's ``vmax``); ``quantity`` is one of
    train_loss/train_acc/test_loss/test_acc or 'auto' (the result's main loss);
    ``colormap`` is a pyqtgraph/matplotlib name or 'auto' (each quantity's registered map).
    Log scale applies to quantities registered as log-able (losses), not to accuracy.
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._values: dict[str, object] = {
            "colormap": "auto",
            "log_scale": False,
            "clip_max": None,
            "z_scale": 1.0,
            "wireframe": False,
            "levels": 20,
            "quantity": "auto",
        }

    def _set(self, name: str, value: object) -> None:
        if self._values[name] != value:
            self._values[name] = value
            self.changed.emit()

    def update(self, **values: object) -> None:
        """Set several settings at once, emitting ``changed`` a single time."""
        unknown = set(values) - set(self._values)
        if unknown:
            raise AttributeError(f"unknown display settings: {sorted(unknown)}")
        before = dict(self._values)
        self.blockSignals(True)
        try:
            for k, v in values.items():
                setattr(self, k, v)
        finally:
            self.blockSignals(False)
        if before != self._values:
            self.changed.emit()

    @property
    def colormap(self) -> str:
        return str(self._values["colormap"])

    @colormap.setter
    def colormap(self, name: str) -> None:
        self._set("colormap", str(name))

    @property
    def log_scale(self) -> bool:
        return bool(self._values["log_scale"])

    @log_scale.setter
    def log_scale(self, on: bool) -> None:
        self._set("log_scale", bool(on))

    @property
    def clip_max(self) -> float | None:
        v = self._values["clip_max"]
        return None if v is None else float(v)  # type: ignore[arg-type]

    @clip_max.setter
    def clip_max(self, value: float | None) -> None:
        self._set("clip_max", None if value is None else float(value))

    @property
    def z_scale(self) -> float:
        return float(self._values["z_scale"])  # type: ignore[arg-type]

    @z_scale.setter
    def z_scale(self, value: float) -> None:
        self._set("z_scale", max(float(value), 1e-3))

    @property
    def wireframe(self) -> bool:
        return bool(self._values["wireframe"])

    @wireframe.setter
    def wireframe(self, on: bool) -> None:
        self._set("wireframe", bool(on))

    @property
    def levels(self) -> int:
        return int(self._values["levels"])  # type: ignore[arg-type]

    @levels.setter
    def levels(self, n: int) -> None:
        self._set("levels", max(int(n), 1))

    @property
    def quantity(self) -> str:
        return str(self._values["quantity"])

    @quantity.setter
    def quantity(self, q: str) -> None:
        self._set("quantity", str(q))


# --- rendering a pyqtgraph plot at any size (shared by the 2-D and 1-D views) ----------

_DEFAULT_LOGICAL = (800, 600)
BANNER_POINTS = 10


def _logical_size(view: QWidget, width: int, height: int) -> QSizeF:
    """The layout size to render at: the target's aspect, about the on-screen scale.

    Text and line widths keep their on-screen proportion, so a 1600×1200 export of an
    800×600 window looks like the window, only sharper.
    """
    ref_w, ref_h = (view.width(), view.height()) if view.isVisible() else _DEFAULT_LOGICAL
    ref_w, ref_h = max(ref_w, 200), max(ref_h, 150)
    s = max(width / ref_w, height / ref_h)
    return QSizeF(width / s, height / s)


class _TemporaryGeometry:
    """Lay a scene's central item out at another size, restoring it afterwards."""

    def __init__(self, item: QGraphicsWidget, size: QSizeF) -> None:
        self.item, self.size, self.old = item, size, item.geometry()

    def __enter__(self) -> QRectF:
        self.item.setGeometry(QRectF(self.old.topLeft(), self.size))
        lay = QGraphicsWidget.layout(self.item)
        if lay is not None:
            lay.activate()  # apply the new layout now, not on the next event loop turn
        return self.item.sceneBoundingRect()

    def __exit__(self, *exc: object) -> None:
        self.item.setGeometry(self.old)
        lay = QGraphicsWidget.layout(self.item)
        if lay is not None:
            lay.activate()


def set_banner(plot: pg.PlotItem, text: str | None) -> None:
    """A one-line warning over a plot (or none), cut with '…' to the plot's width (the
    whole text in its tooltip) and cut again when the plot is resized. The title must not
    set the plot's minimum width: pyqtgraph makes it the text's width, kept after the title
    is hidden, which pushed the colour bar out of a narrow view."""
    label = plot.titleLabel
    if not getattr(label, "_lossviz_narrow", False):  # pyqtgraph redoes it on every resize
        def narrow_min() -> None:
            height = label.itemRect().height()
            label.setMinimumSize(0, height)
            label._sizeHint = {Qt.SizeHint.MinimumSize: (0, height),
                               Qt.SizeHint.PreferredSize: (label.itemRect().width(), height),
                               Qt.SizeHint.MaximumSize: (-1, -1),
                               Qt.SizeHint.MinimumDescent: (0, 0)}
            label.updateGeometry()

        label.updateMin = narrow_min
        label._lossviz_narrow = True
        plot.geometryChanged.connect(lambda: _show_banner(plot))
    label._lossviz_banner = text or ""
    _show_banner(plot)


def _show_banner(plot: pg.PlotItem) -> None:
    label = plot.titleLabel
    text = getattr(label, "_lossviz_banner", "")
    if not text:
        label.setText("")  # no width left behind by the last banner
        plot.setTitle(None)
        label.setToolTip("")
        return
    font = QFont()
    font.setPointSize(BANNER_POINTS)
    room = plot.width() - plot.vb.geometry().left() - 12  # the title starts over the plot box
    shown = QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, max(room, 60))
    shown = html.escape(shown)  # pyqtgraph reads the title as HTML: "< 0" would end it at "<"
    if shown != label.text or not label.isVisible():
        plot.setTitle(shown, color="#965000", size=f"{BANNER_POINTS}pt", justify="left")
    label.setToolTip(text)


def validate_size(width: int, height: int) -> tuple[int, int]:
    """Pixel sizes must be whole, positive and below 16384 (a QImage/OpenGL limit)."""
    try:
        w, h = int(width), int(height)
    except (TypeError, ValueError):
        raise InputError(f"image size must be whole numbers, got {width}×{height}") from None
    if not (0 < w <= 16384 and 0 < h <= 16384):
        raise InputError(f"image size must be between 1 and 16384 pixels, got {w}×{h}")
    return w, h


def render_plot_image(
    view: pg.GraphicsView, item: QGraphicsWidget, width: int, height: int, transparent: bool = False
) -> QImage:
    """Render a plot (``item`` in ``view``'s scene) into an image of exactly width×height."""
    width, height = validate_size(width, height)
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent if transparent else view.backgroundBrush().color())
    with _TemporaryGeometry(item, _logical_size(view, width, height)) as source:
        painter = QPainter(image)
        painter.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
        )
        view.scene().render(
            painter, QRectF(0, 0, width, height), source, Qt.AspectRatioMode.IgnoreAspectRatio
        )
        painter.end()
    return image
