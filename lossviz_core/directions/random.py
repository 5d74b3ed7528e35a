"""``random``: seeded Gaussian directions, filter-normalized by default (the paper's plane).

Seeded with ``torch.Generator().manual_seed(seed)``: d1 from the stream's start
(xnorm/xignore), d2 from its continuation (ynorm/yignore).
"""

from __future__ import annotations

from lossviz_core.directions.base import DirectionContext, DirectionMethod, Directions
from lossviz_core.directions.vectors import random_direction
from lossviz_core.directions.weights import names_of


def build(ctx: DirectionContext) -> Directions:
    s, dt, gen = ctx.spec, ctx.spec.dir_type, ctx.generator()
    x = random_direction(ctx.model, dt, s.xnorm, s.xignore, gen)
    y = random_direction(ctx.model, dt, s.ynorm, s.yignore, gen) if ctx.two_d else None
    info = {"method": "random", "seed": s.seed}
    return Directions(x, y, dt, names_of(ctx.model, dt), info).fill_info()


METHOD = DirectionMethod(
    name="random", build=build, label="Random plane", line_label="1-D random direction",
    title="random directions",
)
