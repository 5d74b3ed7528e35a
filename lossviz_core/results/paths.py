"""Output files a user can trust: nothing replaced unasked, one writer at a time, no leftovers.

- :func:`check_output` refuses what must not be written (a symlink, a device, a FIFO, a
  folder, a missing folder) and an existing file unless the caller may replace or resume it.
- :func:`check_input` refuses what cannot be read without hanging (a FIFO, a device).
- :class:`OutputLock` is held by the one process writing a result: a second writer of the
  same file is refused at once, before any work (``flock`` on ``.NAME.lock``, released by
  the kernel if the writer dies, so a killed run never leaves a lock that blocks).
- :func:`clean_stale_temporaries` removes the temporary files (``.NAME.PID.tmp``) of
  writers that died before renaming them into place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from lossviz_core.atomic import temp_path  # noqa: F401 (the writers' temporaries)
from lossviz_core.errors import StoreError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer is the user's responsibility
    fcntl = None  # type: ignore[assignment]


def _kind(mode: int) -> str | None:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return None


def check_output(path: str | os.PathLike, what: str = "file", may_exist: bool = False,
                 hint: str = "pass --overwrite to replace it") -> Path:
    """``path`` as a file this run may write: absent (its folder existing), or, with
    ``may_exist``, a regular file. Anything else is one :class:`StoreError` line."""
    path = Path(path).expanduser()
    if path.is_symlink():
        raise StoreError(f"{what} {path} is a symbolic link; give the real file name")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        kind = _kind(st.st_mode)
        if kind is not None:
            raise StoreError(f"{what} {path} is {kind}, not a regular file")
        if not may_exist:
            raise StoreError(f"{what} {path} already exists: {hint}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StoreError(f"folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise StoreError(f"cannot write {what} {path}: the folder {parent} is read-only")
    return path


def check_input(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` as a regular file to read (a FIFO or device would hang or mislead)."""
    path = Path(path).expanduser()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise StoreError(f"no such file: {path}") from None
    except OSError as exc:
        raise StoreError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    kind = _kind(st.st_mode)
    if kind is not None:
        raise StoreError(f"{what} {path} is {kind}, not a regular file")
    return path


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


class OutputLock:
    """Exclusive right to write ``path`` for this process (see the module docstring)."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path, self._fd = path, fd

    @classmethod
    def acquire(cls, path: str | os.PathLike) -> OutputLock:
        path = Path(path).expanduser().resolve()
        if fcntl is None:
            return cls(path, None)
        lock = lock_path(path)
        for _ in range(5):
            fd = _open_lock(lock, path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = _read_pid(fd)
                os.close(fd)
                who = f" (pid {pid})" if pid else ""
                raise StoreError(f"{path} is being written by another LossViz process{who}; "
                                 "wait for it or choose another output file") from None
            try:  # the lock file may have been removed and recreated meanwhile: retry then
                same = os.fstat(fd).st_ino == os.stat(lock).st_ino
            except FileNotFoundError:
                same = False
            if same:
                try:  # who holds it, for the message a second writer gets; a full disk
                    os.ftruncate(fd, 0)  # must not stop a resume that needs no new space
                    os.pwrite(fd, str(os.getpid()).encode(), 0)
                except OSError:
                    pass
                return cls(path, fd)
            os.close(fd)
        raise StoreError(f"cannot lock {path} for writing; try again")

    def release(self) -> None:
        """Give the file up (and remove the lock file); safe to call twice, and from a
        signal that interrupts it (the descriptor is forgotten before it is closed)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            lock_path(self.path).unlink(missing_ok=True)
        except OSError:
            pass
        try:
            os.close(fd)
        except OSError:
            pass

    def __del__(self) -> None:  # a store nobody finished or closed still lets go
        self.release()

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def being_written(path: str | os.PathLike) -> bool:
    """Whether another process holds ``path``'s :class:`OutputLock` right now."""
    lock = lock_path(Path(path).expanduser().resolve())
    if fcntl is None or not lock.exists():
        return False
    try:
        fd = os.open(lock, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _open_lock(lock: Path, path: Path) -> int:
    """The lock file's descriptor: never through a symbolic link (a planted one would make us
    truncate its target), and only a regular file of ours with no other name."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                     0o644)
    except OSError as exc:
        kind = {errno.ELOOP: "a symbolic link", errno.EISDIR: "a folder"}.get(exc.errno)
        if kind is not None:
            raise StoreError(f"the lock file {lock} is {kind}; refusing to use it (remove "
                             "it)") from None
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = _kind(st.st_mode) or "not a regular file"
    elif hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        problem = "another user's file"
    elif st.st_nlink > 1:
        problem = "a file with other names (a hard link)"
    if problem is not None:
        os.close(fd)
        raise StoreError(f"the lock file {lock} is {problem}; refusing to use it (remove it)")
    return fd


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def clean_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove ``.NAME.PID.tmp`` files beside ``path`` whose writer is no longer running."""
    path = Path(path)
    removed = []
    folder = path.parent if str(path.parent) else Path(".")
    try:
        candidates = list(folder.glob(f".{path.name}.*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        pid = tmp.name[len(path.name) + 2 : -len(".tmp")]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def new_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Make folder ``path`` (with missing parents) for a writer; if the writer fails or is
    stopped before putting anything in them, the folders made here are removed again (a
    full or read-only disk leaves no empty folders behind)."""
    path = Path(path)
    made = []
    p = path
    while not p.exists() and p != p.parent:
        made.append(p)
        p = p.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        remove_empty(made)
        raise StoreError(f"cannot make folder {path}: {exc.strerror or exc}") from None
    try:
        yield path
    except BaseException:
        remove_empty(made)
        raise


def remove_empty(folders: list[Path]) -> None:
    """Remove each of ``folders`` that is empty (give a folder before its parent)."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def partial_path(path: Path) -> Path:
    """Where a run that replaces ``path`` (``--overwrite``: a result file, a run folder)
    writes until it is complete."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")
