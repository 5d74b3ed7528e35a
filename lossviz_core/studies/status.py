"""What a study folder holds: each unit done, running, failed, blocked or pending, and how
long the rest should take.

- **done**: its output is complete for its key (:mod:`lossviz_core.studies.outputs`);
- **running**: another process holds the output's writer lock
  (:func:`lossviz_core.results.paths.being_written`: a grid's result file, a run folder);
- **failed**: the state file records a failure for its key (and it is not done since);
- **blocked**: pending, but a unit it needs failed;
- **pending**: none of these; a partial output's progress is shown (epochs, points).

The time left sums each unfinished unit's :func:`~lossviz_core.studies.estimate.seconds_left`
(measured rates first, then the study's estimates), for one process running them in turn.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lossviz_core.studies.estimate import Estimate, seconds_left
from lossviz_core.studies.outputs import is_done, progress
from lossviz_core.studies.plan import Plan, Unit, make_plan
from lossviz_core.studies.spec import Study
from lossviz_core.studies.state import StudyState

STATES = ("done", "running", "failed", "blocked", "pending")


@dataclass(frozen=True)
class UnitStatus:
    unit: Unit
    state: str
    message: str = ""
    progress: tuple[int, int] | None = None  # (done, total) epochs or points
    left: Estimate | None = None


@dataclass(frozen=True)
class StudyStatus:
    plan: Plan
    units: tuple[UnitStatus, ...]
    running: bool  # a process is running this study folder now

    def count(self, state: str) -> int:
        return sum(1 for u in self.units if u.state == state)

    @property
    def seconds_left(self) -> float | None:
        """Seconds for the units not done (None when any has no rate yet)."""
        todo = [u for u in self.units if u.state != "done"]
        if any(u.left is None or u.left.seconds is None for u in todo):
            return None
        return sum(u.left.seconds for u in todo)  # type: ignore[misc]

    def of(self, kind: str, name: str) -> UnitStatus | None:
        return next((u for u in self.units if u.unit.kind == kind and u.unit.name == name), None)


def study_status(study: Study, out_dir: str | os.PathLike) -> StudyStatus:
    """The status of every unit of ``study`` in ``out_dir``."""
    from lossviz_core.results.paths import being_written

    plan = make_plan(study, out_dir)
    state = StudyState.load(plan.out)
    states: dict[str, str] = {}
    out = []
    for unit in plan.units:
        prog = None
        message = ""
        if is_done(unit, state):
            s = "done"
        elif unit.kind in ("train", "grid") and being_written(unit.path):
            s = "running"
        elif unit.key in state.failures:
            s, message = "failed", str(state.failures[unit.key].get("message", ""))
        elif any(states.get(d) in ("failed", "blocked") for d in unit.deps):
            bad = next(plan.unit(d) for d in unit.deps if states.get(d) in ("failed", "blocked"))
            s, message = "blocked", f"needs {bad.label}"
        else:
            s = "pending"
        if s != "done":
            prog = progress(unit)
        states[unit.key] = s
        # a grid resumes, a running run goes on; a cut run trains again from the start
        done_work = prog[0] if prog and (unit.kind == "grid" or s == "running") else 0
        left = None if s == "done" else seconds_left(unit, study, state, done_work)
        out.append(UnitStatus(unit, s, message, prog, left))
    running = being_written(plan.out / "study")
    return StudyStatus(plan, tuple(out), running)


def format_status(status: StudyStatus) -> list[str]:
    """The status as lines of text (``lossviz study status``)."""
    study = status.plan.study
    profile = f" (profile {study.profile})" if study.profile else ""
    counts = ", ".join(f"{status.count(s)} {s}" for s in STATES if status.count(s))
    lines = [f"study {study.name}{profile} in {status.plan.out}: {len(status.units)} units: "
             f"{counts}" + ("; a run is in progress" if status.running else "")]
    width = max((len(u.unit.label) for u in status.units), default=10)
    for u in status.units:
        lines.append(f"  {u.state:8s} {u.unit.label:{width}s}  {_detail(u)}".rstrip())
    lines.append(eta_line(status))
    return lines


def _detail(u: UnitStatus) -> str:
    unit = u.unit
    what = {"train": f"{unit.work} epochs", "grid": f"{unit.work} points"}.get(unit.kind, "")
    parts = [what] if what else []
    if u.progress and u.state != "done":
        done, total = u.progress
        parts.append(f"{done}/{total} {'epochs' if unit.kind == 'train' else 'points'} so far")
    if u.message:
        parts.append(u.message)
    if u.left is not None and u.left.seconds is not None and unit.kind in ("train", "grid"):
        parts.append(f"~{duration(u.left.seconds)} ({u.left.source})")
    if u.state == "done" and unit.kind == "figure":
        parts.append(", ".join(p.name for p in unit.files))
    return "  ".join(parts)


def eta_line(status: StudyStatus) -> str:
    todo = [u for u in status.units if u.state != "done"]
    if not todo:
        return "everything is done"
    known = [u for u in todo if u.left is not None and u.left.seconds is not None]
    sources = sorted({u.left.source for u in known if u.unit.kind in ("train", "grid")})
    total = sum(u.left.seconds for u in known)  # type: ignore[misc]
    unknown = len(todo) - len(known)
    text = f"time left: about {duration(total)}"
    if sources:
        text += f" (rates {', '.join(sources)})"
    if unknown:
        text += f", plus {unknown} units with no rate yet (measured once one of a kind finishes)"
    return text


def duration(seconds: float) -> str:
    """``3 h 05 min``, ``4 min 10 s``, ``12 s``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{max(seconds, 0):.0f} s" if seconds >= 1 else f"{max(seconds, 0):.1f} s"
