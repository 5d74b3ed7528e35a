"""``target``: d1 = θ_B − θ_A, unnormalized (1-D interpolation between two solutions).

In 2-D, d2 is random (seeded, as ``random``'s d1 would be).
"""

from __future__ import annotations

from lossviz_core.directions.base import (
    DirectionContext,
    DirectionMethod,
    Directions,
    register_method,
)
from lossviz_core.directions.vectors import random_direction, target_direction
from lossviz_core.directions.weights import names_of
from lossviz_core.errors import InputError


def build(ctx: DirectionContext) -> Directions:
    s, dt = ctx.spec, ctx.spec.dir_type
    if not s.target_checkpoint:
        raise InputError("the target method needs a target checkpoint (θ_B)")
    x = target_direction(ctx.model, s.target_checkpoint, dt)
    y = random_direction(ctx.model, dt, s.ynorm, s.yignore, ctx.generator()) if ctx.two_d else None
    info = {"method": "target", "target_checkpoint": str(s.target_checkpoint)}
    return Directions(x, y, dt, names_of(ctx.model, dt), info).fill_info(seed=s.seed)


register_method(DirectionMethod("target", build, "Interpolation A → B"))
