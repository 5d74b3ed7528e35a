"""The edge-of-stability view with its *Export…* button, as the training dialog and the
run-folder window show it (the view itself: :class:`lossviz.views.eos.EosView`)."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from . import dialogs, settings_store
from .views.eos import EosView
from .worker import describe_exception


class EosPanel(QWidget):
    """An :class:`EosView` (``.view``) and a button writing its figure as PNG, SVG or PDF."""

    def __init__(self, parent: QWidget | None = None, title: str = "") -> None:
        super().__init__(parent)
        self.view = EosView(self, title=title)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save this figure as PNG, SVG or PDF (drawn by "
                                      "matplotlib from the records)")
        self.export_button.clicked.connect(self.ask_export)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.export_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view, 1)
        lay.addLayout(row)

    def ask_export(self) -> str | None:
        """Ask for a file name and write the figure; a bad name or folder is one message."""
        if not self.view.records:
            dialogs.show_error(self, "No tracked records to export yet.")
            return None
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the edge-of-stability figure", settings_store.last_path("export"),
            "PNG (*.png);;SVG (*.svg);;PDF (*.pdf)")
        if not path:
            return None
        try:
            return self.view.export(path)
        except Exception as exc:  # noqa: BLE001 - a bad file name or folder: one message
            dialogs.show_error(self, *describe_exception(exc))
            return None
