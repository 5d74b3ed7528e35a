"""Whether a unit's output is there and complete, and how far a partial one got.

- an init: its checkpoint file (written atomically, so present means complete);
- a training run: the run folder with its completion mark ``study-unit.json`` holding the
  unit's key, written after the last epoch (a folder without it is an interrupted run,
  which the next run of the study trains again from the start: ``iter_training`` saves no
  optimizer state to resume from);
- a grid: the result file with every point done (and a PCA plane's trajectory losses);
- a figure: every file, drawn for the unit's key (recorded in the state file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lossviz_core.errors import LossVizError
from lossviz_core.studies.plan import Unit
from lossviz_core.studies.state import StudyState

RUN_MARK = "study-unit.json"


def is_done(unit: Unit, state: StudyState) -> bool:
    """Whether ``unit``'s output exists, complete, for its key."""
    if unit.kind == "init":
        return unit.path.is_file()
    if unit.kind == "train":
        return _mark(unit.path) == unit.key and _epochs_saved(unit.path) == unit.work
    if unit.kind == "grid":
        return _grid_complete(unit.path)
    record = state.figures.get(unit.name) or {}
    return record.get("key") == unit.key and all(p.is_file() for p in figure_files(unit))


def progress(unit: Unit) -> tuple[int, int] | None:
    """``(done, total)`` work of a partial output (epochs, points), None without one."""
    if unit.kind == "train":
        return (_epochs_run(unit.path), unit.work) if (unit.path / "run.json").is_file() else None
    if unit.kind == "grid" and unit.path.is_file():
        try:
            from lossviz_core.results.store import read_result

            return int(read_result(unit.path).done.sum()), unit.work
        except LossVizError:
            return None
    return None


def mark_trained(unit: Unit) -> None:
    """Write the run folder's completion mark (atomically)."""
    from lossviz_core.atomic import atomic_path

    with atomic_path(unit.path / RUN_MARK, "run mark") as tmp:
        tmp.write_text(json.dumps({"key": unit.key, "spec": unit.spec}, indent=1, default=str))


def figure_files(unit: Unit) -> list[Path]:
    """The files a figure unit writes, one per format."""
    return unit.files


def _mark(run: Path) -> str | None:
    try:
        return json.loads((run / RUN_MARK).read_text()).get("key")
    except (OSError, ValueError, AttributeError):
        return None


def _epochs_saved(run: Path) -> int | None:
    from lossviz_core.runs import read_run

    try:
        return read_run(run).checkpoints[-1][0]
    except LossVizError:
        return None


def _epochs_run(run: Path) -> int:
    try:
        return len(json.loads((run / "run.json").read_text()).get("metrics") or [])
    except (OSError, ValueError, AttributeError):
        return 0


def _grid_complete(path: Path) -> bool:
    if not path.is_file():
        return False
    from lossviz_core.results.store import read_result

    try:
        r = read_result(path)
    except LossVizError:
        return False
    traj: Any = r.trajectory
    losses_done = traj is None or not np.isnan(np.asarray(traj.loss, float)).all()
    return bool(r.done.all()) and losses_done
