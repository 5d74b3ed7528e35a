"""One compute, from the panels' choices to a landscape in the Results list.

:func:`compute_generator` runs in the worker thread. It resolves the panels' choices into a
recipe (the resolver may read a run folder's ``run.json``: never on the GUI thread) and yields
it; waits at a :class:`Gate` until the session has chosen where the grid goes (or shows it
from the library instead, or the user does not trust its code); prepares the recipe (yielding
its steps) or re-ranges a loaded job; yields the prepared Job; waits at a second gate until
the session has looked at the estimate (and, for a long grid, asked the user); then yields
the chunks as they are written into the result's file.

:class:`Computation` is the GUI thread's side of one compute (Qt-free): it answers the gates,
creates the library entry when the first point is written, shows the job's result from then
on, and on a failure or a cancel before any point puts back what was shown.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossviz_core.recipe.spec import Range

from .messages import clock, describe

LONG_SECONDS = 180.0  # a grid estimated longer than this asks first


class Gate:
    """One decision from the GUI thread to the worker; the first answer counts."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._value: Any = None
        self._lock = threading.Lock()

    def open(self, value: Any = True) -> None:
        with self._lock:
            if not self._event.is_set():
                self._value = value
                self._event.set()

    def wait(self, timeout: float | None = None) -> Any:
        self._event.wait(timeout)
        return self._value


@dataclass(frozen=True)
class Resolved:
    """The recipe the panels describe, and the files whose code computing it runs."""

    recipe: Any
    code: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """Where a compute writes (``resume``: a file that holds some of its points already), or
    ``show``: the library entry that holds it complete."""

    out: str = ""
    resume: bool = False
    entry: Any = None
    show: Any = None


@dataclass
class Shown:
    """What the window showed before a compute: put back if the compute makes no point."""

    result: Any
    entry: Any
    opened: Any


def reusable(job: Any, recipe: Any) -> bool:
    """Whether ``job``'s model, data and directions serve ``recipe`` (a zoom, a new split or
    precision): then ``job.with_recipe`` skips loading them again."""
    return job is not None and job.recipe.workspace_key() == recipe.workspace_key()


def compute_generator(snapshot: dict[str, Any], resolve: Callable[[dict[str, Any]], Any],
                      job: Any, where: Gate, go: Gate,
                      executor: Callable[[], Any] | None = None
                      ) -> Generator[Any, Any, Any]:
    """In the worker: the Resolved recipe, the Job, then its chunks written where the session
    says (resumed: only the missing points, computed the way the file's other points were).
    ``executor``: makes the executor once the grid is confirmed (None: this machine's)."""
    from lossviz_core.limits import check_grid_fits
    from lossviz_core.progress import Step
    from lossviz_core.resolve import user_code_files
    from lossviz_core.run.job import iter_prepare

    from .cluster import release

    recipe = resolve(snapshot)
    # the command line's limit: each direction seed is the grid's points again
    check_grid_fits(recipe.grid.shape, seeds=len(recipe.directions.seeds) or 1)
    yield Resolved(recipe, user_code_files(recipe))
    target: Target | None = where.wait()
    if target is None:
        return None  # shown from the library, or its code not trusted
    out = target.out
    resume = target.resume and os.path.exists(out)  # a file deleted behind our back: anew
    if not resume and reusable(job, recipe):
        job = job.with_recipe(recipe)
    else:
        job = yield from iter_prepare(recipe, resume_from=out if resume else None)
    yield job
    if not go.wait():
        return None  # the user did not want this grid after all
    if executor is not None:
        yield Step("connecting to the cluster")
        executor = executor()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    try:
        return (yield from job.iter(out=out, resume=resume, executor=executor))
    finally:
        release(executor)  # the window's Ray: one user less
        if not resume and getattr(job, "store", None) is not None and not job.result.done.any():
            Path(out).unlink(missing_ok=True)  # no point written: no file left behind


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


def reduced_counts(nums: tuple[int, ...], seconds: float, target: float | None = None
                   ) -> tuple[int, ...]:
    """Point counts that bring ``seconds`` down to about ``target`` (each axis alike)."""
    target = LONG_SECONDS if target is None else target
    scale = (target / seconds) ** (1 / len(nums)) if seconds > 0 else 1.0
    return tuple(max(3, int(round(n * scale)) | 1) for n in nums)  # odd: the centre stays


class Computation:
    """The GUI thread's side of one compute (see the module's docstring)."""

    def __init__(self, session: Any) -> None:
        """``session``: the :class:`~lossviz.session.Session` this compute serves."""
        self.s = session
        self.snapshot = session.state.snapshot()
        self.previous = Shown(session.result, session.entry, session.opened)
        self.where, self.go = Gate(), Gate()
        self.recipe: Any = None  # as asked (ranges "fit" stay so)
        self.target: Target | None = None
        self.job: Any = None
        self.entry: Any = None
        self.shown = False  # the job's result is on screen: it has points
        self.elsewhere = False  # the library showed it; nothing computed
        self.last_chunk: Any = None
        self.outcome = ""  # why nothing was computed
        self.failure = ""
        self.task: Any = None
        self.timings: dict[str, float] = {"start": time.perf_counter()}

    def start(self, job: Any, executor: Callable[[], Any] | None) -> None:
        s, snap, resolve = self.s, self.snapshot, self.s.resolve
        self.task = s.tasks.start(
            lambda: compute_generator(snap, resolve, job, self.where, self.go, executor),
            on_item=self.on_item, on_done=self.on_done, on_error=self.on_error,
            on_finish=self.on_finish)

    def stop(self) -> None:
        """Stop after the current chunk; a worker waiting at a gate stops there."""
        if self.task is not None:
            self.task.cancel()
        self.where.open(None)
        self.go.open(False)

    @property
    def stopping(self) -> bool:
        return self.task is not None and self.task.cancelled

    # ---- what the worker yields, on the GUI thread --------------------------------------
    def on_item(self, item: Any) -> None:
        from lossviz_core.progress import Chunk, Step

        if isinstance(item, Resolved):
            self.decide(item)
        elif isinstance(item, Step):
            self.s.say(f"Preparing: {item.text} …")
        elif isinstance(item, Chunk):
            self.on_chunk(item)
        else:  # the prepared Job
            self.on_prepared(item)

    def decide(self, resolved: Resolved) -> None:
        """Where the grid goes: an opened file to finish, a library entry to show or to
        resume, or a new file (its entry appears with its first point)."""
        s = self.s
        if self.stopping:
            return
        if not s.ask.may_run(resolved.code):
            self.outcome = "Not computed: the code was not trusted."
            self.where.open(None)
            return
        target = s.target(resolved.recipe)
        if target.show is not None:
            self.elsewhere = True
            self.where.open(None)
            s.show_entry(target.show.id, note="from the results library (computed "
                         f"{target.show.created})", computing=True, reveal=False)
            return
        self.recipe, self.target, self.entry = resolved.recipe, target, target.entry
        self.where.open(target)
        s.events.preparing.emit()
        if target.resume:
            s.say("Resuming …")

    def on_prepared(self, job: Any) -> None:
        """The job is prepared: confirm the estimate (asking first for a long grid)."""
        s = self.s
        self.timings["prepared"] = time.perf_counter()
        self.job = s.job = job  # kept for a zoom, even if this grid is not computed
        s.events.prepared.emit(job)
        if self.entry is not None:
            s.library.prepared(self.entry, job.recipe)  # e.g. ranges fitted to the path
        if self.stopping:
            return
        seconds = estimate_seconds(job, s.library.rate_for(job.recipe))
        if seconds > LONG_SECONDS:
            grid = job.recipe.grid
            nums = (grid.x.num,) if grid.y is None else (grid.x.num, grid.y.num)
            smaller = reduced_counts(nums, seconds)
            choice = s.ask.long_compute(int((~job.result.done).sum()), seconds, smaller)
            if choice != "compute":
                self.go.open(False)
                self.outcome = f"Not computed: the grid would take {clock(seconds)}."
                if choice == "reduce":
                    s.state.update(xnum=smaller[0], **({"ynum": smaller[1]} if len(smaller) > 1
                                                       else {}))
                    s.then(s.compute)
                return
        self.go.open(True)
        grid = job.recipe.grid
        if s.state["method"] == "pca" and s.state["fit_ranges"]:
            s.state.set_ranges(grid.x, grid.y)  # show the fitted ranges in the panel
        s.events.progress.emit(int(job.result.done.sum()), int(job.result.done.size))
        if job.result.done.any():
            self.show_points()  # a resumed file's points
        else:
            s.say("Computing the first points …")

    def on_chunk(self, chunk: Any) -> None:
        self.timings.setdefault("first_chunk", time.perf_counter())
        self.last_chunk = chunk
        if not self.shown:
            self.show_points()
        self.s.events.points.emit(chunk)

    def show_points(self) -> None:
        """The first point is written: the entry appears, the job's result is shown."""
        s = self.s
        self.shown = True
        if self.entry is None:
            self.entry = s.library.new(self.recipe, describe(self.job.result), path=self.target.out,
                                       held=self.job.recipe)
        s.entry = self.entry
        s.show(self.job.result)

    def on_done(self, result: Any) -> None:
        self.timings["done"] = time.perf_counter()
        if result is not None and result is not self.s.result:
            if not self.shown and self.job is not None:
                self.show_points()  # a resumed file had every point already
            else:
                self.s.show(result)

    def on_error(self, message: str) -> None:
        self.failure = message.splitlines()[0] if message else "an unexpected error"

    def on_finish(self) -> None:
        """Keep the entry's progress, say how it ended; put back what was shown when no
        point was computed."""
        s = self.s
        if self.shown:
            result = s.result
            if self.entry is not None and self.job is not None and result is self.job.result:
                rate = self.last_chunk.points_per_second if self.last_chunk is not None else None
                s.library.update(self.entry, result, rate)
            n, total = int(self.job.result.done.sum()), int(self.job.result.done.size)
            if self.failure:
                s.say("Failed.", f"Failed: {self.failure} ({n}/{total} points kept: Compute "
                                 "resumes it)")
            elif self.stopping and n < total:
                s.say(f"Cancelled: {n}/{total} points kept.",
                      "Compute resumes it: the points are kept in the Results list")
            elif "done" in self.timings:
                secs = self.timings["done"] - self.timings["start"]
                s.say(f"Done: {total} points in {secs:.1f} s")
        elif not self.elsewhere:
            if self.target is not None:
                s.restore(self.previous)  # the views said "Preparing …"
            if self.failure:
                s.say("Failed.", f"Not computed: {self.failure}")
            elif self.outcome:
                s.say(self.outcome)
            elif self.stopping:
                s.say("Cancelled: nothing was computed.")
        s.finished(self)


def snapped(lo: float, hi: float, axis: Range) -> Range:
    """``lo``…``hi`` (a zoom rectangle's side) moved to the nearest points of ``axis``'s
    grid, with ``axis``'s point count: the zoomed grid starts and ends on points of the grid
    it was drawn on, never at −0.5115:0.4893. A side narrower than one step keeps the
    step it lies in."""
    if axis.num < 2:
        return Range(lo, hi, axis.num)
    step = (axis.max - axis.min) / (axis.num - 1)

    def point(k: int) -> float:  # the grid's own coordinate (as np.linspace makes it)
        v = axis.max if k == axis.num - 1 else axis.min + k * step
        return 0.0 if abs(v) < 1e-9 * step else v  # θ itself, not 5.6e-17

    a, b = round((lo - axis.min) / step), round((hi - axis.min) / step)
    if b <= a:
        a = math.floor(((lo + hi) / 2 - axis.min) / step)
        b = a + 1
    return Range(point(a), point(b), axis.num)
