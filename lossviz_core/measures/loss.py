"""``loss``: the loss (and accuracy) of θ + α·d₁ + β·d₂ over whole splits, by the evaluator."""

from __future__ import annotations

from lossviz_core.evaluation.evaluate import Evaluator
from lossviz_core.measures.base import MeasureContext, MeasureKind


class LossMeasure(Evaluator):
    """The evaluator as a measure: quantities ``{split}_loss`` and ``{split}_acc``."""

    name = "loss"
    needs_grad = False


def build(ctx: MeasureContext) -> LossMeasure:
    r = ctx.recipe
    c = r.compute
    return LossMeasure(
        ctx.model, ctx.plane, ctx.data, splits=r.loss.splits, loss=ctx.loss, device=ctx.device,
        precision=c.precision, batch_size=c.batch_size, compile=c.compile, multi=c.multi,
        n_points=ctx.n_points, output=r.model.output, capabilities=ctx.capabilities,
        pinned=ctx.pinned,
    )


KIND = MeasureKind(name="loss", label="Loss and accuracy", build=build)
