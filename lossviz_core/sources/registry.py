"""The model-source registry: one small module per kind of model name.

A source says which names it builds (``matches``) and builds an ``nn.Module`` for a
:class:`~lossviz_core.recipe.spec.ModelSpec`, given the class count the checkpoint or the
data implies. ``factory`` (for sources whose builder takes ``num_classes``) lets the class
count be read off a checkpoint; ``carries_weights``: the source comes with trained weights
(archives, pretrained, a Python function), so no checkpoint is required; ``fixed_classes``:
the weights fix the output size (archives, pretrained); ``user_code`` names the file whose
code building the model runs, if any.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import ModelSpec


@dataclass(frozen=True)
class ModelSource:
    name: str
    label: str
    matches: Callable[[str], bool]
    build: Callable[[ModelSpec, int | None], nn.Module]
    example: str
    factory: Callable[[ModelSpec], Callable[..., nn.Module]] | None = None
    user_code: Callable[[str], str | None] = lambda name: None
    carries_weights: Callable[[ModelSpec], bool] = lambda spec: False
    fixed_classes: Callable[[ModelSpec], bool] = lambda spec: False  # ignores num_classes
    input_shape: Callable[[str], tuple[int, ...] | None] = lambda name: None


_SOURCES: list[ModelSource] = []


def register_source(source: ModelSource) -> ModelSource:
    """Add a model source; later registrations are tried first."""
    _SOURCES.insert(0, source)
    return source


def model_source(name: str) -> ModelSource:
    for s in _SOURCES:
        if s.matches(name):
            return s
    examples = ", ".join(s.example for s in reversed(_SOURCES))
    raise InputError(f"unknown model {name!r}; use one of {examples} (zoo: `lossviz models`)")


def model_sources() -> list[ModelSource]:
    return list(reversed(_SOURCES))
