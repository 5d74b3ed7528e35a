"""Compute / Cancel, the zoom history buttons (Back, Reset) and the Ray workers' status."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QWidget


class ComputePanel(QWidget):
    """Buttons only; the main window connects them and enables them by its state."""

    def __init__(self) -> None:
        super().__init__()
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.compute = QPushButton("Compute")
        self.compute.setDefault(True)
        self.compute.setToolTip("Compute the landscape the panels describe (Ctrl+R); a result "
                                "computed before is shown at once, a cancelled one resumed")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.cancel.setToolTip("Stop after the current chunk; the points so far are kept (Esc)")
        self.back = QPushButton("◀ Zoom back")
        self.back.setToolTip("Return to the ranges before the last rectangle zoom")
        self.reset = QPushButton("Reset zoom")
        self.reset.setToolTip("Return to the ranges before the first rectangle zoom")
        grid.addWidget(self.compute, 0, 0)
        grid.addWidget(self.cancel, 0, 1)
        grid.addWidget(self.back, 1, 0)
        grid.addWidget(self.reset, 1, 1)
        self.workers = QLabel("")  # one line per Ray worker while a grid runs on Ray
        self.workers.setObjectName("ray-workers")
        self.workers.setToolTip("Ray workers: ● computing, … starting (building its model and "
                                "data), ✕ lost (its points went to the others) or failed; "
                                "points each computed and its rate")
        self.workers.setStyleSheet("color: #333; font-size: 90%;")
        self.workers.hide()
        grid.addWidget(self.workers, 2, 0, 1, 2)
        self.set_zoom_depth(0)

    def set_running(self, running: bool) -> None:
        self.cancel.setEnabled(running)

    def set_zoom_depth(self, depth: int) -> None:
        self.back.setEnabled(depth > 0)
        self.reset.setEnabled(depth > 0)

    def set_workers(self, text: str) -> None:
        """Show the per-worker status line (empty: hide it)."""
        self.workers.setText(text)
        self.workers.setVisible(bool(text))
