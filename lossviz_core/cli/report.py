"""What the command line says about a finished result: barriers, the models on a plane,
alignment, and the landscape's summaries (mean ± spread over direction seeds).

``result_lines(result)`` reads everything from the result (so ``lossviz info FILE`` says the
same as the run that wrote it); ``unaligned_barrier(job)`` evaluates the straight line before
alignment at the result's points in [0, 1], for ``--align``'s "before and after".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossviz_core.results.quantities import quantity
from lossviz_core.results.result import SurfaceResult
from lossviz_core.results.summary import barrier, landscape_summaries, path_barriers

CURVE_LOSS, LINE_LOSS = "train_loss", "line_train_loss"


def result_lines(result: SurfaceResult) -> list[str]:
    """One line per fact worth saying about ``result`` (none for a partial one)."""
    recipe = result.recipe
    if recipe is None or not result.complete:
        return []
    out: list[str] = []
    info = (result.specs or {}).get("directions_info") or {}
    barriers = path_barriers(result)
    if barriers:
        out.append("barrier (max along the path − mean of the ends): " + "; ".join(
            f"{quantity(q).label} {v:.4g}" for q, v in barriers.items()))
    if info.get("align"):
        out.extend(_alignment_lines(info))
    traj = result.trajectory
    if traj is not None and traj.labels:
        key = result.main_quantity()
        out.append(f"the models on the plane ({quantity(key).label}): " + "; ".join(
            f"{traj.labels[k]} at ({traj.x[k]:.3g}, {traj.y[k]:.3g}) {traj.loss[k]:.4g}"
            for k in range(len(traj.x))))
    if not barriers and recipe.directions.method not in ("plane3",):
        out.extend(s.text() for s in landscape_summaries(result))
    return out


def _alignment_lines(info: dict[str, Any]) -> list[str]:
    done = [(m.get("label", "B"), m["align"]) for m in info.get("models", ())
            if isinstance(m, dict) and m.get("align")]
    if not done and isinstance(info.get("align"), dict):
        done = [("B", info["align"])]
    return [f"aligned {label} to A: {a['moved']} of {a['units']} hidden units permuted, "
            f"‖θ_{label} − θ_A‖ {a['distance_before']:.4g} → {a['distance_after']:.4g}"
            for label, a in done]


ALIGNING = ("target", "curve", "plane3")


def line_barrier(job: Any, align: bool) -> dict[str, float]:
    """The barrier of the straight line A → B, B aligned to A or not, at the points of
    ``job``'s grid in [0, 1] (``{loss quantity: barrier}``); BatchNorm treated as the job
    treats it. Empty unless the job aligned."""
    r = job.recipe
    d = r.directions
    if not d.param("align") or d.method not in ALIGNING:
        return {}
    x = np.asarray(job.result.x, float)
    inside = x[(x >= 0) & (x <= 1)]
    if inside.size < 2:
        inside = np.linspace(0.0, 1.0, 11)
    params = {"checkpoint": d.param("checkpoint"), "align": align,
              "recompute_bn": d.method == "curve" or bool(d.param("recompute_bn"))}
    line = d.replace(method="target", params={k: v for k, v in params.items() if v})
    ws = job.workspace.with_directions(r.replace(directions=line, measures=("loss",),
                                                 grid=r.grid.replace(y=None)))
    values = ws.measure("loss").evaluate(inside[:, None])
    return {q: barrier(inside, v) for q, v in values.items() if q.endswith("_loss")}


def unaligned_barrier(job: Any) -> dict[str, float]:
    """The straight line's barrier before alignment (see :func:`line_barrier`)."""
    return line_barrier(job, align=False)


def alignment_lines(job: Any) -> list[str]:
    """"barrier before and after alignment" for a line, curve or plane made with ``--align``."""
    before = unaligned_barrier(job)
    if not before:
        return []
    if job.recipe.directions.method == "plane3":  # the edge A → B of the plane, evaluated
        after = line_barrier(job, align=True)
    else:
        key = LINE_LOSS if job.recipe.directions.method == "curve" else CURVE_LOSS
        held = path_barriers(job.result)
        after = {q: held.get(key.replace("train", q.split("_")[0])) for q in before}
    return [f"straight-line barrier A → B ({quantity(q).label}): {b:.4g} before alignment, "
            f"{after[q]:.4g} after" for q, b in before.items() if after.get(q) is not None]
