"""A workspace: a recipe made concrete on one device (model, data, plane, measures).

``materialize(recipe, device)`` loads the data once, builds the model from its source and
loads the checkpoint, makes the directions (or takes them, already made, from a driver),
detects what the model supports, builds the plane θ + α·d₁ + β·d₂ and the measures. An
executor then evaluates grid points on it: the local executor on this one, a cluster
executor on one per worker. ``iter_materialize`` is the same as a generator that yields a
:class:`~lossviz_core.progress.Step` per stage, so a caller can show progress and cancel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any

import numpy as np
import torch
from torch import nn

from lossviz_core.connect.path import make_plane
from lossviz_core.data import Dataset, data_source, load_dataset
from lossviz_core.device import device_description, pick_device
from lossviz_core.directions import (
    Directions,
    direction_method,
    iter_directions,
    make_directions,
)
from lossviz_core.errors import InputError
from lossviz_core.evaluation.capabilities import Capabilities, detect, set_mode
from lossviz_core.evaluation.multipoint import sample_of
from lossviz_core.evaluation.outputs import select_output
from lossviz_core.losses import LossFunction, resolve_loss
from lossviz_core.measures import MeasureContext, measure_kind
from lossviz_core.plane import Plane
from lossviz_core.progress import Step, drain
from lossviz_core.recipe.spec import Recipe
from lossviz_core.sources import LoadedModel, load_model, model_source
from lossviz_core.sources.checkpoints import load_into
from lossviz_core.sources.diagnose import check_forward, check_inputs, model_facts


@dataclasses.dataclass
class Workspace:
    """Everything one device needs to evaluate points of ``recipe``."""

    recipe: Recipe
    device: torch.device
    model: nn.Module
    data: Dataset
    directions: Directions
    plane: Plane
    loss: LossFunction
    capabilities: Capabilities
    measures: list[Any]
    loaded: LoadedModel | None = None

    @property
    def device_text(self) -> str:
        return device_description(self.device)

    @property
    def quantities(self) -> tuple[str, ...]:
        return tuple(q for m in self.measures for q in m.quantities)

    @property
    def chunk_size(self) -> int:
        return max(1, min(m.chunk_size for m in self.measures))

    @property
    def info(self) -> dict[str, Any]:
        """How points are computed, per measure (the loss measure's under ``evaluator``)."""
        out = {m.name: m.info for m in self.measures}
        if "loss" in out:
            out["evaluator"] = out.pop("loss")
        return out

    @property
    def decision_log(self) -> list[dict[str, Any]]:
        """How points are computed (the loss measure's decisions; ids: :attr:`decision_id`)."""
        m = next((m for m in self.measures if hasattr(m, "decision_log")), None)
        return [] if m is None else m.decision_log

    @property
    def decision_id(self) -> int:
        m = next((m for m in self.measures if hasattr(m, "decision_log")), None)
        return 0 if m is None else m.decision_id

    def measure(self, name: str) -> Any:
        return next(m for m in self.measures if m.name == name)

    def evaluate(self, coords: np.ndarray) -> dict[str, np.ndarray]:
        """Every measure's quantities at each row (α,) or (α, β) of ``coords``."""
        out: dict[str, np.ndarray] = {}
        for m in self.measures:
            out.update(m.evaluate(coords))
        return out

    def with_recipe(self, recipe: Recipe) -> Workspace:
        """The same model, data and plane for a recipe that differs in grid, loss, compute or
        measures (a zoom, another split or precision): no reloading. The recipes must share
        their :meth:`~lossviz_core.recipe.spec.Recipe.workspace_key`."""
        old = self.recipe
        if recipe.workspace_key() != old.workspace_key():
            changed = [k for k in ("model", "dataset", "directions")
                       if getattr(recipe, k) != getattr(old, k)]
            if changed:
                raise InputError(f"a new {changed[0]} needs a new workspace: call prepare() "
                                 "again")
            if recipe.is_line != old.is_line:
                raise InputError("zooming cannot switch between a surface and a line")
            raise InputError("a new device needs a new job: call prepare() again")
        same = (recipe.loss, recipe.compute, recipe.measures) == (old.loss, old.compute,
                                                                  old.measures)
        ws = dataclasses.replace(self, recipe=recipe)
        if not same:
            ws.loss = resolve_loss(recipe.loss)
            ws.measures = build_measures(ws)
        return ws


    def with_directions(self, recipe: Recipe, pinned: dict | None = None) -> Workspace:
        """The same model and data for a recipe with other directions (another seed, the
        line before alignment): the directions and measures are made anew, around the same
        θ. ``pinned``: how its points must be computed (the first's decisions)."""
        d = make_directions(self.model, recipe.directions, not recipe.is_line, data=self.data,
                            loss=self.loss, device=self.device, splits=recipe.loss.splits)
        ws = dataclasses.replace(self, recipe=recipe, directions=d,
                                 plane=make_plane(self.model, d, self.data, recipe.model.checkpoint),
                                 measures=[])
        ws.loss = resolve_loss(recipe.loss)
        ws.measures = build_measures(ws, pinned)
        return ws


def fitted_to_model(recipe: Recipe) -> Any:
    """The dataset spec with its ``auto`` options that follow the model (a data kind's
    ``model_hints``: the image channels) filled in from what the model takes; the recipe
    keeps ``auto``."""
    spec = recipe.dataset
    kind = data_source(spec.name)
    wanted = [h for h in kind.model_hints if spec.options.get(h, "auto") == "auto"]
    if not wanted:
        return spec
    facts = model_facts(recipe.model)
    known = {h: str(facts[h]) for h in wanted if h in facts}
    return spec.replace(options={**spec.options, **known}) if known else spec


def build_measures(ws: Workspace, pinned: dict | None = None) -> list[Any]:
    """The recipe's measures; those after the loss evaluate as the loss measure decided (a
    resumed file records the loss measure's plan only, and pins them all to it)."""
    out = []
    for name in ws.recipe.measures:
        ctx = MeasureContext(ws.model, ws.plane, ws.data, ws.loss, ws.recipe, ws.device,
                             ws.capabilities, ws.recipe.grid.size, pinned)
        out.append(measure_kind(name).build(ctx))
        if pinned is None and name == "loss":
            pinned = out[-1].decisions
    return out


def materialize(recipe: Recipe, device: torch.device | str | None = None,
                directions: Directions | None = None, pinned: dict | None = None) -> Workspace:
    """The workspace of ``recipe`` on ``device`` (default: the recipe's). ``pinned``: how
    points must be computed (a resumed file's decisions) instead of what a probe picks."""
    return drain(iter_materialize(recipe, device, directions, pinned))


def iter_materialize(
    recipe: Recipe, device: torch.device | str | None = None,
    directions: Directions | None = None, pinned: dict | None = None,
) -> Generator[Step, None, Workspace]:
    """:func:`materialize` as a generator: one :class:`Step` per stage; stop it to cancel."""
    device = pick_device(recipe.compute.device) if device is None else torch.device(device)
    for measure in recipe.measures:
        measure_kind(measure)  # an unknown measure fails before anything loads
    loss = resolve_loss(recipe.loss)
    yield Step(f"loading {recipe.dataset.name}", 0.0)
    data = load_dataset(fitted_to_model(recipe), device)
    if "test" in recipe.loss.splits and data.test is None:
        raise InputError(f"dataset {recipe.dataset.name} has no test split; use --split train")
    _check_labels(recipe, data)
    yield Step(f"building {recipe.model.name}", 0.3)
    # a plane centred on a training run's checkpoint loads that centre itself (PCA)
    centred = direction_method(recipe.directions.method).run_param is not None
    loaded = load_model(recipe.model, data.num_classes, require_weights=not centred)
    model = loaded.model
    check_inputs(recipe, loaded, data)
    model.to(device)
    set_mode(model, False)
    select = lambda out: select_output(out, recipe.model.output)  # noqa: E731
    sample = sample_of(data.train, 2)[0].to(device)
    check_forward(recipe, model, data, sample, select)
    yield Step(f"making {recipe.directions.method} directions", 0.5)
    if directions is None:  # a method that trains (a curve's bend) yields its progress
        directions = yield from iter_directions(
            model, recipe.directions, not recipe.is_line, data=data, loss=loss, device=device,
            splits=recipe.loss.splits)
    if directions.center is not None:
        load_into(model, directions.center, source="the plane's centre")
    plane = make_plane(model, directions, data, recipe.model.checkpoint)
    if plane.stackable:
        capabilities = detect(model, sample, select)
    else:  # seeded directions: one point at a time, so no vmapped trial forward (its memory)
        capabilities = detect(model, None, select)
        capabilities.reasons["functional"] = "seeded directions are evaluated one point at a time"
    ws = Workspace(recipe, device, model, data, directions, plane, loss, capabilities, [],
                   loaded)
    yield Step("probing how to evaluate fastest", 0.7)
    ws.measures = build_measures(ws, pinned)
    for m in ws.measures:
        m.chunk_size  # noqa: B018 - the probe runs here, not in the first chunk
    return ws


MAX_LABEL_CLASSES = 100_000


def _check_labels(recipe: Recipe, data: Dataset) -> None:
    """Refuse labels that would size an absurd output layer (a label of 5,000,000 among ten
    classes), before anything is built: the class count must then be given. Where the recipe,
    the checkpoint or the model itself fixes the count, :func:`_check_forward` refuses labels
    beyond the model's outputs instead."""
    if (recipe.model.num_classes or recipe.model.checkpoint or not data.classes_from_labels
            or not data.num_classes):
        return  # the class count comes from the recipe or the checkpoint, not the labels
    if model_source(recipe.model.name).fixed_classes(recipe.model):
        return  # an archive or pretrained weights: the model's own outputs, checked later
    check_label_classes(recipe.dataset.name, data)


FIX_CLASSES = ("give the class count with --num-classes or a checkpoint, or relabel the "
               "classes 0..K-1")


def check_label_classes(name: str, data: Dataset, fix: str = FIX_CLASSES) -> None:
    """Refuse a class count taken from labels that would make an absurd output layer (also
    before training a model sized by the data); ``fix``: what the user can do about it."""
    n = data.num_classes
    if not data.classes_from_labels or not n:
        return
    distinct = data.distinct_labels()
    if n > MAX_LABEL_CLASSES or (n > 1000 and n > 20 * distinct):
        raise InputError(f"dataset {name} has labels up to {n - 1} but only "
                         f"{distinct} different ones, which would make a {n}-way output "
                         f"layer; {fix}")
