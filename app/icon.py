"""The LossViz application icon and identity (window icon, desktop file name, version)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lossviz_resources import ICONS

if TYPE_CHECKING:  # Qt is imported lazily: lossviz.desktop and render_icons need only the paths
    from PySide6.QtGui import QGuiApplication, QIcon

# The PNG sizes rendered from lossviz.svg by packaging/render_icons.py (and committed).
SIZES: tuple[int, ...] = (16, 32, 48, 64, 128, 256, 512)
ICON_NAME = "lossviz"  # the freedesktop icon name, also the .desktop file's base name


def icon_path(size: int | None = None) -> Path:
    """The SVG when ``size`` is None, otherwise the PNG of exactly that size (one of SIZES)."""
    if size is None:
        return ICONS / f"{ICON_NAME}.svg"
    if size not in SIZES:
        raise ValueError(f"no {size}px LossViz icon; available sizes: {', '.join(map(str, SIZES))}")
    return ICONS / f"{ICON_NAME}-{size}.png"


def app_icon() -> QIcon:
    """A QIcon holding every PNG size, so Qt picks a sharp one for title bars, docks and menus."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for size in SIZES:
        icon.addFile(str(icon_path(size)), QSize(size, size))
    return icon


def apply_app_identity(app: QGuiApplication) -> None:
    """Give the running application its icon, name, version and desktop file name.

    The desktop file name ('lossviz') lets Wayland compositors and docks match the
    window to the installed lossviz.desktop launcher (see lossviz.desktop).
    """
    from lossviz import __version__
    from PySide6.QtGui import QGuiApplication

    app.setWindowIcon(app_icon())
    # The X11 WM_CLASS class is the application name: matches StartupWMClass in the launcher.
    QGuiApplication.setApplicationName("LossViz")
    # No applicationDisplayName: Qt would append it to every window title.
    QGuiApplication.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName(ICON_NAME)
