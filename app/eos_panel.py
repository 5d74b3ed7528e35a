"""The edge-of-stability view with its *Export…* button, following a run's ``track.jsonl``
as the training dialog and the run-folder window show it (the view itself:
:class:`lossviz.views.eos.EosView`). A timer re-reads the file when its size or time
changes; a few hundred lines of JSON take milliseconds, so it stays on the GUI thread."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from lossviz_core.errors import LossVizError
from lossviz_core.track.records import read_track, track_path

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
        self.run_dir: Path | None = None
        self._seen: tuple[int, int] | None = None
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.reload)

    def follow(self, run_dir: str | os.PathLike, poll_ms: int = 1000) -> None:
        """Show ``run_dir``'s records and re-read them whenever the file changes."""
        self.run_dir, self._seen = Path(run_dir), None
        self.reload()
        self.timer.start(poll_ms)

    def stop_following(self) -> None:
        """Keep the records shown; stop re-reading."""
        self.timer.stop()

    def reload(self) -> bool:
        """Re-read the records if the file changed since the last read; True if it did."""
        if self.run_dir is None:
            return False
        path = track_path(self.run_dir)
        seen = file_stamp(path)
        if seen is None:
            self.view.status.setText(f"Waiting for {path.name} in {self.run_dir} …")
            return False
        if seen == self._seen:
            return False
        try:
            records = read_track(self.run_dir)
        except LossVizError as exc:
            self.view.status.setText(str(exc))
            return False
        self._seen = seen
        self.view.set_records(records)
        return True

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


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(size, modification time) of ``path``, None if it cannot be read: changed or not."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns
