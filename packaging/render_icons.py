"""Render resources/icons/lossviz.svg to the committed PNG sizes with Qt's QSvgRenderer.

Run after editing the SVG:  python packaging/render_icons.py
Writes resources/icons/lossviz-<size>.png for every size in lossviz.icon.SIZES.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lossviz.icon import SIZES, icon_path


def render(svg: Path, size: int, out: Path) -> None:
    """Draw ``svg`` into a transparent ``size``×``size`` ARGB image and save it as PNG."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"render_icons: could not write {out}")


def main() -> int:
    # Rendering needs no screen: the offscreen platform keeps this usable over ssh and in CI.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (kept alive)
    for size in SIZES:
        render(icon_path(), size, icon_path(size))
        print(f"wrote {icon_path(size)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
