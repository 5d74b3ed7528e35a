"""What :func:`~lossviz_core.studies.runner.iter_study` yields, and what it returns.

The CLI prints these, the GUI's worker forwards them to the window, a notebook ignores
them (``drain``). ``UnitProgress.item`` is the engine's own progress object: an
:class:`~lossviz_core.progress.EpochReport` while training, a
:class:`~lossviz_core.progress.Step` while a grid is prepared, then the prepared
:class:`~lossviz_core.run.job.Job` once (its ``result`` holds a resumed file's points and
fills in as the chunks are stored: the window draws it live), then a
:class:`~lossviz_core.progress.Chunk` of finished points while it is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossviz_core.studies.plan import Plan, Unit


@dataclass(frozen=True)
class StudyPlanned:
    """Before any work: the plan, and the keys of the units already done (cached)."""

    plan: Plan
    done: frozenset[str]

    @property
    def todo(self) -> list[Unit]:
        return [u for u in self.plan.units if u.key not in self.done]


@dataclass(frozen=True)
class UnitStarted:
    unit: Unit
    index: int  # 1-based, among the units this run does
    total: int


@dataclass(frozen=True)
class UnitProgress:
    unit: Unit
    item: Any  # EpochReport | Step | Job | Chunk


@dataclass(frozen=True)
class UnitFinished:
    unit: Unit
    seconds: float
    work: int  # epochs trained or points computed by this run (a resumed grid: the rest)
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class UnitFailed:
    unit: Unit
    message: str


@dataclass(frozen=True)
class UnitSkipped:
    """Not run: a unit it depends on failed."""

    unit: Unit
    reason: str


@dataclass
class StudySummary:
    """What one run of a study did. ``epochs`` and ``points``: work done by this run."""

    out: Path
    trained: list[str] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)
    drawn: list[str] = field(default_factory=list)
    initialized: list[str] = field(default_factory=list)
    cached: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # unit label -> message
    skipped: list[str] = field(default_factory=list)
    epochs: int = 0
    points: int = 0
    seconds: float = 0.0
    figures: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped

    def text(self) -> str:
        """One line: what this run trained, computed and drew, and what went wrong."""
        parts = []
        if self.trained:
            parts.append(f"trained {len(self.trained)} models ({self.epochs} epochs)")
        if self.computed:
            parts.append(f"computed {len(self.computed)} results ({self.points} points)")
        if self.drawn:
            parts.append(f"drew {len(self.drawn)} figures")
        did = ", ".join(parts) if parts else "nothing to do"
        tail = f"; {self.cached} units were done already" if self.cached else ""
        bad = (f"; {len(self.failed)} failed, {len(self.skipped)} skipped (lossviz study "
               "status)") if not self.ok else ""
        return f"{did} in {self.seconds:.1f} s{tail}{bad}"

    @property
    def did_nothing(self) -> bool:
        return not (self.trained or self.computed or self.drawn or self.initialized
                    or self.epochs or self.points)
