"""Where a model comes from: the zoo, torchvision, timm, a Python file, or an archive.

:func:`load_model` is the one way to get a model for a recipe: it finds the source for
the spec's name (:mod:`.registry`), works out the class count (the recipe, else the
checkpoint's output layer, else the data), builds the model and loads the checkpoint into
it (``weights_only``; ``module.`` / ``_orig_mod.`` prefixes and nested dicts understood).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import ModelSpec
from lossviz_core.sources.checkpoints import load_into, load_state_dict
from lossviz_core.sources.registry import ModelSource, model_source, model_sources, register_source

__all__ = ["LoadedModel", "ModelSource", "infer_num_classes", "load_model", "model_source",
           "model_sources", "register_source", "user_code_of"]


@dataclass
class LoadedModel:
    model: nn.Module
    source: ModelSource
    num_classes: int | None
    class_count_from: str  # "recipe", "checkpoint", "data" or "source"


def user_code_of(spec: ModelSpec) -> str | None:
    """The file whose code building this model runs, or None."""
    return model_source(spec.name).user_code(spec.name)


def infer_num_classes(factory, state: dict[str, torch.Tensor]) -> int | None:
    """The class count a checkpoint was trained with, read off the output layer.

    Builds the architecture twice on the meta device (no memory, no initialization cost)
    with 3 and 5 classes; the one tensor whose shape follows the count is the output layer.
    """
    try:
        with torch.device("meta"):
            a, b = factory(num_classes=3).state_dict(), factory(num_classes=5).state_dict()
    except Exception:  # noqa: BLE001 - a factory that cannot build on meta: no inference
        return None
    for key, ta in a.items():
        tb = b.get(key)
        if tb is None or ta.shape == tb.shape or key not in state:
            continue
        for dim, (m, n) in enumerate(zip(ta.shape, tb.shape, strict=False)):
            if (m, n) == (3, 5) and state[key].dim() == ta.dim():
                return int(state[key].shape[dim])
    return None


def load_model(spec: ModelSpec, data_classes: int | None = None,
               require_weights: bool = True) -> LoadedModel:
    """Build ``spec``'s model and load its checkpoint.

    ``data_classes``: the class count the data declares (used when neither the recipe nor
    the checkpoint says). ``require_weights``: refuse an untrained zoo/torchvision model
    (no landscape worth plotting) unless the source carries weights.
    """
    source = model_source(spec.name)
    if require_weights and not spec.checkpoint and not source.carries_weights(spec):
        raise InputError("choose a checkpoint to look at (an untrained model has no landscape "
                         "worth plotting), or use --demo")
    state = load_state_dict(spec.checkpoint) if spec.checkpoint else None
    n, origin = spec.num_classes, "recipe"
    if n is None and state is not None and source.factory is not None:
        factory = source.factory(spec)
        n, origin = (infer_num_classes(factory, state) if factory else None), "checkpoint"
    if source.fixed_classes(spec):
        n, origin = None, "source"
    elif n is None:
        n, origin = data_classes, "data"
    model = source.build(spec, n)
    if state is not None:
        load_into(model, state, source=spec.checkpoint)
    return LoadedModel(model, source, n, origin)

