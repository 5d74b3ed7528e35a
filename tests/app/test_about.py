"""The About dialog (versions, device, paper) and the application icon / identity."""

from __future__ import annotations

import numpy
import pyqtgraph
import PySide6
import pytest
import torch
from lossviz import __version__
from lossviz.about import AboutDialog, about_text
from lossviz.icon import SIZES, app_icon, apply_app_identity, icon_path
from PySide6.QtCore import QCoreApplication, QSize, qVersion
from PySide6.QtGui import QGuiApplication, QImage

from lossviz_core.device import device_description, pick_device


def test_about_text_lists_versions_and_the_given_device() -> None:
    text = about_text("cuda: Fake GPU 9000")
    for needle in (
        f"LossViz {__version__}",
        torch.__version__,
        qVersion(),
        PySide6.__version__,
        pyqtgraph.__version__,
        numpy.__version__,
        "cuda: Fake GPU 9000",
        "NeurIPS 2018",
    ):
        assert needle in " ".join(text.split()), needle


def test_about_text_defaults_to_the_automatic_device() -> None:
    assert device_description(pick_device("auto")) in about_text()


def test_about_dialog_shows_versions_and_copies_them(qtbot, tmp_path) -> None:
    dialog = AboutDialog(None, device_text="cpu: Test CPU (3 threads)")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    shown = dialog.text_label.text()
    for needle in (
        torch.__version__,
        qVersion(),
        "cpu: Test CPU (3 threads)",
        "arxiv.org/abs/1712.09913",
    ):
        assert needle in shown
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == about_text("cpu: Test CPU (3 threads)")
    dialog.grab().save(str(tmp_path / "about.png"))  # look at it when changing the layout
    assert (tmp_path / "about.png").stat().st_size > 1000


def test_icon_files_have_every_size() -> None:
    assert icon_path().is_file() and icon_path().suffix == ".svg"
    for size in SIZES:
        image = QImage(str(icon_path(size)))
        assert image.size() == QSize(size, size)
        # Transparent rounded corners, opaque centre: the PNG is the drawn icon, not a blank.
        assert image.pixelColor(0, 0).alpha() == 0
        assert image.pixelColor(size // 2, size // 2).alpha() == 255
    with pytest.raises(ValueError, match="available sizes"):
        icon_path(17)


def test_app_icon_holds_all_sizes(qapp) -> None:
    sizes = {(s.width(), s.height()) for s in app_icon().availableSizes()}
    assert sizes == {(s, s) for s in SIZES}


def test_apply_app_identity(qapp) -> None:
    before = (QCoreApplication.applicationName(), QGuiApplication.desktopFileName())
    try:
        apply_app_identity(qapp)
        assert QGuiApplication.desktopFileName() == "lossviz"
        assert QCoreApplication.applicationName() == "LossViz"
        assert QCoreApplication.applicationVersion() == __version__
        assert not qapp.windowIcon().isNull()
        assert len(qapp.windowIcon().availableSizes()) == len(SIZES)
    finally:
        QCoreApplication.setApplicationName(before[0])
        QGuiApplication.setDesktopFileName(before[1])


def test_no_display_gives_one_line_and_exit_2(monkeypatch, capsys):
    import lossviz.__main__ as entry

    monkeypatch.setattr(entry.sys, "platform", "linux")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert entry.main_gui([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no display" in err and "xvfb-run" in err
