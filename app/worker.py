"""Run an engine generator in a QThread and report back by queued signals.

The design (superqt's ``GeneratorWorker``): the worker is constructed with a callable that
*returns* a generator, so even the slow set-up (``job.prepare``) runs in the thread. The GUI
never touches engine state directly; it receives ``yielded`` / ``returned`` / ``errored`` on
its own thread (through :class:`lossviz.tasks.TaskRunner`, which every task of the window
goes through). ``cancel()`` sets a flag checked between yields; the generator is then closed
in the worker thread so its ``finally`` blocks run (the store flushes).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from lossviz_core.errors import LossVizError

# Threads still running when their owner went away: kept referenced until they finish, so
# Qt never destroys a running QThread.
_LIVE: dict[QThread, GeneratorWorker] = {}


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(message, details) for a dialog: LossVizError text alone, else text + traceback."""
    if isinstance(exc, LossVizError):
        from .messages import for_window

        return for_window(str(exc)), ""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    name = type(exc).__name__
    if "OutOfMemoryError" in name or "out of memory" in str(exc).lower():
        return (
            "The device ran out of memory. Try a smaller batch size, a subsample of the "
            "dataset, fp32 off (bf16), or the CPU.",
            tb,
        )
    return f"Unexpected error: {name}: {exc}", tb


class GeneratorWorker(QObject):
    """Drive ``make_generator()`` in a worker thread, one ``yielded`` signal per item.

    Signals: ``started``, ``yielded(object)``, ``returned(object)`` (the generator's return
    value; not emitted when cancelled or failed), ``errored(message, details)``, ``finished``
    (always last). ``no_grad``: evaluate under ``torch.no_grad()`` (thread-local, so it is
    entered here, in the worker thread).
    """

    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(str, str)
    finished = Signal()

    def __init__(self, make_generator: Callable[[], Generator[Any, Any, Any]],
                 no_grad: bool = True) -> None:
        super().__init__()
        self._make_generator = make_generator
        self._no_grad = no_grad  # False for training, which needs gradients
        self._cancel = threading.Event()
        self.thread: QThread | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the generator to stop after the item it is computing (thread-safe)."""
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        """Iterate the generator; runs in the worker thread."""
        import torch  # no_grad is thread-local: it must be entered here, in the worker

        _lower_thread_priority()
        self.started.emit()
        gen = None
        try:
            with torch.set_grad_enabled(not self._no_grad):
                gen = self._make_generator()
                while not self._cancel.is_set():
                    try:
                        item = next(gen)
                    except StopIteration as stop:
                        self.returned.emit(stop.value)
                        break
                    self.yielded.emit(item)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a message
            message, details = describe_exception(exc)
            self.errored.emit(message, details)
        finally:
            if gen is not None:
                try:
                    gen.close()  # runs the generator's finally blocks (store flush)
                except BaseException as exc:  # noqa: BLE001
                    self.errored.emit(*describe_exception(exc))
            self.finished.emit()

    # -- thread management -------------------------------------------------------------

    def start(self) -> QThread:
        """Move to a new QThread and start it; the thread quits when the worker finishes."""
        thread = QThread()
        thread.setObjectName("lossviz-worker")
        self.moveToThread(thread)
        thread.started.connect(self.run)
        # direct: quit from the worker thread itself, so it works while the GUI thread waits
        self.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread = thread
        _LIVE[thread] = self
        thread.start()
        return thread

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait up to ``timeout_ms`` for the thread; True if it has stopped."""
        self.cancel()
        thread = self.thread
        if thread is None:
            return True
        if thread.isRunning():
            thread.quit()  # the event loop ends once run() returns
            if not thread.wait(timeout_ms):
                return False
        _LIVE.pop(thread, None)
        return True


def _lower_thread_priority(niceness: int = 5) -> None:
    """Let the GUI thread win the CPU when both are runnable (Linux: nice is per thread)."""
    if hasattr(os, "setpriority") and sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        except OSError:
            pass


def running_threads() -> list[QThread]:
    """Worker threads that have not finished yet (tests assert this is empty)."""
    for t in [t for t in list(_LIVE) if t.isFinished()]:
        _LIVE.pop(t, None)
    return [t for t in list(_LIVE) if t.isRunning()]


def wait_all(timeout_ms: int = 10000) -> bool:
    """Wait for every worker thread (at application exit); True if all stopped."""
    for w in list(_LIVE.values()):
        w.cancel()
    ok = True
    for t in list(_LIVE):
        ok = t.wait(timeout_ms) and ok
    running_threads()
    return ok


def call_in_thread(fn: Callable[[], Any]) -> GeneratorWorker:
    """A worker that calls a plain function ``fn()`` and returns its value (not started)."""

    def gen() -> Generator[Any, Any, Any]:
        return (yield from _returning(fn))

    return GeneratorWorker(gen)


def _returning(fn: Callable[[], Any]) -> Generator[Any, Any, Any]:
    return fn()
    yield  # pragma: no cover - makes this a generator function


# At interpreter exit, never let Qt destroy a QThread that is still running.
atexit.register(wait_all, 5000)
