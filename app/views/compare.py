"""Two landscapes side by side (e.g. small vs large batch): one colour scale, linked cameras."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from lossviz_core.results.result import SurfaceResult

from .colormaps import value_range
from .display import DisplaySettings, validate_size
from .surface3d import SurfaceView3D

_EMPTY_HINT = "{side}: empty (Compare menu: Set current as {side_l}, or Open file as {side_l}…)"
_TITLE_PX = 28  # title band above each surface in an exported image, at window scale


class CompareView(QWidget):
    """Two 3-D surfaces with a common value scale; rotating or zooming one moves the other."""

    def __init__(self, settings: DisplaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.left = SurfaceView3D(settings)
        self.right = SurfaceView3D(settings)
        self.titles = (QLabel(), QLabel())
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(4)
        for col, (title, view) in enumerate(zip(self.titles, (self.left, self.right), strict=True)):
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            title.setStyleSheet("font-weight: bold")
            layout.addWidget(title, 0, col)
            layout.addWidget(view, 1, col)
        layout.setRowStretch(1, 1)
        self._syncing = False
        self.left.gl.cameraChanged.connect(lambda: self._follow(self.left, self.right))
        self.right.gl.cameraChanged.connect(lambda: self._follow(self.right, self.left))
        settings.changed.connect(self._share_range)
        self.set_results(None, None)

    def set_results(
        self,
        left: SurfaceResult | None,
        right: SurfaceResult | None,
        left_title: str = "",
        right_title: str = "",
    ) -> None:
        """Show two results (2-D grids) with their titles, on one shared colour/height scale."""
        for label, result, title, side in zip(
            self.titles, (left, right), (left_title, right_title), ("Left", "Right"), strict=True
        ):
            hint = _EMPTY_HINT.format(side=side, side_l=side.lower())
            label.setText(title if result is not None else hint)
        self.left.set_value_range(None)
        self.right.set_value_range(None)
        self.left.set_result(left)
        self.right.set_result(right)
        self._share_range()
        self._follow(self.left, self.right)

    def refresh(self) -> None:
        """Either result got more points: redraw both on the (updated) shared scale."""
        self._share_range()

    def shared_range(self) -> tuple[float, float]:
        """(vmin, vmax) over both results in display units (after clip and log)."""
        return value_range(
            *(v.display_grid() for v in (self.left, self.right) if v.result is not None)
        )

    def grab_image(self, width: int, height: int, transparent: bool = False) -> QImage:
        """Both surfaces and their titles in one image of exactly width×height pixels."""
        width, height = validate_size(width, height)
        scale = max(height / max(self.height(), 150), 0.5)
        band = min(round(_TITLE_PX * scale), height // 3)
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent if transparent else Qt.GlobalColor.white)
        painter = QPainter(image)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(8, round(14 * scale)))
        painter.setFont(font)
        painter.setPen(QColor(30, 30, 30))
        half = width // 2
        for x0, w, view, title in (
            (0, half, self.left, self.titles[0]),
            (half, width - half, self.right, self.titles[1]),
        ):
            if h := height - band:
                painter.drawImage(x0, band, view.grab_image(w, h, transparent))
            painter.drawText(QRectF(x0, 0, w, band), Qt.AlignmentFlag.AlignCenter, title.text())
        painter.end()
        return image

    def _share_range(self) -> None:
        shown = [v for v in (self.left, self.right) if v.result is not None]
        vrange = self.shared_range() if shown else None
        for v in shown:
            v.set_value_range(vrange)

    def _follow(self, source: SurfaceView3D, target: SurfaceView3D) -> None:
        if self._syncing:
            return
        self._syncing = True  # the target's own cameraChanged must not echo back
        try:
            target.gl.setCameraParams(**source.gl.copy_camera())
        finally:
            self._syncing = False
