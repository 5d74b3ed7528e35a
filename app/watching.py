"""Watching a result file another process is writing: re-read it, draw what it gained."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer

from .worker import Relay, call_in_thread

WATCH_MS = 1000  # how often a file another process is writing is read again


class FileWatcher(QObject):
    """Reads ``path`` every second while another LossViz writes it; ``on_result(result,
    writing)`` gets each read on the GUI thread. ``tasks``: where running reads are listed
    (so the window waits for them when it closes)."""

    def __init__(self, on_result: Callable[[Any, bool], None], tasks: list,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.on_result, self.tasks = on_result, tasks
        self.path: str | None = None
        self._reading = False
        self.timer = QTimer(self)
        self.timer.setInterval(WATCH_MS)
        self.timer.timeout.connect(self._poll)

    def watch(self, path: str) -> None:
        self.path = path
        self.timer.start()

    def stop(self) -> None:
        self.path = None
        self.timer.stop()

    def _poll(self) -> None:
        path = self.path
        if path is None or self._reading:
            return
        from lossviz_core.results.paths import being_written
        from lossviz_core.results.store import read_result

        writing = being_written(path)
        self._reading = True

        def shown(result: Any) -> None:
            self._reading = False
            if self.path == path:
                self.on_result(result, writing)

        worker = call_in_thread(lambda: read_result(path))
        Relay(worker, shown, self._failed,
              lambda: worker in self.tasks and self.tasks.remove(worker), parent=self)
        self.tasks.append(worker)
        worker.start()

    def _failed(self, message: str, details: str) -> None:
        self._reading = False  # a read that met a write: the next tick reads again
