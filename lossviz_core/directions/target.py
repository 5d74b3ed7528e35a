"""``target``: d1 = θ_B − θ_A, unnormalized (1-D interpolation between two solutions).

In 2-D, d2 is random (seeded, as ``random``'s d1 would be). ``--align`` permutes B's hidden
units to match A's first (weight matching, :mod:`lossviz_core.align`); ``--recompute-bn``
re-estimates BatchNorm statistics at every point from the training data. ``--only`` /
``--exclude`` interpolate some parameters only (the rest stay θ_A's).
"""

from __future__ import annotations

from lossviz_core.directions.base import (
    DirectionContext,
    DirectionMethod,
    Directions,
    WeightPath,
)
from lossviz_core.directions.others import other_state
from lossviz_core.directions.select import SELECTION_PARAMS, Selection
from lossviz_core.directions.vectors import random_direction, target_direction
from lossviz_core.directions.weights import names_of
from lossviz_core.errors import InputError
from lossviz_core.params import Param
from lossviz_core.recipe.spec import Range


def build(ctx: DirectionContext) -> Directions:
    s, dt = ctx.spec, ctx.spec.dir_type
    target = s.param("checkpoint")
    if not target:
        raise InputError("the target method needs a target checkpoint (θ_B): --checkpoint2 FILE")
    selection = Selection.of(s)
    chosen = selection.chosen(ctx.model, dt)
    state_b, info = other_state(ctx.model, target, "B", bool(s.param("align")))
    x = target_direction(ctx.model, state_b, dt, chosen=chosen)
    y = (random_direction(ctx.model, dt, s.ynorm, s.yignore, ctx.generator(), chosen)
         if ctx.two_d else None)
    info = {"method": "target", "target_checkpoint": str(target),
            **{k: v for k, v in info.items() if k != "checkpoint"}, **selection.info()}
    path = WeightPath(recompute_bn=True) if s.param("recompute_bn") else None
    return Directions(x, y, dt, names_of(ctx.model, dt), info, path=path).fill_info(seed=s.seed)


METHOD = DirectionMethod(
    name="target", build=build, label="Interpolation A → B",
    line_label="1-D interpolation A → B", planes=False, dir_type="states",
    line_range=Range(-0.5, 1.5, 41), title="interpolation", uses=(),
    model_params=("checkpoint",),
    params=(Param("checkpoint", "file", flag="checkpoint2", label="Checkpoint B",
                  title="interpolation to {}", selects=True, metavar="FILE",
                  help="interpolate θ_A + α(θ_B − θ_A) towards this checkpoint"),
            Param("align", "bool", default=False, label="Align to A", title="aligned",
                  help="permute B's hidden units to match A's first (weight matching, "
                       "Git Re-Basin)"),
            Param("recompute_bn", "bool", default=False, flag="recompute-bn",
                  label="Re-estimate BatchNorm", title="BN re-estimated",
                  help="re-estimate BatchNorm statistics at every point from the training "
                       "data (instead of interpolating them)"),
            *SELECTION_PARAMS),
)
