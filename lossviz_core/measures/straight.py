"""``straight``: beside a curve between two models, the straight line between them.

At each t the line's point (1 − t)·w_A + t·w_B, with BatchNorm treated as the curve treats
it (re-estimated from the training data), is evaluated like a grid point: ``line_train_loss``,
``line_train_acc`` (and the test split's). A curve result therefore holds both paths on one
axis, and both barriers (:func:`lossviz_core.results.summary.barrier`) come from one file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossviz_core.connect.path import make_plane
from lossviz_core.directions.base import Directions, WeightPath
from lossviz_core.errors import InputError
from lossviz_core.evaluation.evaluate import Evaluator
from lossviz_core.measures.base import MeasureContext, MeasureKind
from lossviz_core.results.quantities import STRAIGHT_PREFIX, Quantity

PREFIX = STRAIGHT_PREFIX


class StraightLine:
    """The loss measure's evaluator on the straight line between a curve's ends."""

    name = "straight"
    needs_grad = False

    def __init__(self, ctx: MeasureContext) -> None:
        curve = getattr(ctx.plane, "path", None)
        d = ctx.plane.directions
        if curve is None or curve.curve is None or d.y is None:
            raise InputError("the straight-line measure goes with a curve (lossviz connect, "
                             "method curve)")
        # both curves reach B at (α, β) = (1, 1): the chord is d₁ + d₂
        chord = [x + y for x, y in zip(d.x, d.y, strict=True)]
        line = Directions(chord, None, d.dir_type, list(d.names), {"method": "straight"},
                          path=WeightPath(recompute_bn=curve.recompute_bn))
        r, c = ctx.recipe, ctx.recipe.compute
        self.evaluator = Evaluator(
            ctx.model, make_plane(ctx.model, line, ctx.data), ctx.data, splits=r.loss.splits,
            loss=ctx.loss, device=ctx.device, precision=c.precision, batch_size=c.batch_size,
            compile="off", multi="off", n_points=ctx.n_points, output=r.model.output,
            capabilities=ctx.capabilities, pinned=ctx.pinned)

    @property
    def quantities(self) -> tuple[str, ...]:
        return tuple(PREFIX + q for q in self.evaluator.quantities)

    @property
    def chunk_size(self) -> int:
        return self.evaluator.chunk_size

    @property
    def info(self) -> dict[str, Any]:
        return self.evaluator.info

    def evaluate(self, coords: np.ndarray) -> dict[str, np.ndarray]:
        return {PREFIX + q: v for q, v in self.evaluator.evaluate(coords).items()}


QUANTITIES = tuple(
    q for i, split in enumerate(("train", "test")) for q in (
        Quantity(f"{PREFIX}{split}_loss", f"{split} loss, straight line", loggable=True,
                 kind="loss", order=40 + 10 * i),
        Quantity(f"{PREFIX}{split}_acc", f"{split} accuracy, straight line", unit="%",
                 colormap="magma", kind="accuracy", order=41 + 10 * i),
    ))

KIND = MeasureKind(
    name="straight", label="the straight line A → B beside a curve", build=StraightLine,
    quantities=QUANTITIES, passes=2.0, cost="a pass to re-estimate BatchNorm and one to "
    "evaluate, per point", help="beside a mode-connecting curve: the straight line between "
    "its ends at the same t")
