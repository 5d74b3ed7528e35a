"""``FILE.py:FUNCTION``: ``FUNCTION()`` or ``FUNCTION(num_classes=N)`` returns an ``nn.Module``.

The file's code runs only because the user named it. ``num_classes`` is passed when the
function takes it (from the checkpoint, the recipe or the data).
"""

from __future__ import annotations

import inspect

from torch import nn

from lossviz_core.errors import InputError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import ModelSpec
from lossviz_core.sources.registry import ModelSource
from lossviz_core.usercode import call_user, is_function_ref, load_function, user_file


def _takes_num_classes(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "num_classes" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def build(spec: ModelSpec, num_classes: int | None) -> nn.Module:
    fn = load_function(spec.name, "model")
    kwargs = {"num_classes": int(num_classes)} if num_classes and _takes_num_classes(fn) else {}
    model = call_user(fn, spec.name, **kwargs)
    if not isinstance(model, nn.Module):
        raise InputError(f"{spec.name} returned {type(model).__name__}, not a torch nn.Module")
    return model


def factory(spec: ModelSpec):
    fn = load_function(spec.name, "model")
    if not _takes_num_classes(fn):
        return None
    return lambda num_classes: fn(num_classes=num_classes)


SOURCE = ModelSource(
    name="pyfile", label="Python file (model function)", matches=is_function_ref, build=build,
    example="FILE.py:FUNCTION",
    name_parts=NameParts((Param("model_file", "code", label="File",
                                help="a Python file defining the model function"),
                          Param("model_function", label="Function",
                                help="FUNCTION() or FUNCTION(num_classes=N) returns the "
                                "nn.Module")), function=True),
    factory=factory, user_code=user_file, carries_weights=lambda spec: True,
)
