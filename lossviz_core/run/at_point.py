"""The curvature report of a recipe's model at a point of its plane: one call for the CLI's
``lossviz curvature``, the window's Curvature tab and a notebook.

``iter_curvature(recipe, at=(α, β))`` prepares the workspace (model, data, directions: the
directions say which parameters are "perturbed"), builds the Hessian there and yields the
report's :class:`~lossviz_core.progress.Step` s (the plan in Hessian-vector products first,
then each part with an ETA), returning the report with the point's loss added.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from lossviz_core.curvature.examples import examples_of
from lossviz_core.curvature.hessian import HessianOperator
from lossviz_core.curvature.report import CurvatureOptions, iter_curvature_report
from lossviz_core.progress import Step, drain
from lossviz_core.recipe.spec import Recipe
from lossviz_core.run.workspace import iter_materialize


def iter_curvature(
    recipe: Recipe,
    options: CurvatureOptions | None = None,
    at: tuple[float, float] = (0.0, 0.0),
    params: str = "perturbed",
    precision: str = "fp32",
    subsample: int | None = None,
    seed: int = 0,
    workspace: Any = None,
) -> Generator[Step, None, dict[str, Any]]:
    """The report at θ + α·d₁ + β·d₂ (default: the checkpoint itself); see the module docstring.

    ``params``: ``perturbed`` (what the recipe's directions move) or ``all``; ``precision``:
    ``fp32`` or ``fp64``; ``subsample``: a seeded subset of the split's examples for the
    Hessian. ``workspace``: an already prepared one (the window's), else it is prepared here.
    """
    ws = workspace
    if ws is None:
        ws = yield from iter_materialize(recipe)
    examples = examples_of(ws.data, recipe.loss.splits, subsample, seed)
    op = HessianOperator.from_plane(ws.plane, examples, ws.loss, params, at[0], at[1],
                                    dtype=precision, batch_size=recipe.compute.batch_size,
                                    output=recipe.model.output, device=ws.device)
    report = yield from iter_curvature_report(op, options)
    coords = np.array([[at[0], at[1]]]) if not recipe.is_line else np.array([[at[0]]])
    report["point"] = {"alpha": float(at[0]), "beta": float(at[1]),
                       **{q: float(v[0]) for q, v in ws.evaluate(coords).items()}}
    report["recipe"] = recipe.to_dict()
    report["params"] = params
    return report


def curvature(recipe: Recipe, **kwargs: Any) -> dict[str, Any]:
    """:func:`iter_curvature` without progress."""
    return drain(iter_curvature(recipe, **kwargs))
