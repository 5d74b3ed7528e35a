"""Ctrl-C and SIGTERM on the command line: the file keeps what was saved, and the run ends.

SIGTERM (a scheduler, ``kill``) is handled as Ctrl-C: a KeyboardInterrupt wherever the main
thread is. One that lands while a finalizer runs (a ``__del__``, a weak reference's callback:
torch and Ray run many) is swallowed there: Python prints "Exception ignored in ..." and goes
on, and 2 of 20 SIGTERMs were lost so. :func:`install_interrupts` catches such a swallowed
interrupt (``sys.unraisablehook``) and delivers it again a moment later from a helper thread,
outside the finalizer. While a stopped run cleans up, :func:`ignore_interrupts` keeps a
second signal from breaking the cleanup (nor does a re-delivered one).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

EXIT_INTERRUPTED = 130
REDELIVER_SECONDS = 0.05
_hook_installed = False


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM is handled as Ctrl-C: the file keeps what was saved."""
    raise KeyboardInterrupt


def _deliver_again() -> None:
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # ignored while a stopped run cleans up
    except OSError:
        pass


def _unraisable(info: Any) -> None:
    if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
        threading.Timer(REDELIVER_SECONDS, _deliver_again).start()
        return
    _previous_hook(info)


_previous_hook = sys.unraisablehook


def install_interrupts() -> None:
    """SIGTERM as Ctrl-C, and no interrupt lost in a finalizer (main thread only)."""
    global _hook_installed, _previous_hook
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _terminate)
    if not _hook_installed:
        _previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
        _hook_installed = True


def ignore_interrupts() -> None:
    """A run was stopped and cleans up: further Ctrl-C and SIGTERM must not break that."""
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)


def _exit_interrupted(signum: int, frame: object) -> None:
    """Ctrl-C while a compiled library loads: leave at once with one line (nothing is saved yet).

    A KeyboardInterrupt raised inside an extension's import (torch calls back into Python from
    C++) would abort the process with ``terminate called ...`` instead of unwinding."""
    os.write(2, b"\nlossviz: interrupted\n")
    os._exit(EXIT_INTERRUPTED)


def load_libraries() -> None:
    """Import torch with Ctrl-C (and SIGTERM) leaving cleanly, then restore both handlers.
    (Not torchvision: it pulls in torch._dynamo, a second, where nothing may need it.)"""
    if threading.current_thread() is not threading.main_thread():
        import torch  # noqa: F401

        return
    previous = {s: signal.signal(s, _exit_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        import torch  # noqa: F401
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
