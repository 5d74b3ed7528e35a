"""``random``: seeded Gaussian directions, filter-normalized by default (the paper's plane).

Seeded with ``torch.Generator().manual_seed(seed)``: d1 from the stream's start
(xnorm/xignore), d2 from its continuation (ynorm/yignore). ``--only`` / ``--exclude`` keep
the draw and zero the tensors left out (:mod:`.select`). ``--dir-storage seeded`` keeps the
same directions as seeds and regenerates them whenever a plane needs them
(:mod:`.seeded`): for models whose weights fit in memory once but not three times.
"""

from __future__ import annotations

from lossviz_core.directions.base import DirectionContext, DirectionMethod, Directions
from lossviz_core.directions.seeded import STORAGES, seeded_random
from lossviz_core.directions.select import SELECTION_PARAMS, Selection
from lossviz_core.directions.vectors import random_direction
from lossviz_core.directions.weights import names_of, weights_of
from lossviz_core.errors import InputError
from lossviz_core.params import Param

STORAGE = Param("dir_storage", "str", default="stored", choices=STORAGES,
                label="Direction storage",
                help="stored: d₁ and d₂ held in memory (a plane costs about 3× the weights "
                "beyond the model); seeded: the same directions regenerated from the seed "
                "block by block whenever a point needs them (a plane costs a few MB beyond "
                "the model, and some drawing time per point)")


def build(ctx: DirectionContext) -> Directions:
    s, dt, gen = ctx.spec, ctx.spec.dir_type, ctx.generator()
    selection = Selection.of(s)
    chosen = selection.chosen(ctx.model, dt)
    if not selection.everything and s.xignore == "biasbn" and not any(
            keep and w.dim() > 1 for keep, w in zip(chosen, weights_of(ctx.model, dt),
                                                    strict=True)):
        raise InputError(f"{selection.text()} chooses only biases and norm layers, which "
                         "--xignore biasbn leaves at θ; choose weight matrices too, or "
                         "--xignore none")
    info = {"method": "random", "seed": s.seed, **selection.info()}
    if s.param("dir_storage", "stored") == "seeded":
        dirs = seeded_random(ctx.model, dt, (s.xnorm, s.ynorm if ctx.two_d else None),
                             (s.xignore, s.yignore if ctx.two_d else None), gen, chosen)
        return dirs.fill_info(**info, storage="seeded")
    x = random_direction(ctx.model, dt, s.xnorm, s.xignore, gen, chosen)
    y = random_direction(ctx.model, dt, s.ynorm, s.yignore, gen, chosen) if ctx.two_d else None
    return Directions(x, y, dt, names_of(ctx.model, dt), info).fill_info()


METHOD = DirectionMethod(
    name="random", build=build, label="Random plane", line_label="1-D random direction",
    title="random directions", params=(*SELECTION_PARAMS, STORAGE),
)
