"""Atomic file writes: a file is either the old one or the whole new one, never half."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from lossviz_core.errors import StoreError


def temp_path(path: Path) -> Path:
    """The temporary file a writer of ``path`` uses before renaming it into place."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _discard(tmp: Path) -> None:
    try:  # a read-only or vanished folder must not hide the error that brought us here
        tmp.unlink(missing_ok=True)
    except OSError:
        pass


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, what: str = "file",
                exclusive: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it becomes ``path``.

    ``exclusive``: never replace an existing ``path`` (a hard link makes the new file
    appear only if none is there; :class:`StoreError` otherwise). Any failure (an
    ``OSError`` becomes a one-line :class:`StoreError`, anything else is re-raised,
    KeyboardInterrupt and SIGTERM included) removes the temporary file and leaves ``path``
    as it was.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        yield tmp
        if exclusive:
            _link_into_place(tmp, path, what)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise StoreError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
    except BaseException:
        _discard(tmp)
        raise


def _link_into_place(tmp: Path, path: Path, what: str) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise StoreError(f"{what} {path} already exists (another process made it)") from None
    except OSError:  # a file system without hard links: the caller's lock keeps it single
        if path.exists():
            raise StoreError(f"{what} {path} already exists (another process made it)") from None
        os.replace(tmp, path)
        return
    _discard(tmp)
