"""``DIR/state.json``: what a study's runs measured and which units failed, and why.

The outputs themselves say what is done (a run folder with its completion mark, a complete
result file, a figure); this small file keeps what they cannot: a failed unit's message,
each finished unit's measured time and work (seconds per epoch, per point), and the key
each figure was drawn for. It is rewritten atomically after every unit, so a killed run
leaves the previous version::

    {"version": 1, "study": "digits-depth", "profile": "quick",
     "units": {KEY: {"kind": "train", "name": "resnet6", "seconds": 2.1, "work": 3,
                     "rate_key": "digits_resnet6|digits|64", "finished": "2026-..."}},
     "failures": {KEY: {"kind": "grid", "name": "pca", "message": "...", "time": "..."}},
     "figures": {NAME: {"key": KEY, "files": ["figures/NAME.png"]}}}
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossviz_core.atomic import atomic_path

STATE_FILE = "state.json"
STATE_VERSION = 1


@dataclass
class StudyState:
    """The state file of one output folder (see the module docstring)."""

    path: Path
    units: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    study: str = ""
    profile: str | None = None

    @classmethod
    def load(cls, out_dir: str | Path) -> StudyState:
        """The folder's state (empty when it has none, or an unreadable one)."""
        path = Path(out_dir) / STATE_FILE
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls(path)
        if not isinstance(d, dict):
            return cls(path)
        return cls(path, dict(d.get("units") or {}), dict(d.get("failures") or {}),
                   dict(d.get("figures") or {}), str(d.get("study") or ""), d.get("profile"))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": STATE_VERSION, "study": self.study, "profile": self.profile,
                "units": self.units, "failures": self.failures, "figures": self.figures}
        with atomic_path(self.path, "study state") as tmp:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))

    def finished(self, unit: Any, seconds: float, work: int, rate_key: str | None) -> None:
        """Record a unit's measured time and work; forget an earlier failure of it."""
        self.units[unit.key] = {"kind": unit.kind, "name": unit.name, "seconds": seconds,
                                "work": work, "rate_key": rate_key, "finished": _now()}
        self.failures.pop(unit.key, None)

    def failed(self, unit: Any, message: str) -> None:
        self.failures[unit.key] = {"kind": unit.kind, "name": unit.name, "message": message,
                                   "time": _now()}

    def rate(self, rate_key: str) -> float | None:
        """Measured seconds per unit of work (epoch, point) for ``rate_key``: the mean over
        finished units with that key, None when none has finished."""
        return self._mean(lambda u: u.get("rate_key") == rate_key)

    def kind_rate(self, kind: str) -> float | None:
        """Measured seconds per unit of work over every finished unit of ``kind``."""
        return self._mean(lambda u: u.get("kind") == kind)

    def _mean(self, match: Any) -> float | None:
        seconds = work = 0.0
        for u in self.units.values():
            if match(u) and u.get("work"):
                seconds += float(u.get("seconds") or 0.0)
                work += float(u["work"])
        return seconds / work if work else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
