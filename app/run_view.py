"""A run folder followed live: its edge-of-stability view and the optimizer's path so far.

*Training ▸ Open run folder…* shows ``RUN/track.jsonl`` (written by ``Tracker``, the
Lightning and transformers callbacks or ``lossviz train --track``) in an edge-of-stability
view, and the path of the checkpoints saved so far (``RUN/steps`` from the tracker's
``checkpoints`` measure, else the run's epoch checkpoints) on their PCA plane. A timer
re-reads both when their files change, so a run training elsewhere (the command line, a
notebook, a shared disk) is followed as it goes. Reading a few hundred lines of JSON takes
milliseconds and stays on the GUI thread; the checkpoints load in the window's task runner.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from . import settings_store
from .eos_panel import EosPanel, file_stamp
from .tasks import Task, TaskRunner
from .views.live_path import LivePathView, PathSoFar

POLL_MS = 1000


def checkpoint_folder(run_dir: str | os.PathLike) -> Path:
    """Where a run's path comes from: the tracked steps if recorded, else the run itself."""
    from lossviz_core.runs import RUN_FILE
    from lossviz_core.track.measures import STEPS_FOLDER

    steps = Path(run_dir) / STEPS_FOLDER
    return steps if (steps / RUN_FILE).is_file() else Path(run_dir)


def path_so_far(run_dir: str | os.PathLike) -> PathSoFar | None:
    """The PCA plane of the checkpoints saved so far (bias and BatchNorm entries left out
    of the fit, as ``--pca`` does) and each on it; None below three checkpoints."""
    from lossviz_core.directions.trajectory import MIN_CHECKPOINTS, biasbn_mask, flatten, pca_plane
    from lossviz_core.runs import read_run
    from lossviz_core.sources.checkpoints import load_state_dict

    run = read_run(checkpoint_folder(run_dir))
    if len(run.checkpoints) < MIN_CHECKPOINTS:
        return None
    states = [list(load_state_dict(p).values()) for _, p in run.checkpoints]
    plane = pca_plane([flatten(s) for s in states], biasbn_mask(states[-1]))
    return PathSoFar(np.array([e for e, _ in run.checkpoints]), plane.x, plane.y,
                     plane.explained_variance, str(run.train.get("unit", "epoch")))


class RunFolderWindow(QDialog):
    """The records and path of ``run_dir``, followed as they grow; ``pcaRequested(folder)``
    asks the window for the landscape on the finished run's PCA plane."""

    pcaRequested = Signal(str)

    def __init__(self, run_dir: str, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_dir = Path(run_dir)
        self.tasks = tasks
        self.setWindowTitle(f"Run {self.run_dir.name} — geometry during training")
        self.resize(820, 600)
        self.header = QLabel(str(self.run_dir))
        self.header.setWordWrap(True)
        self.eos = EosPanel(self, title=self.run_dir.name)
        self.trajectory = LivePathView(self)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.eos, "Edge of stability")
        self.tabs.addTab(self.trajectory, "Trajectory")
        self.pca_button = QPushButton("Use for PCA plane")
        self.pca_button.setToolTip("Compute the landscape on the PCA plane of these "
                                   "checkpoints, the path drawn over it")
        self.pca_button.setEnabled(False)
        self.pca_button.clicked.connect(
            lambda: self.pcaRequested.emit(str(checkpoint_folder(self.run_dir))))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        row = QHBoxLayout()
        row.addWidget(self.pca_button)
        row.addStretch(1)
        row.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addWidget(self.tabs, 1)
        lay.addLayout(row)
        self._seen_run: Any = None
        self.path_task: Task | None = None
        self.eos.follow(self.run_dir, POLL_MS)
        self.timer = QTimer(self)  # the checkpoints: their path refitted when they change
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.reload_path)
        self.reload_path()
        self.timer.start()

    def reload(self) -> bool:
        """Re-read the records if the file changed since the last read; True if it did."""
        return self.eos.reload()

    def reload_path(self) -> Task | None:
        """Refit the path in the background when the checkpoints changed (one at a time)."""
        from lossviz_core.runs import RUN_FILE

        seen = file_stamp(checkpoint_folder(self.run_dir) / RUN_FILE)
        if seen is None or seen == self._seen_run or self.path_task is not None:
            return None
        self._seen_run = seen
        folder = self.run_dir
        self.path_task = self.tasks.call(lambda: path_so_far(folder), self._path_done,
                                         on_error=self._path_failed,
                                         on_finish=self._path_finished, parent=self,
                                         quiet=True)  # the next change reads again
        return self.path_task

    def _path_done(self, path: PathSoFar | None) -> None:
        self.trajectory.set_path(path)
        self.pca_button.setEnabled(path is not None)

    def _path_failed(self, message: str) -> None:
        self.trajectory.status.setText(f"Cannot draw the path yet: {message}")

    def _path_finished(self) -> None:
        self.path_task = None

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Stop following; wait (bounded) for a path being read."""
        self.timer.stop()
        self.eos.stop_following()
        return self.path_task is None or self.path_task.stop(timeout_ms)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt naming)
        self.stop()
        super().closeEvent(event)


def open_run_folder(actions: Any, run_dir: str | None = None) -> RunFolderWindow | None:
    """The menu action (``actions``: the window's menus): ask for a folder unless given, and
    show it followed live; *Use for PCA plane* computes the landscape in the window."""
    if run_dir is None:
        run_dir = QFileDialog.getExistingDirectory(actions.parent, "Open a run folder",
                                                   settings_store.last_path("run"))
        if not run_dir:
            return None
        settings_store.set_last_path("run", run_dir)
    window = RunFolderWindow(run_dir, actions.runner, actions.parent)
    window.pcaRequested.connect(actions.use_run_for_pca)
    actions.run_windows = [w for w in actions.run_windows if w.isVisible()] + [window]
    window.show()
    return window
