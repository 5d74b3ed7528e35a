"""A landscape job: specs → model, data, directions, evaluator → a surface or a line.

The one way through the engine, shared by the CLI, notebooks and the GUI worker::

    job = prepare(ModelSpec(...), DatasetSpec(...), DirectionSpec(...), SurfaceSpec(...))
    for chunk in job.iter(out="surface.h5"):
        ...                      # progress; stop iterating to cancel
    result = job.result          # filled in place as chunks arrive
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Generator
from typing import Any

import numpy as np
import torch

from lossviz_core import __version__
from lossviz_core.data import Dataset, load_dataset
from lossviz_core.device import device_description, pick_device
from lossviz_core.directions import Directions, make_directions
from lossviz_core.errors import InputError
from lossviz_core.evaluation.evaluate import Evaluator
from lossviz_core.models import build_model, model_info
from lossviz_core.progress import Chunk
from lossviz_core.recipe.spec import DatasetSpec, DirectionSpec, ModelSpec, SurfaceSpec, jsonable
from lossviz_core.results.result import SurfaceResult
from lossviz_core.results.store import SurfaceStore
from lossviz_core.run.grid import iter_surface, make_result
from lossviz_core.sources.checkpoints import load_into


@dataclasses.dataclass
class Job:
    """Everything needed to compute one surface or line; ``result`` fills in place."""

    model_spec: ModelSpec
    dataset_spec: DatasetSpec
    direction_spec: DirectionSpec
    surface_spec: SurfaceSpec
    model: torch.nn.Module
    data: Dataset
    directions: Directions
    evaluator: Evaluator
    device: torch.device
    result: SurfaceResult
    prepare_seconds: float = 0.0

    @property
    def device_text(self) -> str:
        return device_description(self.device)

    def specs(self) -> dict[str, Any]:
        """The specs that made this result, as stored in result files."""
        return {
            "model": self.model_spec.to_dict(),
            "dataset": self.dataset_spec.to_dict(),
            "directions": self.direction_spec.to_dict(),
            "surface": self.surface_spec.to_dict(),
            "directions_info": jsonable(self.directions.info),
            "evaluator": jsonable(self.evaluator.info),
            "device": self.device_text,
            "torch": torch.__version__,
            "lossviz": __version__,
        }

    def with_surface(self, surface: SurfaceSpec) -> Job:
        """The same model, data and directions on new ranges (zoom): no reloading."""
        old = self.surface_spec
        if (surface.y is None) != (old.y is None):
            raise InputError("zooming cannot switch between a surface and a line")
        if surface.device != old.device:
            raise InputError("a new device needs a new job: call prepare() again")
        how = ("split", "loss", "precision", "batch_size")
        if any(getattr(surface, k) != getattr(old, k) for k in how):
            evaluator = _make_evaluator(self.model, self.directions, self.data, surface, self.device)
        else:
            evaluator = self.evaluator
        job = dataclasses.replace(self, surface_spec=surface, evaluator=evaluator)
        job.result = make_result(surface)
        job.result.trajectory = self.result.trajectory
        job.result.specs = job.specs()
        return job

    def iter(
        self, out: str | os.PathLike | None = None, resume: bool = False, overwrite: bool = False
    ) -> Generator[Chunk, None, SurfaceResult]:
        """Compute the missing points, yielding chunks; with ``out``, written as they finish.

        With a PCA plane the trajectory's own losses are evaluated after the grid.
        """
        store = None
        if out is not None:
            store = SurfaceStore.open(out, self.result, resume=resume, overwrite=overwrite)
        yield from iter_surface(self.evaluator, self.result, store)
        traj = self.result.trajectory
        if traj is not None and np.isnan(traj.loss).any():
            traj.loss = self._trajectory_losses()
            if store is not None:
                store.write_trajectory(traj)
        return self.result

    def _trajectory_losses(self) -> np.ndarray:
        from lossviz_core.sources.checkpoints import load_state_dict
        from lossviz_core.train.runs import read_run

        run = read_run(self.direction_spec.pca_run)
        key = f"{self.surface_spec.splits[0]}_loss"
        epochs = list(self.result.trajectory.epochs)
        losses = []
        for epoch, path in run.checkpoints:
            if epoch in epochs:
                losses.append(self.evaluator.evaluate_state(load_state_dict(path))[key])
        return np.asarray(losses, dtype=float)


def _make_evaluator(model, directions, data, surface: SurfaceSpec, device) -> Evaluator:
    n_points = int(np.prod(surface.shape))
    return Evaluator(model, directions, data, splits=surface.splits, loss=surface.loss,
                     device=device, precision=surface.precision,
                     batch_size=surface.batch_size, n_points=n_points)


def prepare(
    model: ModelSpec, dataset: DatasetSpec, directions: DirectionSpec, surface: SurfaceSpec
) -> Job:
    """Load the model and data, make the directions and probe the evaluator.

    Slow for large data (loads the dataset onto the device): run it off the GUI thread.
    Bad input raises a :class:`~lossviz_core.errors.LossVizError` with a one-line message.
    """
    t0 = time.perf_counter()
    info = model_info(model.name)
    device = pick_device(surface.device)
    if directions.method == "target" and surface.y is not None and not directions.target_checkpoint:
        raise InputError("the target direction needs a second checkpoint")
    if not model.checkpoint and directions.method != "pca":
        raise InputError("choose a checkpoint to look at (an untrained model has no landscape "
                         "worth plotting), or use --demo")
    data = load_dataset(dataset, device)
    # As training does: a dataset with other than the zoo's class count sizes the output layer.
    net = build_model(model.name, data.num_classes)
    if model.checkpoint:
        load_into(net, model.checkpoint)
    if tuple(data.input_shape) != tuple(info.input_shape):
        raise InputError(
            f"model {model.name} expects inputs of shape {tuple(info.input_shape)} but dataset "
            f"{dataset.name} has {tuple(data.input_shape)}"
        )
    if "test" in surface.splits and data.test is None:
        raise InputError(f"dataset {dataset.name} has no test split; use --split train")
    net.to(device).eval()
    dirs = make_directions(net, directions, two_d=surface.y is not None).to(device)
    evaluator = _make_evaluator(net, dirs, data, surface, device)
    result = make_result(surface)
    result.trajectory = dirs.trajectory
    job = Job(model, dataset, directions, surface, net, data, dirs, evaluator, device, result)
    result.specs = job.specs()
    job.prepare_seconds = time.perf_counter() - t0
    return job
