"""Trust under faults: readers never stop a job, one writer per file, kills leave resumable
files that resume bit-equal, writes stay per chunk, nothing is replaced unasked."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from lossviz_core.cli import main
from lossviz_core.recipe.spec import GridSpec, Range
from lossviz_core.results.store import SurfaceStore, read_decisions, read_result
from lossviz_core.run.grid import make_result

CLI = [sys.executable, "-m", "lossviz_core.cli"]
FIXED = ["--multi", "off", "--batch-size", "256", "--precision", "fp32",
         "--memory-format", "contiguous"]  # every decision a busy machine could change
def start(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def wait_for(predicate, timeout=60.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_readers_holding_and_polling_never_stop_the_job(tmp_path):
    out = tmp_path / "watched.h5"
    job = start("surface", "--demo", "--x=-1:1:31", "--y=-1:1:31", *FIXED, "--out", out)
    assert wait_for(out.exists), job.communicate()
    holder = subprocess.Popen([sys.executable, "-c",  # a notebook holding the file open
                               f"import h5py, time; f = h5py.File({str(out)!r}, 'r'); "
                               "time.sleep(60)"])
    reads, failures, ended, last = [], [], threading.Event(), []

    def poll():
        after_end = 0
        while after_end < 100:
            over = ended.is_set()  # taken before the read: a read after it saw the job's end
            got = None
            try:
                with h5py.File(out, "r") as f:  # a plain reader, HDF5's default locking
                    f["train_loss"][()]
                got = read_result(out)
                reads.append(got)
            except Exception as exc:  # noqa: BLE001 - counted, never fatal to the writer
                failures.append(exc)
            if over:
                after_end += 1
                if got is not None:  # the poller's own read of the finished file
                    last.append(got)
                    return
            time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        _, err = job.communicate(timeout=240)
    finally:
        ended.set()
        poller.join()
        holder.kill()
    assert job.returncode == 0, err
    assert len(reads) > 3
    assert last, f"no read succeeded after the job ended: {failures[-3:]}"
    seen = last[0]
    with h5py.File(out, "r") as f:  # the finished file, read independently of read_result
        done = f["lossviz/done"][()].astype(bool)
        stored = {q: f[q][()] for q in ("train_loss", "train_acc")}
    assert done.shape == (31, 31) and done.all()
    assert set(seen.values) == set(stored)
    for q, values in stored.items():
        assert np.isfinite(values).all()
        np.testing.assert_array_equal(seen.values[q], values)
    np.testing.assert_array_equal(seen.done, done)
    for r in reads:  # a reader never saw a point done without its value
        assert np.isfinite(r.values["train_loss"][r.done]).all()
    assert leftovers(tmp_path) == []


def test_a_second_writer_is_refused_at_once(tmp_path):
    out = tmp_path / "one.h5"
    first = start("surface", "--demo", "--x=-1:1:41", "--y=-1:1:41", *FIXED, "--out", out)
    lock = tmp_path / ".one.h5.lock"
    assert wait_for(lock.exists), first.communicate()
    second = subprocess.run([*CLI, "surface", "--demo", "--x=-1:1:5", "--y=-1:1:5", "--out",
                             str(out), "--overwrite"], capture_output=True, text=True)
    assert second.returncode == 2
    lines = [ln for ln in second.stderr.splitlines() if ln.startswith("lossviz: error")]
    assert len(lines) == 1 and "being written by another LossViz process" in lines[0]
    assert "Traceback" not in second.stderr
    assert first.poll() is None, "refused while the first one still runs"  # at once: no wait
    _, err = first.communicate(timeout=240)
    assert first.returncode == 0, err
    assert read_result(out).shape == (41, 41) and read_result(out).done.all()
    assert leftovers(tmp_path) == []


def _done(out: Path) -> int:
    return int(read_result(out).done.sum()) if out.exists() else 0


def test_sigkill_mid_run_and_at_a_random_moment_then_resume_is_bit_equal(tmp_path):
    args = ["surface", "--demo", "--x=-1:1:25", "--y=-1:1:21", *FIXED]
    ref = subprocess.run([*CLI, *args, "--out", str(tmp_path / "ref.h5")], capture_output=True,
                         text=True)
    assert ref.returncode == 0, ref.stderr
    want = read_result(tmp_path / "ref.h5")
    total = want.done.size
    rng = random.Random(12)
    for trial in range(4):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        out = folder / "cut.h5"
        job = start(*args, "--out", out)
        mid_run = trial < 3
        if mid_run:  # killed once the file holds a random share of the points, not all
            target = max(1, int(total * rng.uniform(0.05, 0.9)))
            assert wait_for(lambda o=out, t=target, j=job: _done(o) >= t or j.poll() is not None,
                            timeout=600), f"trial {trial}: no progress"
        else:  # a moment at random: often before the file exists (a stale temporary)
            time.sleep(rng.uniform(0.3, 5.0))
        job.kill()
        job.communicate()
        if mid_run:
            assert job.returncode == -signal.SIGKILL, f"trial {trial} ended before the kill"
        if out.exists():
            cut = read_result(out)  # readable after any kill
            if mid_run:
                assert 0 < cut.done.sum() < total, f"trial {trial} was not killed mid-run"
            resumed = subprocess.run([*CLI, "surface", "--resume", "--out", str(out)],
                                     capture_output=True, text=True)
            assert resumed.returncode == 0, resumed.stderr
        else:  # killed before the file was made: start again, a stale temporary is cleaned
            assert not mid_run
            cut = None
            again = subprocess.run([*CLI, *args, "--out", str(out)], capture_output=True,
                                   text=True)
            assert again.returncode == 0, again.stderr
        got = read_result(out)
        assert got.done.all()
        for q in want.values:
            np.testing.assert_array_equal(got.values[q], want.values[q])
        if cut is not None:
            np.testing.assert_array_equal(got.values["train_loss"][cut.done],
                                          cut.values["train_loss"][cut.done])
        assert leftovers(folder) == [], f"trial {trial} left {leftovers(folder)}"
        assert read_decisions(out)[-1]["batch_size"] == 256


def test_resume_computes_the_rest_as_the_file_says(tmp_path, capsys, monkeypatch, request,
                                                    cut_after_one_chunk):
    """No flags on resume: the file's batch, mode and CPU threads are used, not a new
    probe's or the load's."""
    import torch

    def keep_threads():  # the load-based thread policy would pick its own count
        monkeypatch.setattr("lossviz_core.device.threads_for_load",
                            lambda: (torch.get_num_threads(), "threads as set"))

    threads = torch.get_num_threads()
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    out = tmp_path / "pinned.h5"
    cut_after_one_chunk()
    keep_threads()
    torch.set_num_threads(1)
    assert main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:7", "--batch-size", "100",
                 "--multi", "off", "--memory-format", "contiguous", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    cut = read_result(out)
    n = int(cut.done.sum())
    assert f"interrupted: {n}/63 points saved in {out}" in err
    assert read_decisions(out)[-1]["threads"] == 1
    monkeypatch.undo()
    keep_threads()
    torch.set_num_threads(2)  # a quieter machine on resume
    assert main(["surface", "--resume", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "as the file's points were computed" in err and "batch 100, 1 thread " in err
    assert "1 CPU thread, as the file's points were computed" in err
    assert torch.get_num_threads() == 1 and read_decisions(out)[-1]["threads"] == 1
    assert f"{n}/63" in err  # the progress bar starts where the file is
    full = tmp_path / "full.h5"
    # an uninterrupted run with the same pinned decisions (the memory format too: a busy
    # machine's probe may pick the other, which sums in another order)
    assert main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:7", "--batch-size", "100",
                 "--multi", "off", "--memory-format", "contiguous", "--out", str(full)]) == 0
    np.testing.assert_array_equal(read_result(out).values["train_loss"],
                                  read_result(full).values["train_loss"])
    # another precision than the file's is refused, in one line
    cut_after_one_chunk()
    other = tmp_path / "bf.h5"
    main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:7", "--precision", "bf16",
          "--out", str(other)])
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:7", "--precision", "fp32",
                 "--resume", "--out", str(other)]) == 2
    assert "computed in bf16" in capsys.readouterr().err


def test_a_resumes_threads_are_the_files_within_the_cores_unless_the_user_set_them(
        monkeypatch, request):
    import torch

    from lossviz_core.device import resume_threads

    threads = torch.get_num_threads()
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert resume_threads(None) is None  # an old file: the load decides
    n, why = resume_threads(64)  # computed on a bigger machine: at most this one's cores
    assert n == torch.get_num_threads() == 2 and "64 computed" in why
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert resume_threads(1) is None  # the user's setting wins


class Rows:
    """A fast stand-in evaluator: loss = flat index."""

    chunk_size = 64

    def __init__(self, nx):
        self.nx = nx

    def evaluate(self, coords):
        return {"train_loss": coords[:, 0] * 1000 + coords[:, 1],
                "train_acc": np.zeros(len(coords))}


def _written_bytes() -> int:
    with open("/proc/self/io") as f:
        return int(next(ln for ln in f if ln.startswith("wchar")).split()[1])


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc")
def test_a_chunk_writes_its_cells_only_and_the_file_never_grows(tmp_path):
    per_chunk, growth = {}, {}
    for n in (101, 1001):
        grid = GridSpec(Range(-1, 1, n), Range(-1, 1, n))
        result = make_result(grid)
        out = tmp_path / f"g{n}.h5"
        store = SurfaceStore.open(out, result)
        size0 = out.stat().st_size
        rng = np.random.default_rng(0)
        deltas = []
        for _ in range(20):
            idx = rng.choice(n * n, 64, replace=False)
            values = {"train_loss": rng.random(64), "train_acc": rng.random(64)}
            before = _written_bytes()
            store.write_chunk(idx, values)
            deltas.append(_written_bytes() - before)
        growth[n] = out.stat().st_size - size0
        per_chunk[n] = int(np.median(deltas))
        store.close()
        back = read_result(out)
        assert back.done.sum() <= 20 * 64 and np.isnan(back.values["train_loss"][~back.done]).all()
    assert growth == {101: 0, 1001: 0}
    assert per_chunk[1001] < 2 * per_chunk[101] + 4096, per_chunk
    assert per_chunk[1001] < 256 * 1024, per_chunk  # not the 8 MB a dataset holds


def test_a_partial_reference_file_resumes_to_the_full_surface(tmp_path, capsys):
    full = tmp_path / "full.h5"
    grid = ["--x=-1:1:5", "--y=-1:1:3", *FIXED]
    assert main(["surface", "--demo", *grid, "--out", str(full)]) == 0
    want = read_result(full)
    ref = tmp_path / "ref.h5"
    x, y = want.x, want.y
    with h5py.File(ref, "w") as f:  # the reference's layout: (nx, ny) declared, flat filled
        f["xcoordinates"], f["ycoordinates"] = x, y
        for q in ("train_loss", "train_acc"):
            flat = want.values[q].ravel().copy()
            flat[[1, 4, 7, 8, 13]] = -1  # not computed yet
            f[q] = flat.reshape(len(x), len(y))
    assert main(["surface", "--demo", *grid, "--resume", "--out", str(ref)]) == 0
    capsys.readouterr()
    got = read_result(ref)
    assert got.done.all()
    np.testing.assert_allclose(got.values["train_loss"], want.values["train_loss"], rtol=1e-12)
    # a file whose train_loss was deleted resumes by recomputing it, not by "completing"
    with h5py.File(full, "r+") as f:
        del f["train_loss"]
    assert main(["surface", "--demo", *grid, "--resume", "--out", str(full)]) == 0
    np.testing.assert_allclose(read_result(full).values["train_loss"], want.values["train_loss"],
                               rtol=1e-12)


def test_overwrite_replaces_only_a_complete_result(tmp_path, capsys, monkeypatch,
                                                   cut_after_one_chunk):
    out = tmp_path / "s.h5"
    args = ["surface", "--demo", "--x=-1:1:5", "--y=-1:1:5", "--out", str(out)]
    assert main(args) == 0
    old = read_result(out).values["train_loss"].copy()
    cut_after_one_chunk()
    assert main([*args, "--seed", "3", "--overwrite"]) == 130
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "kept as it was" in err and "s.partial.h5" in err
    np.testing.assert_array_equal(read_result(out).values["train_loss"], old)
    assert main([*args, "--seed", "3", "--overwrite"]) == 0
    assert not np.array_equal(read_result(out).values["train_loss"], old)
    assert not (tmp_path / "s.partial.h5").exists()


def test_errors_after_the_bar_start_a_line_of_their_own(tmp_path, capsys, monkeypatch):
    from lossviz_core.errors import StoreError
    from lossviz_core.run import grid

    real = grid.iter_surface

    def failing(*a, **k):
        gen = real(*a, **k)
        yield next(gen)
        raise StoreError("the disk went away")

    monkeypatch.setattr("lossviz_core.run.executor.iter_surface", failing)
    assert main(["surface", "--demo", "--x=-1:1:5", "--y=-1:1:5", "--out",
                 str(tmp_path / "e.h5")]) == 2
    err = capsys.readouterr().err
    assert "\nlossviz: error: the disk went away" in err


def test_sigterm_is_ctrl_c_and_sigint_at_start_up_is_one_line(tmp_path):
    out = tmp_path / "term.h5"
    job = start("surface", "--demo", "--x=-1:1:41", "--y=-1:1:41", *FIXED, "--out", out)
    assert wait_for(lambda: out.exists() and read_result(out).done.sum() > 0)
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 130 and "--resume" in err and "Traceback" not in err
    assert leftovers(tmp_path) == []
    # a shell's background job ignores SIGINT: give the child the default Ctrl-C back
    early = subprocess.Popen([sys.executable, "-m", "lossviz", "surface", "--demo", "--out",
                              str(tmp_path / "x.h5")], stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # torch is loading once its library is mapped (its import goes on long after)
    assert wait_for(lambda: early.poll() is not None or "libtorch" in _maps(early.pid),
                    timeout=120) and early.poll() is None, early.communicate()
    early.send_signal(signal.SIGINT)
    _, err = early.communicate(timeout=60)
    assert "Traceback" not in err and early.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("lossviz:"), err  # its one line


def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:  # no /proc, or the process has ended
        return ""


def test_a_full_disk_mid_run_is_one_line_and_resume_completes(tmp_path, capsys, monkeypatch):
    import errno

    from lossviz_core.results import store as store_module

    out = tmp_path / "full.h5"
    real = store_module._write_cells
    calls = {"n": 0, "fail_from": None}

    def filling_up(dset, idx, values):
        calls["n"] += 1
        if calls["fail_from"] is not None and calls["n"] >= calls["fail_from"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(dset, idx, values)

    monkeypatch.setattr(store_module, "_write_cells", filling_up)
    real_write = store_module.SurfaceStore.write_chunk

    def write_chunk(self, indices, values, plan=0):
        if self.written and calls["fail_from"] is None:  # the disk fills after the first chunk
            calls["fail_from"] = calls["n"] + 2  # partway through this chunk's arrays
        return real_write(self, indices, values, plan)

    monkeypatch.setattr(store_module.SurfaceStore, "write_chunk", write_chunk)
    argv = ["surface", "--demo", "--x=-1:1:9", "--y=-1:1:9", *FIXED, "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("lossviz: error")]
    assert len(lines) == 1 and "No space left" in lines[0] and "--resume" in lines[0]
    assert "Traceback" not in err
    cut = read_result(out)
    kept = int(cut.done.sum())
    assert 0 < kept < cut.done.size and np.isfinite(cut.values["train_loss"][cut.done]).all()
    monkeypatch.setattr(store_module, "_write_cells", real)  # space again
    monkeypatch.setattr(store_module.SurfaceStore, "write_chunk", real_write)
    assert main(["surface", "--resume", "--out", str(out)]) == 0
    done = read_result(out)
    assert done.done.all()
    np.testing.assert_array_equal(done.values["train_loss"][cut.done],
                                  cut.values["train_loss"][cut.done])


def test_a_second_ctrl_c_during_cleanup_still_leaves_a_resumable_file(tmp_path):
    out = tmp_path / "twice.h5"
    job = start("surface", "--demo", "--x=-1:1:41", "--y=-1:1:41", *FIXED, "--out", out,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert wait_for(lambda: out.exists() and read_result(out).done.sum() > 0)
    job.send_signal(signal.SIGINT)
    time.sleep(random.Random(5).uniform(0.0, 0.1))  # a moment at random, in the cleanup
    job.send_signal(signal.SIGINT)  # impatient: the cleanup must not be broken by it
    _, err = job.communicate(timeout=60)
    assert job.returncode == 130 and "--resume" in err and "Traceback" not in err
    kept = read_result(out)
    assert 0 < kept.done.sum() < kept.done.size
    assert main(["surface", "--resume", "--out", str(out)]) == 0
    assert read_result(out).done.all() and leftovers(tmp_path) == []


def test_a_stale_temporary_of_a_killed_writer_is_cleaned_and_the_run_goes_on(tmp_path):
    out = tmp_path / "s.h5"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that no longer runs, as a killed writer's
    stale = tmp_path / f".{out.name}.{dead.pid}.tmp"
    stale.write_bytes(b"half an HDF5 file")
    mine = tmp_path / f".{out.name}.{os.getpid()}.tmp.keep"  # not a writer's: left alone
    mine.write_bytes(b"x")
    assert main(["surface", "--demo", "--x=-1:1:3", "--y=-1:1:3", *FIXED, "--out",
                 str(out)]) == 0
    assert read_result(out).done.all()
    assert not stale.exists() and mine.exists()
