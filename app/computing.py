"""What the compute worker runs, and the gate that lets the window confirm a long grid.

:func:`compute_generator` runs in the worker thread: it prepares the recipe (yielding its
steps) or re-ranges a loaded job, yields the prepared Job, waits at a :class:`Gate` until the
window has looked at the estimate (and, for a long grid, asked the user), then yields the
chunks as they are written into the result's file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

LONG_SECONDS = 180.0  # a grid estimated longer than this asks first


class Gate:
    """One decision from the GUI thread to the worker: go on, or stop."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._go = False

    def open(self, go: bool = True) -> None:
        self._go = go
        self._event.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._event.wait(timeout)
        return self._go


def reusable(job: Any, recipe: Any) -> bool:
    """Whether ``job``'s model, data and directions serve ``recipe`` (a zoom, a new split or
    precision): then ``job.with_recipe`` skips loading them again."""
    if job is None:
        return False
    old = job.recipe
    return (old.model, old.dataset, old.directions, old.is_line, old.compute.device) == (
        recipe.model, recipe.dataset, recipe.directions, recipe.is_line, recipe.compute.device)


def compute_generator(recipe: Any, job: Any = None, out: str | None = None,  # noqa: ANN201
                      resume: bool = False, gate: Gate | None = None,
                      executor: Callable[[], Any] | None = None):
    """In the worker: the Job, then its chunks written into ``out`` (resumed if ``resume``:
    only the missing points, computed the way the file's other points were). ``executor``:
    makes the executor once the grid is confirmed (None: this machine's)."""
    from lossviz_core.progress import Step
    from lossviz_core.run.job import iter_prepare

    if not resume and reusable(job, recipe):
        job = job.with_recipe(recipe)
    else:
        job = yield from iter_prepare(recipe, resume_from=out if resume else None)
    yield job
    if gate is not None and not gate.wait():
        return None  # the user did not want this grid after all
    if executor is not None:
        yield Step("connecting to the cluster")
        executor = executor()
    from .cluster import release

    try:
        return (yield from job.iter(out=out, resume=resume, executor=executor))
    finally:
        release(executor)  # the window's Ray: one user less


def estimate_seconds(job: Any, rate: float | None = None) -> float:
    """Seconds the missing points of ``job`` take: the measured rate of an earlier run of the
    same model and data, else the probe's; a measure costs the passes its entry declares
    (the curvature measure tens of passes more)."""
    todo = int((~job.result.done).sum())
    if rate:
        return todo / rate
    spp = job.workspace.info.get("evaluator", {}).get("seconds_per_point") or 0.0
    from lossviz_core.measures import measure_kind

    spp *= max(1.0, sum(measure_kind(m).passes for m in job.recipe.measures))
    return todo * spp


def reduced_counts(nums: tuple[int, ...], seconds: float, target: float = LONG_SECONDS
                   ) -> tuple[int, ...]:
    """Point counts that bring ``seconds`` down to about ``target`` (each axis alike)."""
    scale = (target / seconds) ** (1 / len(nums)) if seconds > 0 else 1.0
    return tuple(max(3, int(round(n * scale)) | 1) for n in nums)  # odd: the centre stays
