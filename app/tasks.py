"""One runner for every piece of the window's background work, with one error path.

A task is a generator (or a plain function) that a :class:`~lossviz.worker.GeneratorWorker`
drives in its own thread; what it yields, returns and raises comes back on the GUI thread to
the callables given to :meth:`TaskRunner.start`. Every failure goes one way: the task's own
``on_error`` (its status line) first, then one message box (:func:`lossviz.dialogs.show_error`)
over the task's widget, unless the task is ``quiet`` (a poll whose next tick reads again). The
runner lists the tasks still running, so a window waits for all of them when it closes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from . import dialogs
from .worker import GeneratorWorker, call_in_thread


class Task(QObject):
    """One piece of work in flight: its worker, and the callables its signals reach on the
    GUI thread (bound slots of an object living there, so Qt queues them across)."""

    def __init__(self, runner: TaskRunner, worker: GeneratorWorker,
                 on_item: Callable[[Any], None] | None, on_done: Callable[[Any], None] | None,
                 on_error: Callable[[str], None] | None, on_finish: Callable[[], None] | None,
                 parent: QWidget | None, quiet: bool) -> None:
        super().__init__()
        self.runner, self.worker = runner, worker
        self._item, self._done, self._error, self._finish = on_item, on_done, on_error, on_finish
        self.parent_widget, self.quiet = parent, quiet
        worker.yielded.connect(self.deliver_item)
        worker.returned.connect(self.deliver_done)
        worker.errored.connect(self.deliver_error)
        worker.finished.connect(self.deliver_finished)

    @property
    def cancelled(self) -> bool:
        return self.worker.cancelled

    def cancel(self) -> None:
        """Ask the work to stop after the item it is computing (thread-safe)."""
        self.worker.cancel()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait up to ``timeout_ms`` for the thread; True if it has stopped."""
        return self.worker.stop(timeout_ms)

    @Slot(object)
    def deliver_item(self, item: Any) -> None:
        if self._item is not None:
            self._item(item)

    @Slot(object)
    def deliver_done(self, value: Any) -> None:
        if self._done is not None:
            self._done(value)

    @Slot(str, str)
    def deliver_error(self, message: str, details: str) -> None:
        self.runner.report(self, message, details)

    @Slot()
    def deliver_finished(self) -> None:
        if self in self.runner.tasks:
            self.runner.tasks.remove(self)
        if self._finish is not None:
            self._finish()


class TaskRunner(QObject):
    """Starts tasks, lists the running ones, reports their errors; ``failed(message)`` after
    every error a task reported."""

    failed = Signal(str)
    _posted = Signal(object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.tasks: list[Task] = []
        self._posted.connect(self._deliver_posted)

    def start(self, make: Callable[[], Generator[Any, Any, Any]], *,
              on_item: Callable[[Any], None] | None = None,
              on_done: Callable[[Any], None] | None = None,
              on_error: Callable[[str], None] | None = None,
              on_finish: Callable[[], None] | None = None,
              parent: QWidget | None = None, quiet: bool = False,
              no_grad: bool = True) -> Task:
        """Run the generator ``make()`` returns in a worker thread (``no_grad=False`` for
        training and Hessians, which need gradients)."""
        return self._start(GeneratorWorker(make, no_grad=no_grad), on_item, on_done, on_error,
                           on_finish, parent, quiet)

    def call(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None, *,
             on_error: Callable[[str], None] | None = None,
             on_finish: Callable[[], None] | None = None, parent: QWidget | None = None,
             quiet: bool = False) -> Task:
        """Call ``fn()`` in a worker thread; ``on_done(value)`` on the GUI thread."""
        return self._start(call_in_thread(fn), None, on_done, on_error, on_finish, parent,
                           quiet)

    def _start(self, worker: GeneratorWorker, *callbacks: Any) -> Task:
        task = Task(self, worker, *callbacks)
        self.tasks.append(task)
        worker.start()
        return task

    def report(self, task: Task, message: str, details: str) -> None:
        """The one error path: the task's status line, then a message box unless quiet."""
        if task._error is not None:
            task._error(message)
        if not task.quiet:
            dialogs.show_error(task.parent_widget or self.parent_widget, message, details)
        self.failed.emit(message)

    def post(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """A callable any thread may call with one value: ``fn(value)`` runs on this one's
        (the GUI thread), queued (e.g. Ray's worker states, reported from its driver)."""
        return lambda value: self._posted.emit(fn, value)

    @Slot(object, object)
    def _deliver_posted(self, fn: Callable[[Any], None], value: Any) -> None:
        fn(value)

    def stop_all(self, timeout_ms: int) -> bool:
        """Cancel every task and wait (bounded) for their threads; True if all stopped."""
        return all([task.stop(timeout_ms) for task in list(self.tasks)])
