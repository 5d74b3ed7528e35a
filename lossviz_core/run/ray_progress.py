"""What the Ray executor reports: each worker's state, and chunks that say who computed them.

The GUI's per-worker status line and the CLI's progress line read these; they are plain
dataclasses (no Ray), copied for every chunk so another thread may read them safely.
"""

from __future__ import annotations

import dataclasses

from lossviz_core.progress import Chunk

STATES = ("starting", "ready", "lost", "failed", "stopped")


@dataclasses.dataclass
class WorkerStatus:
    """One worker as the driver sees it. ``state``: ``starting`` | ``ready`` | ``lost`` (died:
    its tiles went to others) | ``failed`` (could not build its workspace) | ``stopped``."""

    name: str
    state: str = "starting"
    node: str = ""
    device: str = ""
    points: int = 0
    seconds: float = 0.0  # time spent evaluating its tiles
    in_flight: int = 0
    setup_seconds: float = 0.0
    error: str = ""

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else 0.0


def workers_text(workers: tuple[WorkerStatus, ...]) -> str:
    """``ray: 2 workers`` / ``ray: 1 worker, 1 starting, 1 lost``: for a progress line."""
    count = {s: sum(w.state == s for w in workers) for s in STATES}
    text = f"ray: {count['ready']} worker{'' if count['ready'] == 1 else 's'}"
    return text + "".join(f", {count[s]} {s}" for s in ("starting", "lost", "failed") if count[s])


@dataclasses.dataclass
class RayChunk(Chunk):
    """A :class:`~lossviz_core.progress.Chunk` that also says who computed it (``worker``) and
    how every worker stands (``workers``, a snapshot taken when the chunk was stored)."""

    worker: str = ""
    workers: tuple[WorkerStatus, ...] = ()

    @property
    def workers_text(self) -> str:
        return workers_text(self.workers)
