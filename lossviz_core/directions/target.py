"""``target``: d1 = θ_B − θ_A, unnormalized (1-D interpolation between two solutions).

In 2-D, d2 is random (seeded, as ``random``'s d1 would be). ``--only`` / ``--exclude``
interpolate some parameters only (the rest stay θ_A's).
"""

from __future__ import annotations

from lossviz_core.directions.base import DirectionContext, DirectionMethod, Directions
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
    x = target_direction(ctx.model, target, dt, chosen=chosen)
    y = (random_direction(ctx.model, dt, s.ynorm, s.yignore, ctx.generator(), chosen)
         if ctx.two_d else None)
    info = {"method": "target", "target_checkpoint": str(target), **selection.info()}
    return Directions(x, y, dt, names_of(ctx.model, dt), info).fill_info(seed=s.seed)


METHOD = DirectionMethod(
    name="target", build=build, label="Interpolation A → B",
    line_label="1-D interpolation A → B", planes=False, dir_type="states",
    line_range=Range(-0.5, 1.5, 41), title="interpolation", uses=(),
    model_params=("checkpoint",),
    params=(Param("checkpoint", "file", flag="checkpoint2", label="Checkpoint B",
                  title="interpolation to {}", selects=True, metavar="FILE",
                  help="interpolate θ_A + α(θ_B − θ_A) towards this checkpoint"),
            *SELECTION_PARAMS),
)
