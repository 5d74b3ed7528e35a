"""A local Ray that LossViz starts ends with the process that started it.

``ray.init()`` starts Ray's processes (GCS, raylet, the node's agents, workers) as children
of the driver. When the driver is killed (SIGKILL, the out-of-memory killer, a closed
terminal) the raylet and GCS follow it, but the dashboard and runtime-env agents wait for a
dead GCS and stayed alive for good. :func:`start_reaper` starts a small watcher process with
a pipe from the driver: it notes the Ray processes the driver starts (every second) and,
when the pipe closes (the driver is gone, however it ended), ends the ones still running,
and Ray's processes started since in their process group (the agents a dying raylet leaves).
The driver stops it after shutting Ray down itself (:func:`stop_reaper`).
"""

from __future__ import annotations

import os
import subprocess
import sys

_REAPER: subprocess.Popen | None = None

# the watcher: waits for the driver's pipe to close, noting the driver's Ray processes
_SOURCE = r"""
import os, select, signal, sys
sys.path.insert(0, sys.argv[2])  # where the driver found psutil (Ray vendors its own)
import psutil
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)  # the driver's group may be signalled: outlive it
driver, me, known = int(sys.argv[1]), os.getpid(), {}
def is_ray(p):
    try:
        name, cmd = p.name(), " ".join(p.cmdline())
    except psutil.Error:
        return False
    return name.startswith("ray::") or name in ("raylet", "gcs_server") or "/ray/" in cmd
def note():
    try:
        kids = psutil.Process(driver).children(recursive=True)
    except psutil.Error:
        return
    for p in kids:
        if p.pid != me and p.pid not in known and is_ray(p):
            try:
                known[p.pid] = (p, p.create_time())
            except psutil.Error:
                pass
note()
os.write(1, b"r")  # the driver may go on: what it started so far is known
while True:
    if select.select([0], [], [], 1.0)[0]:
        got = os.read(0, 1)
        if got == b"q":
            sys.exit(0)
        if not got:
            break
    note()
alive = {}
for p, t in known.values():
    try:
        if p.create_time() == t:
            alive.update({q.pid: q for q in (p, *p.children(recursive=True))})
    except psutil.Error:
        pass
if known:  # Ray's processes started since, in their group: the raylet's agents, orphaned
    groups, since = set(), min(t for _, t in known.values())
    for pid in known:
        try:
            groups.add(os.getpgid(pid))
        except OSError:
            pass
    for p in psutil.process_iter():
        try:
            if (p.pid != me and os.getpgid(p.pid) in groups and p.create_time() >= since
                    and is_ray(p)):
                alive[p.pid] = p
        except (psutil.Error, OSError):
            pass
alive = list(alive.values())
for p in alive:
    try:
        p.terminate()
    except psutil.Error:
        pass
_, left = psutil.wait_procs(alive, timeout=5)
for p in left:
    try:
        p.kill()
    except psutil.Error:
        pass
"""


def start_reaper() -> None:
    """Watch this process's local Ray (see the module docstring); once per Ray started."""
    global _REAPER
    stop_reaper()
    try:
        import psutil  # Ray's dependency (it also vendors one, found once ray is imported)
    except ImportError:
        return
    where = os.path.dirname(os.path.dirname(psutil.__file__))
    _REAPER = subprocess.Popen(  # noqa: S603 - our own interpreter and source
        [sys.executable, "-c", _SOURCE, str(os.getpid()), where], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
    _REAPER.stdout.read(1)  # its first look at Ray's processes (b"": it could not start)


def stop_reaper() -> None:
    """Ray was shut down here: the watcher has nothing left to do."""
    global _REAPER
    reaper, _REAPER = _REAPER, None
    if reaper is None:
        return
    try:
        reaper.stdin.write(b"q")
        reaper.stdin.close()
        reaper.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        reaper.kill()
