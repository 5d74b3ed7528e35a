"""Run folders: a training run's ``run.json`` plus one checkpoint per saved epoch.

Layout::

    RUN/run.json          {"model": ModelSpec, "dataset": DatasetSpec, "train": {...},
                           "checkpoints": [{"epoch": 0, "file": "model_0.pt"}, ...],
                           "metrics": [{"epoch": 1, "train_loss": ..., ...}, ...]}
    RUN/model_<epoch>.pt  {"state_dict": ..., "epoch": <epoch>}  (the reference's .t7 layout)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossviz_core.errors import InputError
from lossviz_core.limits import MAX_CHECKPOINTS

RUN_FILE = "run.json"


@dataclass
class RunInfo:
    """What a run folder holds. ``checkpoints`` is sorted by epoch; the last is the final model."""

    path: Path
    model: dict[str, Any]
    dataset: dict[str, Any]
    train: dict[str, Any]
    checkpoints: list[tuple[int, Path]]
    metrics: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final_checkpoint(self) -> Path:
        return self.checkpoints[-1][1]

    @property
    def model_name(self) -> str:
        return str(self.model.get("name"))

    @property
    def unit(self) -> str:
        """What the checkpoints' numbers count: ``step`` (a tracker's) or ``epoch``."""
        return "step" if self.train.get("unit") == "step" else "epoch"

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "train": self.train,
            "checkpoints": [
                {"epoch": int(e), "file": os.path.relpath(p, self.path)} for e, p in self.checkpoints
            ],
            "metrics": self.metrics,
        }


def checkpoint_name(epoch: int) -> str:
    return f"model_{epoch}.pt"


def read_run(run_dir: str | os.PathLike) -> RunInfo:
    """Read a run folder; a missing or malformed one raises :class:`InputError`."""
    path = Path(run_dir)
    meta_path = path / RUN_FILE
    if not meta_path.is_file():
        raise InputError(f"{path} is not a run folder: it has no {RUN_FILE}")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{meta_path} is malformed: {exc}") from None
    entries = meta.get("checkpoints", []) if isinstance(meta, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{meta_path} is malformed: expected an object with a list of "
                         "checkpoints")
    if len(entries) > MAX_CHECKPOINTS:
        raise InputError(f"{meta_path} lists {len(entries)} checkpoints; LossViz reads at most "
                         f"{MAX_CHECKPOINTS} (a PCA plane loads every one)")
    for key in ("model", "dataset", "train"):
        if not isinstance(meta.get(key, {}), dict):
            raise InputError(f"{meta_path} is malformed: {key} is not an object")
    try:
        ckpts = sorted((_epoch(c), path / _file(c)) for c in entries)
    except ValueError as exc:
        raise InputError(f"{meta_path} is malformed: a checkpoint entry {exc}") from None
    if not ckpts:
        raise InputError(f"run folder {path} lists no checkpoints")
    inside = path.resolve()
    outside = [str(p) for _, p in ckpts if not p.resolve().is_relative_to(inside)]
    if outside:  # run.json is data from elsewhere: it must not make us read other files
        raise InputError(f"{meta_path} lists checkpoints outside the run folder "
                         f"({', '.join(outside[:2])}); refusing to use them")
    missing = [str(p) for _, p in ckpts if not p.is_file()]
    if missing:
        raise InputError(f"run folder {path} is missing checkpoint files: "
                         f"{', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else ""))
    metrics = meta.get("metrics", [])
    return RunInfo(
        path=path,
        model=dict(meta.get("model", {})),
        dataset=dict(meta.get("dataset", {})),
        train=dict(meta.get("train", {})),
        checkpoints=ckpts,
        metrics=[m for m in metrics if isinstance(m, dict)] if isinstance(metrics, list) else [],
    )


def _epoch(entry: Any) -> int:
    if not isinstance(entry, dict) or "epoch" not in entry or "file" not in entry:
        raise ValueError(f"is {json.dumps(entry)[:60]}, not {{\"epoch\": N, \"file\": NAME}}")
    epoch = entry["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise ValueError(f"has epoch {epoch!r}, not a whole number")
    return epoch


def _file(entry: Any) -> str:
    name = entry["file"]
    if not isinstance(name, str) or not name:
        raise ValueError(f"has file {name!r}, not a file name")
    return name


def write_run(info: RunInfo) -> None:
    """Write ``run.json`` atomically (a crash never leaves a half-written file)."""
    info.path.mkdir(parents=True, exist_ok=True)
    target = info.path / RUN_FILE
    tmp = info.path / f".{RUN_FILE}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(info.to_json(), indent=2))
        os.replace(tmp, target)
    except OSError as exc:  # a full disk: no half-written temporary left behind
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None


def checkpoint_in(path: str | os.PathLike) -> Path:
    """A model file: ``path`` itself, or a run folder's final checkpoint (a result of a run
    stands for its trained model wherever a checkpoint is asked for)."""
    p = Path(path)
    return read_run(p).final_checkpoint if (p / RUN_FILE).is_file() else p
