"""*New study from these results*: a study file written from recipes or result files.

Each result becomes a ``[results.NAME]`` entry holding its recipe as the resolver's
choices (:func:`lossviz_core.resolve.choices_of`, the defaults left out), so the
study recomputes exactly those results; a figure lays the 2-D results out on one colour
scale and another overlays the lines. The file is read back before it is returned, so
what is written always parses. Edit it to add sweeps, models to train, more figures.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lossviz_core.atomic import atomic_path
from lossviz_core.errors import InputError
from lossviz_core.studies.toml_text import dotted

# choices a study's result never needs written: how it is computed here, or implied
_SKIP = ("device", "data_cache", "workers", "download", "demo")


def write_study(path: str | os.PathLike, results: Sequence[Any], name: str | None = None,
                description: str = "", names: Sequence[str] | None = None) -> Path:
    """Write a study of ``results`` (recipes, SurfaceResults or result file paths) to
    ``path`` (an existing file is replaced); returns the path."""
    from lossviz_core.studies.spec import parse_study

    path = Path(path)
    recipes = [_recipe(r) for r in results]
    if not recipes:
        raise InputError("a new study needs at least one result")
    labels = _names(results, recipes, names)
    text = study_text(recipes, labels, name or path.stem, description)
    parse_study(text, path)  # never write a study that does not read back
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, "study file") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def study_text(recipes: Sequence[Any], names: Sequence[str], name: str,
               description: str = "") -> str:
    """The TOML text of a study of ``recipes`` named ``names``."""
    from lossviz_core.resolve import all_choices, choices_of

    table = all_choices()
    lines = ["# Written by LossViz from results (docs/studies.md). Edit freely.", "",
             "[study]", f"name = {_value(name)}"]
    if description:
        lines.append(f"description = {_value(description)}")
    planes, curves = [], []
    for recipe, label in zip(recipes, names, strict=True):
        (curves if recipe.is_line else planes).append(label)
        lines += ["", f"[{dotted(('results', label))}]"]
        for key, value in choices_of(recipe).items():
            value = _plain(value)
            if key in _SKIP or value is None or value == _plain(table.get(key)):
                continue
            if key == "line" and not value and not recipe.is_line:
                continue
            lines.append(f"{key} = {_value(value)}")
    for fig, members in (("planes", planes), ("lines", curves)):
        if members:
            lines += ["", f"[figures.{fig}]", f"results = {_value(members)}"]
    return "\n".join(lines) + "\n"


def _recipe(item: Any) -> Any:
    from lossviz_core.recipe.spec import Recipe

    if isinstance(item, Recipe):
        return item
    if isinstance(item, (str, os.PathLike)):
        from lossviz_core.results.store import read_result

        item = read_result(item)
    recipe = getattr(item, "recipe", None)
    if recipe is None:
        raise InputError(f"{getattr(item, 'path', item)} holds no recipe to rebuild it from")
    return recipe


def _names(results: Sequence[Any], recipes: Sequence[Any],
           names: Sequence[str] | None) -> list[str]:
    if names is not None:
        if len(names) != len(recipes):
            raise InputError(f"{len(recipes)} results need {len(recipes)} names")
        return [str(n) for n in names]
    out: list[str] = []
    for item, recipe in zip(results, recipes, strict=True):
        p = getattr(item, "path", None) or (item if isinstance(item, (str, os.PathLike))
                                            else None)
        base = Path(p).stem if p else f"{recipe.model.name}-{recipe.directions.method}"
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", str(base)).strip("-") or "result"
        label, n = base, 2
        while label in out:
            label, n = f"{base}-{n}", n + 1
        out.append(label)
    return out


def _plain(v: Any) -> Any:
    """A choice as a TOML value: ranges as ``min:max:num`` text, tuples as lists."""
    from lossviz_core.recipe.spec import Range

    if isinstance(v, Range):
        return str(v)
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def _value(v: Any) -> str:
    """``v`` written as TOML (strings, numbers, booleans, lists of them)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise InputError(f"cannot write {type(v).__name__} {v!r} into a study file")
