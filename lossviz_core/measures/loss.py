"""``loss``: the loss (and accuracy) of θ + α·d₁ + β·d₂ over whole splits, by the evaluator."""

from __future__ import annotations

from typing import Any

from lossviz_core.evaluation.evaluate import Evaluator
from lossviz_core.measures.base import MeasureContext, MeasureKind
from lossviz_core.results.nonfinite import RECORD_KEY, running_var_record


class LossMeasure(Evaluator):
    """The evaluator as a measure: quantities ``{split}_loss`` and ``{split}_acc``."""

    name = "loss"
    needs_grad = False
    _non_finite: dict[str, Any] | None = None

    @property
    def info(self) -> dict[str, Any]:
        """The evaluator's decisions, and what can make a loss NaN where it has not diverged
        (BatchNorm running variances below zero: :mod:`lossviz_core.results.nonfinite`)."""
        if self._non_finite is None:
            self._non_finite = running_var_record(self.model, self.plane)
        return {**super().info, RECORD_KEY: self._non_finite}


def build(ctx: MeasureContext) -> LossMeasure:
    r = ctx.recipe
    c = r.compute
    return LossMeasure(
        ctx.model, ctx.plane, ctx.data, splits=r.loss.splits, loss=ctx.loss, device=ctx.device,
        precision=c.precision, batch_size=c.batch_size, compile=c.compile, multi=c.multi,
        memory_format=c.memory_format,
        n_points=ctx.n_points, output=r.model.output, capabilities=ctx.capabilities,
        pinned=ctx.pinned,
    )


KIND = MeasureKind(name="loss", label="Loss and accuracy", build=build)
