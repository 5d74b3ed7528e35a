"""``plane3``: the plane through three models A, B, C (Garipov et al. 2018, Figure 1).

Origin θ_A (the model's own weights), d₁ = θ_B − θ_A and d₂ = the part of θ_C − θ_A
orthogonal to d₁ (Gram–Schmidt over every tensor the directions perturb), so A lies at
(0, 0), B at (1, 0) and C at (c, 1) with c = ⟨θ_C − θ_A, d₁⟩ / ‖d₁‖². No normalization: the
plane's own lengths are the models' distances. The three models are the plane's
"trajectory" (labelled A, B, C): the job evaluates each at its coordinates, views and
figures mark them. With ``states`` BatchNorm statistics are interpolated like the weights
(each model is exactly itself at its point); ``--recompute-bn`` re-estimates them at every
point from the training data instead; ``--align`` permutes B's and C's hidden units to
match A's first.
"""

from __future__ import annotations

import numpy as np
import torch

from lossviz_core.directions.base import DirectionContext, DirectionMethod, Directions, WeightPath
from lossviz_core.directions.others import other_state, own_state
from lossviz_core.directions.weights import is_perturbable, names_of, weights_of
from lossviz_core.errors import InputError
from lossviz_core.params import Param
from lossviz_core.recipe.spec import Range
from lossviz_core.results.result import Trajectory

LABELS = ("A", "B", "C")


def _dot(u: list, v: list) -> float:
    return float(sum((a.double() * b.double()).sum() for a, b in zip(u, v, strict=True)
                     if is_perturbable(a)))


def build(ctx: DirectionContext) -> Directions:
    s, dt, model = ctx.spec, ctx.spec.dir_type, ctx.model
    align = bool(s.param("align"))
    a = own_state(model)
    b, info_b = other_state(model, s.param("checkpoint"), "B", align, own=a)
    c, info_c = other_state(model, s.param("checkpoint_c"), "C", align, own=a)
    names = names_of(model, dt)
    live = weights_of(model, dt)
    zero = [not is_perturbable(w) for w in live]
    d1 = [torch.zeros_like(w) if z else (b[n] - a[n]).to(w)
          for n, w, z in zip(names, live, zero, strict=True)]
    v = [torch.zeros_like(w) if z else (c[n] - a[n]).to(w)
         for n, w, z in zip(names, live, zero, strict=True)]
    uu = _dot(d1, d1)
    if uu == 0.0:
        raise InputError("models A and B are the same: the plane through three models needs "
                         "three different ones")
    cx = _dot(v, d1) / uu
    d2 = [t - cx * u for t, u in zip(v, d1, strict=True)]
    if _dot(d2, d2) <= 1e-12 * max(uu, _dot(v, v)):
        raise InputError("model C lies on the line through A and B: no plane is defined")
    xs, ys = np.array([0.0, 1.0, cx]), np.array([0.0, 0.0, 1.0])
    models = [{"label": "A", "x": 0.0, "y": 0.0},
              {"label": "B", "x": 1.0, "y": 0.0, **info_b},
              {"label": "C", "x": cx, "y": 1.0, **info_c}]
    traj = Trajectory(epochs=np.arange(3), x=xs, y=ys, off_plane=np.zeros(3),
                      loss=np.full(3, np.nan), labels=LABELS)
    path = WeightPath(recompute_bn=True) if s.param("recompute_bn") else None
    info = {"method": "plane3", "models": models, "c": cx, "align": align,
            "recompute_bn": bool(path)}
    return Directions(d1, d2, dt, names, info, trajectory=traj, path=path).fill_info()


METHOD = DirectionMethod(
    name="plane3", build=build, label="Plane through three models A, B, C",
    lines=False, dir_type="states", plane_range=Range(-0.5, 1.5, 21),
    title="plane through A, B, C", uses=(), model_params=("checkpoint", "checkpoint_c"),
    help="origin A, d₁ = θ_B − θ_A, d₂ = θ_C − θ_A made orthogonal to d₁: A at (0, 0), B at "
         "(1, 0), C at (c, 1)",
    params=(
        Param("checkpoint", "file", flag="checkpoint2", label="Checkpoint B", metavar="FILE",
              help="the second model (a checkpoint or a run folder)"),
        Param("checkpoint_c", "file", flag="checkpoint3", label="Checkpoint C", metavar="FILE",
              selects=True,
              help="the third model: a plane through A (the model), B and C"),
        Param("align", "bool", default=False, label="Align to A", title="aligned",
              help="permute B's and C's hidden units to match A's first (weight matching)"),
        Param("recompute_bn", "bool", default=False, flag="recompute-bn",
              label="Re-estimate BatchNorm", title="BN re-estimated",
              help="re-estimate BatchNorm statistics at every point from the training data "
                   "(instead of interpolating them)"),
    ),
)
