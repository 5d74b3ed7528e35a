"""Watching a result file another process is writing: re-read it, draw what it gained."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

if TYPE_CHECKING:
    from .tasks import TaskRunner

WATCH_MS = 1000  # how often a file another process is writing is read again


class FileWatcher(QObject):
    """Reads ``path`` every second while another LossViz writes it, through ``tasks``;
    ``on_result(path, result, writing)`` gets each read on the GUI thread. A read that met a
    write fails quietly: the next tick reads again."""

    def __init__(self, on_result: Callable[[str, Any, bool], None], tasks: TaskRunner,
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

        def read() -> tuple[Any, bool]:
            from lossviz_core.results.paths import being_written
            from lossviz_core.results.store import read_result

            writing = being_written(path)  # before the read: a finished writer's last points
            return read_result(path), writing

        def shown(got: tuple[Any, bool]) -> None:
            if self.path == path:
                self.on_result(path, *got)

        self._reading = True
        self.tasks.call(read, shown, on_finish=self._read_done, quiet=True)

    def _read_done(self) -> None:
        self._reading = False
