"""Signals end the run they are sent to, and a local Ray ends with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

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
