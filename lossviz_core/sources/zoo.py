"""The zoo (``resnet56``, ``vgg9``, ``digits_cnn``, ...; ``zoo:NAME`` too): see ``lossviz models``."""

from __future__ import annotations

from functools import partial

from lossviz_core.models import _REGISTRY, build_model, list_models, model_info
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import ModelSpec
from lossviz_core.sources.registry import ModelSource

PREFIX = "zoo:"


def zoo_name(name: str) -> str:
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def _matches(name: str) -> bool:
    return name.startswith(PREFIX) or name in _REGISTRY


def build(spec: ModelSpec, num_classes: int | None):
    return build_model(zoo_name(spec.name), num_classes)


def factory(spec: ModelSpec):
    return partial(build_model, zoo_name(spec.name))


def _dataset(name: str) -> str | None:
    entry = _REGISTRY.get(zoo_name(name))
    return entry[0].dataset if entry else None


SOURCE = ModelSource(
    name="zoo", label="Zoo model + checkpoint", matches=_matches, build=build,
    example="a zoo name (resnet56, digits_cnn, ...)",
    name_parts=NameParts((Param("model", default="digits_cnn", label="Model",
                                choices=lambda: [m.name for m in list_models()],
                                help="an architecture of LossViz's zoo (lossviz models)"),)),
    factory=factory, input_shape=lambda name: model_info(zoo_name(name)).input_shape,
    dataset_of=_dataset,
)
