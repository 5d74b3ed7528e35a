"""A full disk: one line, no crash, no temporaries left, and a resume that needs no new space.

Each test runs on a real small tmpfs where it may be mounted, else with RLIMIT_FSIZE
standing in for the full disk (``disk.py`` says how; each test's ``disk.kind`` says which).
"""

from __future__ import annotations

import errno
import subprocess
import sys

import h5py
import numpy as np
from disk import leftovers, small_disk

from lossviz_core.cli import main
from lossviz_core.results.store import SurfaceStore, read_result

CLI = [sys.executable, "-m", "lossviz_core.cli"]
FIXED = ["--multi", "off", "--batch-size", "256", "--precision", "fp32", "--device", "cpu"]


def error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("lossviz: error")]


def test_a_full_disk_before_the_file_is_made_is_one_line_and_leaves_nothing(tmp_path):
    """It was a segmentation fault after h5py tracebacks, leaving .r.h5.PID.tmp and the lock."""
    with small_disk(tmp_path) as disk:
        disk.fill()
        for extra in ([], ["--save-directions", str(disk.folder / "d.h5")]):
            done = subprocess.run([*CLI, "surface", "--demo", "--x=-1:1:21", "--y=-1:1:21",
                                   *FIXED, *extra, "--out", str(disk.folder / "r.h5")],
                                  capture_output=True, text=True, timeout=300,
                                  preexec_fn=disk.preexec)
            assert done.returncode == 2, (disk.kind, done.returncode, done.stderr)
            assert len(error_lines(done.stderr)) == 1, (disk.kind, done.stderr)
            assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
            assert leftovers(disk.folder) == [], disk.kind
            assert not (disk.folder / "r.h5").exists() and not (disk.folder / "d.h5").exists()


def test_a_disk_that_fills_after_the_last_point_still_finishes_the_file(tmp_path, capsys,
                                                                        monkeypatch):
    """Finishing wrote a new 'updated' attribute (new space: "Can't close file", exit 2, an
    unreadable attribute); it is now a fixed-width stamp rewritten in place."""
    with small_disk(tmp_path) as disk:
        out = disk.folder / "r.h5"
        real = SurfaceStore.write_chunk
        state = {"full": None}

        def write_chunk(self, indices, values, plan=0):
            real(self, indices, values, plan)
            if self.written == 81:  # the 9 x 9 grid's last point is written
                state["full"] = disk.full(new_file_bytes=64)  # after the last point
                state["full"].__enter__()

        monkeypatch.setattr(SurfaceStore, "write_chunk", write_chunk)
        try:
            code = main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:9", *FIXED, "--out",
                         str(out)])
        finally:
            if state["full"] is not None:
                state["full"].__exit__(None, None, None)
        err = capsys.readouterr().err
        assert state["full"] is not None
        assert code == 0, (disk.kind, err)
        assert read_result(out).done.all()
        with h5py.File(out, "r") as f:  # an independent reader: the stamp reads back
            stamp = f["lossviz"].attrs["updated"]
        assert bytes(stamp).decode().strip().startswith("20")
        assert leftovers(disk.folder) == []


def test_a_resume_on_a_full_disk_writes_only_its_own_points(tmp_path, capsys, monkeypatch,
                                                           cut_after_one_chunk):
    """--resume could not start: writing its PID into the lock file failed (ENOSPC)."""
    from lossviz_core.results import paths

    with small_disk(tmp_path) as disk:
        out = disk.folder / "r.h5"
        argv = ["surface", "--demo", "--x=-1:1:9", "--y=-1:1:9", *FIXED, "--out", str(out)]
        cut_after_one_chunk()
        assert main(argv) == 130
        monkeypatch.undo()
        cut = read_result(out)
        assert 0 < cut.done.sum() < cut.done.size
        real_pwrite = paths.os.pwrite

        def no_space(fd, data, offset):  # where a full disk refuses the PID (tmpfs: for real)
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(paths.os, "pwrite", no_space)
        with disk.full():
            code = main(["surface", "--resume", "--out", str(out)])
        monkeypatch.setattr(paths.os, "pwrite", real_pwrite)
        err = capsys.readouterr().err
        assert code == 0, (disk.kind, err)
        done = read_result(out)
        assert done.done.all()
        np.testing.assert_array_equal(done.values["train_loss"][cut.done],
                                      cut.values["train_loss"][cut.done])
        assert leftovers(disk.folder) == []
