"""The model-source entry: one small module per kind of model name.

A source says which names it builds (``matches``; its ``name_parts`` say how the window's
rows compose such a name) and builds an ``nn.Module`` for a
:class:`~lossviz_core.recipe.spec.ModelSpec`, given the class count the checkpoint or the
data implies. ``factory`` (for sources whose builder takes ``num_classes``) lets the class
count be read off a checkpoint; ``carries_weights``: the source comes with trained weights
(archives, pretrained, a Python function), so no checkpoint is required; ``fixed_classes``:
the weights fix the output size (archives, pretrained); ``user_code`` names the file whose
code building the model runs, if any; ``dataset_of``: the dataset a name was made for (the
zoo's); ``options``: parameters of its own, stored in ``ModelSpec.options``; ``facts``: what
a data kind's ``auto`` options may follow (``tokenizer``: the folder holding the model's
tokenizer; ``channels``), read off the model's files without building it.
Sources are registered in :data:`lossviz_core.registry.MODEL_SOURCES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from lossviz_core.errors import InputError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import ModelSpec
from lossviz_core.registry import MODEL_SOURCES


@dataclass(frozen=True, kw_only=True)
class ModelSource:
    name: str
    label: str
    matches: Callable[[str], bool]
    build: Callable[[ModelSpec, int | None], nn.Module]
    example: str
    name_parts: NameParts = NameParts()
    options: tuple[Param, ...] = ()
    factory: Callable[[ModelSpec], Callable[..., nn.Module]] | None = None
    user_code: Callable[[str], str | None] = lambda name: None
    carries_weights: Callable[[ModelSpec], bool] = lambda spec: False
    fixed_classes: Callable[[ModelSpec], bool] = lambda spec: False  # ignores num_classes
    input_shape: Callable[[str], tuple[int, ...] | None] = lambda name: None
    dataset_of: Callable[[str], str | None] = lambda name: None
    facts: Callable[[ModelSpec], dict[str, Any]] | None = None
    pretrained: bool = False  # offers published weights (--pretrained)
    help: str = ""


def register_source(source: ModelSource) -> ModelSource:
    """Add a model source; later registrations are tried first."""
    return MODEL_SOURCES.register(source)


def model_source(name: str) -> ModelSource:
    """The source that builds model ``name``; a one-line error listing the choices."""
    found = MODEL_SOURCES.find(name)
    if found is None:
        raise InputError(f"unknown model {name!r}; use one of {MODEL_SOURCES.listing()} "
                         "(zoo: `lossviz models`)")
    return found


def model_sources() -> list[ModelSource]:
    return MODEL_SOURCES.all()
