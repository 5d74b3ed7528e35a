"""Signals end the run they are sent to, and a local Ray ends with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lossviz_core.results.paths import OutputLock

SWALLOWED = textwrap.dedent("""
    import os, signal, time
    from lossviz_core.cli.signals import install_interrupts
    install_interrupts()

    class Finalized:
        def __del__(self):  # as torch's and Ray's weak-reference callbacks
            os.kill(os.getpid(), signal.SIGTERM)
            total = 0
            for i in range(200000):  # the handler runs here, inside the finalizer
                total += i

    try:
        Finalized()
        for _ in range(1000):
            time.sleep(0.01)
        print("kept running")
    except KeyboardInterrupt:
        print("interrupted")
""")


def test_a_sigterm_landing_in_a_finalizer_still_ends_the_run():
    """2 of 20 SIGTERMs were swallowed ("Exception ignored in WeakValueDictionary ...
    KeyboardInterrupt") and the process kept running."""
    done = subprocess.run([sys.executable, "-c", SWALLOWED], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split() == ["interrupted"], done.stdout + done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr


def test_a_lock_released_by_an_interrupted_release_is_not_closed_twice(tmp_path, monkeypatch):
    """A study stopped by SIGTERM printed "Exception ignored in OutputLock.__del__ ... Bad file
    descriptor": the descriptor was closed twice (the second time, maybe someone else's)."""
    from lossviz_core.results import paths

    lock = OutputLock.acquire(tmp_path / "r.h5")
    real_close = os.close

    def close_then_interrupted(fd):
        real_close(fd)
        raise KeyboardInterrupt  # a signal right after the close

    monkeypatch.setattr(paths.os, "close", close_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        lock.release()
    monkeypatch.setattr(paths.os, "close", real_close)
    other = os.open(tmp_path / "other", os.O_RDWR | os.O_CREAT)  # may reuse the number
    try:
        lock.release()
        lock.__del__()
        os.fstat(other)  # still open: the lock did not close it
    finally:
        os.close(other)
    assert not (tmp_path / ".r.h5.lock").exists()


DRIVER = textwrap.dedent("""
    import os, time
    from lossviz_core.run.ray_executor import RayExecutor
    RayExecutor(num_cpus=1, object_store_memory=80 * 2**20).connect()
    print("ready", flush=True)
    time.sleep(600)
""")


def _group(pgid: int) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.getpgid(int(pid)) == pgid:
                out.append(int(pid))
        except OSError:
            pass
    return out


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table in /proc")
def test_a_local_ray_ends_with_its_driver():
    """After the driver was SIGKILLed, ray::DashboardAgent and ray::RuntimeEnvAgent stayed
    alive (3 of 3). The driver runs in its own process group, which holds exactly what it
    started: nothing of it may outlive it."""
    pytest.importorskip("ray")
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert driver.stdout.readline().strip() == "ready"
        end = time.monotonic() + 30
        while time.monotonic() < end and not any(  # the node's agents are up
                "ray::DashboardAgent" in _name(p) for p in _group(driver.pid)):
            time.sleep(0.2)
        started = {p: _name(p) for p in _group(driver.pid) if p != driver.pid}
        assert any("ray" in n for n in started.values()), started  # a Ray to outlive it
        driver.kill()
        driver.wait()
        end = time.monotonic() + 60
        while _group(driver.pid) and time.monotonic() < end:
            time.sleep(0.2)
        left = {p: _name(p) for p in _group(driver.pid)}
    finally:
        for pid in _group(driver.pid):  # only what this test's driver started
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    assert left == {}, left


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")[:80]
    except OSError:
        return ""


def test_a_lost_object_ends_the_run_with_one_line_and_a_resumable_file(tmp_path, capsys,
                                                                         monkeypatch):
    """Ray itself failing mid-run (a lost object, a dead node) is one line that says how to
    go on, and the points computed so far are in the file, which resumes to the whole grid."""
    ray = pytest.importorskip("ray")
    from lossviz_core.cli import main
    from lossviz_core.results.store import read_result
    from lossviz_core.run.executor import LocalExecutor
    from lossviz_core.run.ray_executor import RayExecutor

    def drive(self, ray_, job, store):  # the cluster's first tile comes back, then Ray fails
        tiles = LocalExecutor().run(job, store)
        yield next(tiles)
        tiles.close()
        raise ray.exceptions.RaySystemError("the object store lost the directions")

    monkeypatch.setattr(RayExecutor, "connect", lambda self: False)  # no cluster is started
    monkeypatch.setattr(RayExecutor, "_stop", lambda self, ray_: None)
    monkeypatch.setattr(RayExecutor, "_drive", drive)
    out = tmp_path / "lost.h5"
    grid = ["--x=-1:1:15", "--y=-1:1:15", "--device", "cpu", "--multi", "off",
            "--batch-size", "256", "--precision", "fp32"]
    code = main(["surface", "--demo", *grid, "--executor", "ray", "--out", str(out)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("lossviz: error")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "Ray failed (" in lines[0] and "the object store lost the directions" in lines[0]
    assert "rerun with --resume" in lines[0]
    cut = read_result(out)
    assert 0 < cut.done.sum() < cut.done.size
    assert main(["surface", "--resume", "--out", str(out)]) == 0  # here, on this machine
    whole = read_result(out)
    assert whole.done.all()
    np.testing.assert_array_equal(whole.values["train_loss"][cut.done],
                                  cut.values["train_loss"][cut.done])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lost.h5"]
