"""Small dialogs: error messages and the export options.

Every error shown to the user goes through :func:`show_error`, every question about running
a user's code through :func:`ask_to_run_code` (tests replace them instead of blocking on a
modal box).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QMessageBox,
    QSpinBox,
    QWidget,
)


def show_error(parent: QWidget | None, message: str, details: str = "") -> None:
    """A warning box with the one-line message; a traceback goes under 'Show Details'."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("LossViz")
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.exec()


def ask_to_run_code(parent: QWidget | None, path: str) -> bool:
    """Ask before LossViz runs code from a user's file (once per file: the answer is kept)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Run code from a file?")
    box.setText(f"LossViz will run the Python code in\n\n{path}\n\nto build the model or read "
                "the data. Run only code you trust.")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.button(QMessageBox.StandardButton.Yes).setText("Run it")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes


class ExportDialog(QDialog):
    """Which view to export, at what pixel size, with or without a transparent background."""

    def __init__(self, parent: QWidget | None, views: list[str], current: str,
                 size: tuple[int, int]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export image")
        form = QFormLayout(self)
        self.view = QComboBox()
        self.view.addItems(views)
        if current in views:
            self.view.setCurrentText(current)
        self.width_px = QSpinBox()
        self.width_px.setRange(16, 16384)
        self.width_px.setValue(size[0])
        self.height_px = QSpinBox()
        self.height_px.setRange(16, 16384)
        self.height_px.setValue(size[1])
        self.transparent = QCheckBox("Transparent background (PNG)")
        form.addRow("View", self.view)
        form.addRow("Width (px)", self.width_px)
        form.addRow("Height (px)", self.height_px)
        form.addRow(self.transparent)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class FigureDialog(QDialog):
    """The kind of publication figure (matplotlib) to write."""

    KINDS = ("auto", "contour", "filled", "surface", "line")

    def __init__(self, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Publication figure")
        form = QFormLayout(self)
        self.kind = QComboBox()
        self.kind.addItems(self.KINDS)
        form.addRow("Kind", self.kind)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
