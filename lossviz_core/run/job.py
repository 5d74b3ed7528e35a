"""A landscape job: a recipe → a workspace → a surface or a line, by an executor.

The one way through the engine, shared by the CLI, notebooks and the GUI worker::

    job = prepare(recipe)            # or: job = yield from iter_prepare(recipe)
    for chunk in job.iter(out="surface.h5"):
        ...                          # progress; stop iterating to cancel
    result = job.result              # filled in place as chunks arrive
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Generator
from typing import Any

import numpy as np
import torch

from lossviz_core import __version__
from lossviz_core.errors import InputError
from lossviz_core.progress import Chunk, Step, drain
from lossviz_core.recipe.spec import GridSpec, Range, Recipe, jsonable
from lossviz_core.results.result import SurfaceResult
from lossviz_core.results.store import SurfaceStore, read_decisions
from lossviz_core.run.executor import Executor, LocalExecutor
from lossviz_core.run.grid import make_result
from lossviz_core.run.seeds import iter_seeded
from lossviz_core.run.workspace import Workspace, iter_materialize
from lossviz_core.sources.checkpoints import load_state_dict


@dataclasses.dataclass
class Job:
    """A recipe made concrete: its workspace and its result (which fills in place)."""

    recipe: Recipe
    workspace: Workspace
    result: SurfaceResult

    # what the workspace holds, by name
    @property
    def model(self) -> torch.nn.Module:
        return self.workspace.model

    @property
    def data(self) -> Any:
        return self.workspace.data

    @property
    def directions(self) -> Any:
        return self.workspace.directions

    @property
    def device(self) -> torch.device:
        return self.workspace.device

    @property
    def device_text(self) -> str:
        return self.workspace.device_text

    @property
    def evaluator(self) -> Any:
        """The loss measure (the evaluator), when the recipe computes it."""
        return next((m for m in self.workspace.measures if m.name == "loss"), None)

    def specs(self) -> dict[str, Any]:
        """What made this result, as stored in result files: the recipe and how it ran."""
        info = self.workspace.info
        return {
            "recipe": self.recipe.to_dict(),
            "directions_info": jsonable(self.directions.info),
            "evaluator": jsonable(info.get("evaluator", {})),
            "measures": jsonable({k: v for k, v in info.items() if k != "evaluator"}),
            "data": {"storage": self.data.storage, "num_classes": self.data.num_classes,
                     "input_shape": list(self.data.input_shape)},
            "device": self.device_text,
            "torch": torch.__version__,
            "lossviz": __version__,
        }

    def with_recipe(self, recipe: Recipe) -> Job:
        """The same model, data and directions for new ranges, split, precision (a zoom)."""
        ws = self.workspace.with_recipe(recipe)
        result = make_result(recipe, quantities=ws.quantities)
        result.trajectory = self.result.trajectory
        job = Job(recipe, ws, result)
        job.result.specs = job.specs()
        return job

    def iter(
        self, out: str | os.PathLike | None = None, resume: bool = False,
        overwrite: bool = False, executor: Executor | None = None, lock: Any = None,
    ) -> Generator[Chunk, None, SurfaceResult]:
        """Compute the missing points, yielding chunks; with ``out``, written as they finish.

        The file is opened (created, resumed, or reserved to replace the old one once the new
        one is complete) before this returns, so ``self.result`` already holds a resumed
        file's points. ``lock``: an :class:`~lossviz_core.results.paths.OutputLock` taken
        before a long preparation. With a PCA plane the trajectory's own losses are
        evaluated after the grid.
        """
        self.store = None
        if out is not None:
            self.store = SurfaceStore.open(out, self.result, resume=resume, overwrite=overwrite,
                                           lock=lock, decisions=self.workspace.decision_log)
        return self._run(self.store, executor or LocalExecutor())

    def _run(self, store: SurfaceStore | None,
             executor: Executor) -> Generator[Chunk, None, SurfaceResult]:
        try:
            yield from executor.run(self, store)
            traj = self.result.trajectory
            if traj is not None and np.isnan(traj.loss).any() and self.evaluator is not None:
                traj.loss = self._trajectory_losses()
                if store is not None:
                    store.write_trajectory(traj)
            if store is not None:
                self.result.path = str(store.finish())
        finally:
            if store is not None:
                store.close()
        return self.result

    def _trajectory_losses(self) -> np.ndarray:
        """The loss at each checkpoint of the trajectory, evaluated from the checkpoints the
        direction method names (``Directions.checkpoints``); points without checkpoints (the
        models a plane goes through) are evaluated where they lie on the plane."""
        key = f"{self.recipe.loss.splits[0]}_loss"
        traj = self.result.trajectory
        if not self.directions.checkpoints:
            coords = np.column_stack([traj.x, traj.y])
            return np.asarray(self.evaluator.evaluate(coords)[key], dtype=float)
        epochs = list(self.result.trajectory.epochs)
        losses = []
        for epoch, path in self.directions.checkpoints or ():
            if epoch in epochs:
                losses.append(self.evaluator.evaluate_state(load_state_dict(path))[key])
        return np.asarray(losses, dtype=float)


def iter_prepare(recipe: Recipe, resume_from: str | os.PathLike | None = None
                 ) -> Generator[Step, None, Job]:
    """:func:`prepare` as a generator of :class:`~lossviz_core.progress.Step` s (cancellable).

    ``resume_from``: a result file this job will continue; its points were computed with
    decisions (batch, mode, precision, memory format, compile) the rest must share."""
    pinned = resume_decisions(recipe, resume_from) if resume_from is not None else None
    ws = yield from iter_materialize(recipe, pinned=pinned)
    if recipe.directions.seeds:  # one plane per direction seed, evaluated at every point
        ws = yield from iter_seeded(ws, pinned)
    if recipe.grid.fit:
        recipe = recipe.replace(grid=fit_to_trajectory(recipe.grid, ws.directions.trajectory))
        ws.recipe = recipe
    result = make_result(recipe, quantities=ws.quantities)
    result.trajectory = ws.directions.trajectory
    job = Job(recipe, ws, result)
    result.specs = job.specs()
    return job


def prepare(recipe: Recipe, resume_from: str | os.PathLike | None = None) -> Job:
    """Load the model and data, make the directions and probe the evaluator.

    Slow for large data (loads the dataset onto the device): run it off the GUI thread.
    Bad input raises a :class:`~lossviz_core.errors.LossVizError` with a one-line message.
    """
    return drain(iter_prepare(recipe, resume_from))


FIT_MARGIN = 0.15  # of the trajectory's extent, on each side (the paper's figures leave room)


def fit_to_trajectory(grid: GridSpec, trajectory: Any) -> GridSpec:
    """Ranges that hold every checkpoint of ``trajectory`` and the centre, with a margin;
    the point counts are kept. Without a trajectory the grid stays as it is."""
    if trajectory is None:
        return grid.replace(fit=False)

    def fitted(values: np.ndarray, r: Range) -> Range:
        v = np.concatenate([np.asarray(values, dtype=float)[np.isfinite(values)], [0.0]])
        lo, hi = float(v.min()), float(v.max())
        pad = FIT_MARGIN * (hi - lo) if hi > lo else 1.0
        return Range(round(lo - pad, 6), round(hi + pad, 6), r.num)

    y = None if grid.y is None else fitted(trajectory.y, grid.y)
    return GridSpec(x=fitted(trajectory.x, grid.x), y=y, fit=False)


def resume_decisions(recipe: Recipe, path: str | os.PathLike) -> dict[str, Any] | None:
    """The decisions a resumed file's points were computed with (its latest plan), or None
    for a new file or one without them; a clashing ``--precision`` or ``--memory-format``
    is one line."""
    if not os.path.exists(path):
        return None
    log = read_decisions(path)
    if not log:
        return None
    plan = dict(log[-1])
    asked = recipe.compute.precision
    if asked != "auto" and asked != plan.get("precision"):
        raise InputError(f"{path} was computed in {plan.get('precision')}; resume it with "
                         f"--precision {plan.get('precision')} (or auto), or start a new file")
    fmt = recipe.compute.memory_format
    if fmt != "auto" and "channels_last" in plan and (fmt == "channels_last") != bool(
            plan["channels_last"]):
        had = "channels_last" if plan["channels_last"] else "contiguous"
        raise InputError(f"{path} was computed with --memory-format {had}; resume it with "
                         f"--memory-format {had} (or auto), or start a new file")
    return plan
