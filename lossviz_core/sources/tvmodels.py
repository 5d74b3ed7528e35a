"""``torchvision:NAME``: any classification model of ``torchvision.models.list_models()``.

Random weights by default (a ``--checkpoint`` loads into them); ``pretrained`` (``DEFAULT``
or a weights name such as ``IMAGENET1K_V1``) loads torchvision's weights, downloading them
into torch's cache only because the user asked for them.
"""

from __future__ import annotations

from lossviz_core.errors import CheckpointError, InputError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import ModelSpec
from lossviz_core.sources.downloads import DownloadRefused, no_download, refused_message
from lossviz_core.sources.registry import ModelSource

PREFIX = "torchvision:"


def classification_models() -> list[str]:
    import torchvision

    return torchvision.models.list_models(module=torchvision.models)


def _name(spec: ModelSpec) -> str:
    name = spec.name[len(PREFIX):]
    if name not in classification_models():
        raise InputError(f"torchvision has no classification model {name!r}; see "
                         "torchvision.models.list_models(), e.g. torchvision:resnet18")
    return name


def factory(spec: ModelSpec):
    import torchvision

    name = _name(spec)
    return lambda num_classes: torchvision.models.get_model(name, weights=None,
                                                            num_classes=num_classes)


def build(spec: ModelSpec, num_classes: int | None):
    import torchvision

    name = _name(spec)
    if spec.pretrained:
        try:
            with no_download(spec.download):
                model = torchvision.models.get_model(name, weights=spec.pretrained)
        except DownloadRefused:
            raise CheckpointError(refused_message(f"torchvision:{name}", spec.pretrained)) from None
        except (ValueError, KeyError) as exc:
            raise InputError(f"torchvision:{name} has no weights {spec.pretrained!r}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - download failures of every kind
            raise CheckpointError(f"could not get the pretrained weights of torchvision:{name} "
                                  f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
                                  ) from None
        return model
    kwargs = {} if num_classes is None else {"num_classes": int(num_classes)}
    return torchvision.models.get_model(name, weights=None, **kwargs)


SOURCE = ModelSource(
    name="torchvision", label="torchvision model", matches=lambda n: n.startswith(PREFIX),
    build=build, example="torchvision:NAME",
    name_parts=NameParts((Param("tv_model", default="resnet18", label="Model",
                                suggestions=classification_models,
                                help="a classification model of torchvision.models"),),
                         prefix=PREFIX),
    factory=factory, carries_weights=lambda spec: bool(spec.pretrained),
    fixed_classes=lambda spec: bool(spec.pretrained), pretrained=True,
)
