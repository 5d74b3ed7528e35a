"""``timm:NAME``: a model of the timm library (an optional extra: ``pip install 'lossviz[timm]'``)."""

from __future__ import annotations

from lossviz_core.errors import CheckpointError, InputError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import ModelSpec
from lossviz_core.sources.downloads import DownloadRefused, no_download, refused_message
from lossviz_core.sources.registry import ModelSource

PREFIX = "timm:"


def _timm():
    try:
        import timm
    except ImportError:
        raise InputError("timm models need the timm package: pip install 'lossviz[timm]'") from None
    return timm


def _name(spec: ModelSpec) -> str:
    timm = _timm()
    name = spec.name[len(PREFIX):]
    if not timm.is_model(name):
        raise InputError(f"timm has no model {name!r}; see timm.list_models()")
    return name


def factory(spec: ModelSpec):
    timm, name = _timm(), _name(spec)
    return lambda num_classes: timm.create_model(name, pretrained=False, num_classes=num_classes)


def build(spec: ModelSpec, num_classes: int | None):
    timm, name = _timm(), _name(spec)
    kwargs = {} if num_classes is None or spec.pretrained else {"num_classes": int(num_classes)}
    if spec.pretrained and spec.pretrained != "DEFAULT":
        name = f"{name.split('.')[0]}.{spec.pretrained}"  # timm names weights as model.tag
    try:
        with no_download(spec.download or not spec.pretrained):
            return timm.create_model(name, pretrained=bool(spec.pretrained), **kwargs)
    except Exception as exc:  # noqa: BLE001 - download failures of every kind
        if not spec.pretrained:
            raise
        if not spec.download and (isinstance(exc, DownloadRefused) or "offline" in str(exc).lower()
                                  or "cache" in str(exc).lower()):
            raise CheckpointError(refused_message(f"timm:{name}", spec.pretrained)) from None
        raise CheckpointError(f"could not get the pretrained weights of timm:{name} "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") from None


SOURCE = ModelSource(
    name="timm", label="timm model", matches=lambda n: n.startswith(PREFIX), build=build,
    example="timm:NAME",
    name_parts=NameParts((Param("timm_model", default="", label="Model",
                                help="a model name of timm.list_models()"),), prefix=PREFIX),
    factory=factory, carries_weights=lambda spec: bool(spec.pretrained),
    fixed_classes=lambda spec: bool(spec.pretrained), pretrained=True,
)
