"""How long a unit should take: measured seconds per epoch and per point, else the study's
own estimates.

Every finished unit records its seconds and work under a **rate key** (what its speed
depends on: the architecture, the data, the subsample, the batch size or split), so the
pending units of the same kind, the next depth's noskip twin, a rerun after an edit, are
estimated from measurements. Without one, the study's ``[study.estimates]`` table is used:
``seconds_per_epoch`` and ``seconds_per_point`` keyed by model source name
(``resnet56``; ``resnet20@4096`` for one batch size), for the device named in ``device``;
without that, the mean rate of the finished units of the same kind (a guess). Inits and
figures take seconds; they count as one.
"""

from __future__ import annotations

from dataclasses import dataclass

from lossviz_core.studies.plan import Unit
from lossviz_core.studies.spec import ResultEntry, Study
from lossviz_core.studies.state import StudyState

SMALL_UNIT_SECONDS = 1.0


@dataclass(frozen=True)
class Estimate:
    """Seconds left for a unit, and where the rate came from: ``measured`` (this folder's
    runs), ``estimated`` (the study file's estimates), or ``unknown``."""

    seconds: float | None
    source: str


def rate_key(unit: Unit, study: Study) -> str | None:
    """What a unit's speed depends on, as a string (None for inits and figures)."""
    if unit.kind == "train":
        t = study.models[unit.name].train
        return f"train|{t.model}|{t.dataset.name}|{t.dataset.subsample}|{t.batch_size}"
    if unit.kind == "grid":
        r = study.results[unit.name]
        model, data = _model_and_data(study, r)
        c = r.choices
        return (f"grid|{model}|{c.get('dataset') or data}|{c.get('subsample')}|"
                f"{c.get('split') or 'train'}|{','.join(_measures(c))}")
    return None


def seconds_left(unit: Unit, study: Study, state: StudyState, done: int = 0) -> Estimate:
    """The time ``unit`` needs for its remaining work (``done`` of ``unit.work`` is done)."""
    if unit.kind in ("init", "figure"):
        return Estimate(SMALL_UNIT_SECONDS, "measured")
    left = max(unit.work - done, 0)
    key = rate_key(unit, study)
    rate = state.rate(key) if key else None
    if rate is not None:
        return Estimate(rate * left, "measured")
    rate = _estimated_rate(unit, study)
    if rate is not None:
        return Estimate(rate * left, "estimated")
    rate = state.kind_rate(unit.kind)
    if rate is not None:  # another architecture's speed: better than no idea
        return Estimate(rate * left, "guessed from other units")
    return Estimate(None, "unknown")


def _estimated_rate(unit: Unit, study: Study) -> float | None:
    est = study.estimates or {}
    if unit.kind == "train":
        t = study.models[unit.name].train
        table = est.get("seconds_per_epoch") or {}
        value = table.get(f"{t.model}@{t.batch_size}", table.get(t.model))
    else:
        model, _ = _model_and_data(study, study.results[unit.name])
        value = (est.get("seconds_per_point") or {}).get(model)
    return float(value) if isinstance(value, (int, float)) else None


def _model_and_data(study: Study, r: ResultEntry) -> tuple[str, str]:
    """The architecture and data a result's points are evaluated with."""
    if r.model is not None:
        t = study.models[r.model].train
        return t.model, t.dataset.name
    return str(r.choices.get("model")), str(r.choices.get("dataset") or "")


def _measures(c: dict) -> list[str]:
    m = c.get("measure") or []
    return [m] if isinstance(m, str) else list(m)
