"""A folder on a disk that fills up, for the full-disk tests.

Where the tests may mount file systems (root with the capability, as on the development
machine), the folder is a small **tmpfs** and :meth:`SmallDisk.fill` really fills it: every
write that needs a new block fails with ``ENOSPC``. Elsewhere (CI without the capability)
the disk filling is **simulated with RLIMIT_FSIZE**: :meth:`fill` lets no file grow past
the largest one there now (a new file may hold ``new_file_bytes``), so every write that needs
new space fails (``EFBIG`` instead of ``ENOSPC``, at the same call) while writes in place
succeed, as on a full disk. Subprocesses get the same limit through :meth:`preexec`.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path


class SmallDisk:
    def __init__(self, folder: Path, tmpfs: bool) -> None:
        self.folder, self.tmpfs = folder, tmpfs
        self.limit: int | None = None

    @property
    def kind(self) -> str:
        return "tmpfs" if self.tmpfs else "RLIMIT_FSIZE"

    def fill(self, new_file_bytes: int = 2048) -> None:
        """No space left: a tmpfs is filled up; else no file may grow past what is there."""
        if self.tmpfs:
            for block in (4096, 1):  # then the last partial page too
                with contextlib.suppress(OSError):
                    with open(self.folder / f"filler-{uuid.uuid4().hex}", "wb",
                              buffering=0) as f:
                        while True:
                            f.write(b"\0" * block)
            return
        sizes = [p.stat().st_size for p in self.folder.rglob("*") if p.is_file()]
        self.limit = max([new_file_bytes, *sizes])

    @contextlib.contextmanager
    def full(self, new_file_bytes: int = 2048) -> Iterator[None]:
        """This process sees the disk full inside the block (RLIMIT mode: then limits again)."""
        self.fill(new_file_bytes)
        if self.tmpfs:
            yield
            return
        old = resource.getrlimit(resource.RLIMIT_FSIZE)
        previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, old[1]))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, old)
            signal.signal(signal.SIGXFSZ, previous)

    def preexec(self) -> None:
        """For ``subprocess.Popen(preexec_fn=...)``: the child sees the disk full."""
        if self.limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE,
                               (self.limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


@contextlib.contextmanager
def small_disk(tmp_path: Path, size_kib: int = 512) -> Iterator[SmallDisk]:
    """A folder for a disk that fills: a tmpfs of ``size_kib`` when one can be mounted
    (``LOSSVIZ_TEST_NO_MOUNT=1``: the RLIMIT_FSIZE stand-in even then)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0 and not os.environ.get("LOSSVIZ_TEST_NO_MOUNT"):
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs",
                               str(folder)], capture_output=True)
        mounted = done.returncode == 0
    try:
        yield SmallDisk(folder, mounted)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def leftovers(folder: Path) -> list[str]:
    """Files a writer left beside its output: temporaries and locks (fillers excluded)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
