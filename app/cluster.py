"""*Compute on*: this machine, or a Ray cluster; the executor the window hands the engine.

The window keeps one Ray connection for its whole session (starting a local Ray takes
seconds; a zoom should not wait for it again): the first Ray compute connects, later ones
reuse it, a changed address reconnects, and closing the window shuts down a Ray it started.
A Ray that something else started in this process (a notebook, the tests) is used as it is.
Everything here but :func:`worker_lines` runs in the compute worker's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from lossviz_core.errors import LossVizError

EXECUTORS = {"local": "This machine", "ray": "Ray cluster"}
STATE_MARK = {"ready": "●", "starting": "…", "lost": "✕", "failed": "✕", "stopped": "○"}

_lock = threading.Lock()
# owned: this window started or joined it; users: computations using it now
_connected: dict[str, Any] = {"owned": False, "address": None, "users": 0}


def executor_for(values: dict[str, Any], on_status: Callable[[Any], None] | None = None
                 ) -> Any:
    """The executor the panels ask for (None: this machine), connected to Ray if needed.

    ``values``: the window's compute settings (``executor``, ``ray_address``, ``ray_workers``).
    Raises :class:`~lossviz_core.errors.LossVizError` with one line when Ray is missing or
    its cluster cannot be reached."""
    if values.get("executor", "local") != "ray":
        return None
    from lossviz_core.run.ray_executor import RayExecutor, import_ray

    address = str(values.get("ray_address", "")).strip() or None
    executor = RayExecutor(address=address, workers=int(values.get("ray_workers", 0)) or None,
                           on_status=on_status)
    ray = import_ray()
    with _lock:
        if ray.is_initialized() and _connected["owned"] and _connected["address"] != address:
            if _connected["users"]:  # a grid or a study computes there now
                where = _connected["address"] or "the local Ray"
                raise LossVizError(f"Ray is in use on {where} by another computation of this "
                                   "window: wait for it to finish (or Stop it), or compute on "
                                   "the same address")
            ray.shutdown()  # the user chose another cluster
            _connected["owned"] = False
        if executor.connect():
            _connected.update(owned=True, address=address)
        _connected["users"] += 1
    executor.release = _release  # the caller's generator calls it when the work ends
    return executor


def _release() -> None:
    with _lock:
        _connected["users"] = max(0, _connected["users"] - 1)


def release(executor: Any) -> None:
    """The work given to ``executor`` is over (any executor; a no-op for this machine's)."""
    done = getattr(executor, "release", None)
    if callable(done):
        executor.release = None  # once
        done()


def shutdown() -> None:
    """End the Ray this window started (no-op otherwise)."""
    with _lock:
        if not _connected["owned"]:
            return
        _connected.update(owned=False, users=0)
        try:
            import ray

            if ray.is_initialized():
                ray.shutdown()
        except Exception:  # noqa: BLE001 - closing the window must not fail on Ray
            pass


def worker_lines(workers: Any) -> str:
    """The per-worker status line: one line per Ray worker, e.g.
    ``● w0 · node 10.0.0.5 · cpu · 120 pts, 1.9 pts/s``."""
    lines = []
    for w in workers:
        name = w.name.rsplit("-", 1)[-1]
        parts = [f"{STATE_MARK.get(w.state, '?')} {name}"]
        if w.node:
            parts.append(f"node {w.node}")
        if w.device:
            parts.append(w.device)
        if w.state == "starting":
            parts.append("starting (loading model and data)")
        elif w.state in ("lost", "failed"):
            parts.append(w.state + (f": {w.error}" if w.error else ""))
        else:
            parts.append(f"{w.points} pts, {w.points_per_second:.1f} pts/s"
                         + ("" if w.state == "ready" else f" ({w.state})"))
        lines.append(" · ".join(parts))
    return "\n".join(lines)
