"""``RUN/track.jsonl``: one JSON object per tracked step, appended while training runs.

Each line is a record with ``step``, ``epoch``, ``lr`` and one key per measure (``lambda_max``,
``sharpness``, ``slice``, ``grad_norm``, ``checkpoint``, ...). A line is written whole and
flushed to disk before the next step trains, so the file can be read at any moment (the
window, a notebook, ``tail -f``); :func:`read_track` skips a last line still being written.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from lossviz_core.errors import InputError

TRACK_FILE = "track.jsonl"


def track_path(run_dir: str | os.PathLike) -> Path:
    """The records file of a run folder (or the file itself when given one)."""
    p = Path(run_dir)
    return p if p.suffix == ".jsonl" else p / TRACK_FILE


def append_record(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append one record as a line (NaN and infinities become null: the file stays JSON)."""
    line = json.dumps(_clean(record), separators=(",", ":"), allow_nan=False)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_track(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every complete record of a run folder's ``track.jsonl`` (or of that file), in order.

    A missing file raises :class:`InputError`; a last line without its newline (being
    written) is left out; any other malformed line raises with its number.
    """
    path = track_path(run_dir)
    if not path.is_file():
        raise InputError(f"{path.parent} has no {TRACK_FILE}: train with --track (or a "
                         "lossviz_core.track.Tracker) to record one")
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    complete = lines[:-1]  # the text after the last newline is a line still being written
    out = []
    for i, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path}, line {i}, is not JSON: {exc}") from None
        if not isinstance(record, dict) or "step" not in record:
            raise InputError(f"{path}, line {i}, is not a track record (no 'step')")
        out.append(record)
    return out


def series(records: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one numeric key over the records that have it (null: NaN)."""
    steps, values = [], []
    for r in records:
        if key in r:
            steps.append(int(r["step"]))
            v = r[key]
            values.append(float("nan") if v is None else float(v))
    return steps, values


def _clean(o: Any) -> Any:
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if hasattr(o, "item") and getattr(o, "ndim", 1) == 0:  # numpy / torch scalars
        return _clean(o.item())
    return o
