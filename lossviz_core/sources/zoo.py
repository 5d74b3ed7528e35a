"""The zoo (``resnet56``, ``vgg9``, ``digits_cnn``, ...; ``zoo:NAME`` too): see ``lossviz models``."""

from __future__ import annotations

from functools import partial

from lossviz_core.models import _REGISTRY, build_model, model_info
from lossviz_core.recipe.spec import ModelSpec
from lossviz_core.sources.registry import ModelSource, register_source

PREFIX = "zoo:"


def zoo_name(name: str) -> str:
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def _matches(name: str) -> bool:
    return name.startswith(PREFIX) or name in _REGISTRY


def build(spec: ModelSpec, num_classes: int | None):
    return build_model(zoo_name(spec.name), num_classes)


def factory(spec: ModelSpec):
    return partial(build_model, zoo_name(spec.name))


register_source(ModelSource(
    "zoo", "Zoo model", _matches, build, "a zoo name (resnet56, digits_cnn, ...)",
    factory=factory, input_shape=lambda name: model_info(zoo_name(name)).input_shape,
))
