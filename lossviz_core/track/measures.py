"""What the tracker measures at a recorded step: the table of measures and each one's work.

A measure is an entry of :data:`TRACK_MEASURES` (:class:`TrackMeasure`: its name, what it
adds to a record, its help, whether it needs the last step's update); the command line's
``--track`` choices, its help and the window's list are generated from the table. Each one
works on a :class:`TrackContext`: the Hessian of the probe examples' mean loss at the
current θ (all trainable parameters), the update u = θ − θ_before of the step just taken,
and state kept between records (the last top eigenvector, the warm start).

- ``lambda_max``: λmax by Lanczos (:func:`~lossviz_core.curvature.lanczos.lanczos_eigs`)
  from the previous record's eigenvector: after a few hundred steps it has moved little, so
  a handful of Hessian-vector products confirm it;
- ``sharpness``: critical sharpness λc = 2/ηc along the update
  (:func:`~lossviz_core.curvature.critical.critical_sharpness`), forward passes only;
- ``slice``: the loss along the update, L(θ_before + c·u) at ``slice_points`` (c = 0: before
  the step, c = 1: after it);
- ``grad_norm``: ‖∇L‖ of the probe examples (free once λmax built the gradient's graph);
- ``checkpoints``: the weights, to ``RUN/steps/model_<step>.pt`` (``RUN/steps`` is a run
  folder: ``--pca RUN/steps`` fits a PCA plane to the tracked steps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lossviz_core.curvature.critical import critical_sharpness
from lossviz_core.curvature.lanczos import lanczos_eigs
from lossviz_core.errors import InputError
from lossviz_core.runs import RunInfo, checkpoint_name, write_run
from lossviz_core.sources.checkpoints import save_checkpoint

STEPS_FOLDER = "steps"
SLICE_POINTS = (-0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5)


@dataclass
class TrackContext:
    """One record's inputs. ``op``: a :class:`~lossviz_core.curvature.HessianOperator` at the
    current θ; ``update``: θ − θ_before in ``op``'s layout (None before the first step);
    ``state``: kept between records; ``options``: the tracker's settings."""

    op: Any
    update: Tensor | None
    lr: float | None
    step: int
    epoch: Any
    model: nn.Module
    state: dict[str, Any]
    options: dict[str, Any]
    run_dir: Path
    _phi: dict[float, float] = field(default_factory=dict)

    def phi(self, c: float) -> float:
        """The probe loss at θ_before + c·u (c = 1: now), computed once per c."""
        c = float(c)
        if c not in self._phi:
            delta = None if c == 1.0 else (c - 1.0) * self.update
            self._phi[c] = self.op.loss(delta)
        return self._phi[c]


@dataclass(frozen=True)
class TrackMeasure:
    """A tracked measure: ``compute(ctx)`` returns the keys it adds to the record;
    ``keys``: the main ones (what a plot draws); ``needs_update``: it uses the update of
    the step just taken (so it is skipped at a record before any step)."""

    name: str
    label: str
    help: str
    compute: Callable[[TrackContext], dict[str, Any]]
    keys: tuple[str, ...]
    needs_update: bool = False


def _lambda_max(ctx: TrackContext) -> dict[str, Any]:
    op, o = ctx.op, ctx.options
    v0 = ctx.state.get("vector")
    warm = v0 is not None and v0.shape == (op.size,)
    if not warm:
        v0 = op.random_vector(torch.Generator().manual_seed(int(o.get("seed", 0))))
    values, vectors, converged, steps = lanczos_eigs(op.hvp, v0.to(op.device, op.dtype), 1,
                                                     "LA", o["tol"], o["maxiter"])
    ctx.state["vector"] = vectors[0].detach()
    if op.graph_value is not None:  # the kept graph knows the loss now: φ(1) for free
        ctx._phi.setdefault(1.0, op.graph_value)
    return {"lambda_max": float(values[0]), "lambda_max_hvps": int(steps),
            "lambda_max_converged": bool(converged[0]), "lambda_max_warm": warm}


def _sharpness(ctx: TrackContext) -> dict[str, Any]:
    if not ctx.lr:
        raise InputError("critical sharpness needs the learning rate: give the tracker the "
                         "optimizer (or lr=)")
    res = critical_sharpness(ctx.phi, ctx.lr, known=dict(ctx._phi), rtol=ctx.options["rtol"])
    out = {"sharpness": res["value"], "critical_lr": res["critical_lr"],
           "sharpness_evals": res["evaluations"]}
    if not res["converged"]:
        out["sharpness_note"] = res.get("note", "not converged")
    return out


def _slice(ctx: TrackContext) -> dict[str, Any]:
    cs = [float(c) for c in ctx.options["slice_points"]]
    return {"slice": {"c": cs, "loss": [ctx.phi(c) for c in cs]}}


def _grad_norm(ctx: TrackContext) -> dict[str, Any]:
    value, g = ctx.op.value_and_gradient()
    ctx._phi.setdefault(1.0, value)
    return {"grad_norm": float(g.norm())}


def _checkpoint(ctx: TrackContext) -> dict[str, Any]:
    folder = ctx.run_dir / STEPS_FOLDER
    info: RunInfo | None = ctx.state.get("steps_run")
    if info is None:
        info = RunInfo(path=folder, model=dict(ctx.options.get("model_spec") or {}),
                       dataset=dict(ctx.options.get("dataset_spec") or {}),
                       train={"unit": "step", **(ctx.options.get("train") or {})},
                       checkpoints=[])
        ctx.state["steps_run"] = info
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / checkpoint_name(ctx.step)
    state = {k: v.detach().contiguous() for k, v in ctx.model.state_dict().items()}
    save_checkpoint(state, path, epoch=ctx.step, step=ctx.step)
    info.checkpoints = [c for c in info.checkpoints if c[0] != ctx.step] + [(ctx.step, path)]
    write_run(info)
    return {"checkpoint": f"{STEPS_FOLDER}/{path.name}"}


TRACK_MEASURES: dict[str, TrackMeasure] = {m.name: m for m in (
    TrackMeasure("lambda_max", "λmax (top Hessian eigenvalue)",
                 "the top Hessian eigenvalue of the probe examples' loss, by Lanczos "
                 "warm-started from the last record's eigenvector", _lambda_max,
                 ("lambda_max",)),
    TrackMeasure("sharpness", "critical sharpness λc = 2/ηc",
                 "critical sharpness: 2 over the smallest learning rate at which the step's "
                 "update would raise the loss (a few forward passes)", _sharpness,
                 ("sharpness",), needs_update=True),
    TrackMeasure("slice", "loss along the update",
                 "the probe loss along the step's update, before (0) and after (1) it and "
                 "beyond", _slice, ("slice",), needs_update=True),
    TrackMeasure("grad_norm", "gradient norm ‖∇L‖", "the probe examples' gradient norm",
                 _grad_norm, ("grad_norm",)),
    TrackMeasure("checkpoints", "checkpoints (for a PCA plane)",
                 "the weights at each record, in RUN/steps (a run folder: --pca RUN/steps)",
                 _checkpoint, ("checkpoint",)),
)}
DEFAULT_MEASURES = ("sharpness", "grad_norm")  # forward passes and one gradient: cheap


def check_measures(names: Any) -> tuple[str, ...]:
    """Measure names (a list or comma-separated text), each known; one line if not."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out = tuple(dict.fromkeys(str(n).strip() for n in items if str(n).strip()))
    unknown = [n for n in out if n not in TRACK_MEASURES]
    if unknown:
        raise InputError(f"unknown tracked measure {unknown[0]!r}; choose from "
                         f"{', '.join(TRACK_MEASURES)}")
    if not out:
        raise InputError(f"no measures to track; choose from {', '.join(TRACK_MEASURES)}")
    return out


def measure_order(names: tuple[str, ...]) -> list[TrackMeasure]:
    """λmax first (its kept gradient graph gives the gradient norm and the loss now for
    free), then the gradient norm (or its one pass gives the loss now), then the forward
    passes along the update, which reuse every loss known so far."""
    rank = {"lambda_max": 0, "grad_norm": 1, "slice": 2, "sharpness": 3, "checkpoints": 4}
    return sorted((TRACK_MEASURES[n] for n in names), key=lambda m: rank.get(m.name, 5))


def flat_update(op: Any, before: dict[str, Tensor], model: nn.Module) -> Tensor:
    """θ_now − θ_before in ``op``'s flat layout."""
    now = dict(model.named_parameters())
    return op.flatten({n: now[n].detach() - before[n] for n in op.names})


def as_numpy(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=float)
