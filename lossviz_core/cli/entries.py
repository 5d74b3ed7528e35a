"""The command line's view of the registries: flags, help and ``lossviz info``, generated.

Every registered entry (model source, data kind, loss, direction method, measure) describes
itself; this module turns those descriptions into ``argparse`` flags (one per parameter,
grouped by entry), the ``--model`` / ``--dataset`` / ``--loss`` / ``--method`` /
``--measure`` help, and the lines ``lossviz info`` prints. Nothing here names an entry.
"""

from __future__ import annotations

import argparse
from typing import Any

from lossviz_core.params import Param
from lossviz_core.recipe.spec import Recipe
from lossviz_core.registry import (
    DATA_SOURCES,
    DIRECTION_METHODS,
    LOSSES,
    MEASURES,
    MODEL_SOURCES,
    plugin_errors,
)
from lossviz_core.resolve import choice_key


def model_help() -> str:
    return "zoo name (`lossviz models`), " + ", ".join(
        s.example for s in MODEL_SOURCES.all() if s.name != "zoo")


def dataset_help() -> str:
    return " | ".join(s.example for s in DATA_SOURCES.all())


def loss_help() -> str:
    return " | ".join(e.example or e.name for e in LOSSES.all())


def method_help(two_d: bool) -> str:
    methods = [m for m in DIRECTION_METHODS.all() if (m.planes if two_d else m.lines)]
    return "a direction method: " + ", ".join(m.name for m in methods)


def measure_help() -> str:
    return ("what to compute per point besides the loss; repeatable: "
            + ", ".join(f"{m.name} ({m.label})" for m in MEASURES.all() if m.name != "loss"))


def add_entry_arguments(p: argparse.ArgumentParser, two_d: bool) -> None:
    """One flag per parameter the registered entries declare, grouped by entry (a parameter
    several entries share is one flag; one the command has already, such as --download, is
    that flag)."""
    seen = {a.dest for a in p._actions}
    methods = [m for m in DIRECTION_METHODS.all() if (m.planes if two_d else m.lines)]
    groups: list[tuple[str, Any, tuple[Param, ...]]] = [
        *((f"directions: {m.label}", m, m.params) for m in methods),
        *((f"model: {s.label}", s, s.options) for s in MODEL_SOURCES.all()),
        *((f"data: {s.label}", s, s.options) for s in DATA_SOURCES.all()),
        *((f"loss: {e.label}", e, e.params) for e in LOSSES.all()),
        *((f"measure: {m.label}", m, m.params) for m in MEASURES.all()),
    ]
    for title, _entry, params in groups:
        fresh = [q for q in params if choice_key(q) not in seen]
        if not fresh:
            continue
        g = p.add_argument_group(title)
        for q in fresh:
            seen.add(choice_key(q))
            _add_param(g, q)


def _add_param(g: Any, q: Param) -> None:
    kw: dict[str, Any] = {"dest": choice_key(q), "default": None,
                          "help": (q.help or q.label) + _default_text(q)}
    if q.kind == "bool":
        g.add_argument(q.cli_flag, action="store_true", **kw)
        return
    if q.kind == "int":
        kw["type"] = int
    elif q.kind == "float":
        kw["type"] = float
    if q.choices and not callable(q.choices):
        kw["choices"] = tuple(q.choices)
    kw["metavar"] = q.metavar or ("FILE" if q.kind in ("file", "code") else
                                  "DIR" if q.kind == "folder" else None)
    if kw["metavar"] is None:
        del kw["metavar"]
    g.add_argument(q.cli_flag, **kw)


def _default_text(q: Param) -> str:
    return f" (default {q.default})" if q.default not in (None, "", False) else ""


# --- lossviz info ------------------------------------------------------------------------

def registry_lines() -> list[str]:
    """What this installation offers, one line per entry (``lossviz info`` without a file)."""
    out = []
    for title, entries, show in (
        ("models (--model)", MODEL_SOURCES.all(), lambda e: e.example),
        ("data (--dataset)", DATA_SOURCES.all(), lambda e: e.example),
        ("losses (--loss)", LOSSES.all(), lambda e: e.example or e.name),
        ("direction methods (--method)", DIRECTION_METHODS.all(), lambda e: e.name),
        ("measures (--measure)", MEASURES.all(), lambda e: e.name),
    ):
        out.append(f"{title}:")
        for e in entries:
            params = _param_flags(e)
            out.append(f"  {show(e):36s} {e.label}" + (f"  [{params}]" if params else ""))
    errors = plugin_errors()
    if errors:
        out.append("plugins that failed to load:")
        out.extend(f"  {line}" for line in errors)
    return out


def _param_flags(entry: Any) -> str:
    params = (*getattr(entry, "params", ()), *getattr(entry, "options", ()))
    return " ".join(q.cli_flag for q in params)


def recipe_lines(recipe: Recipe) -> list[str]:
    """What made a result, in the entries' own words (``lossviz info FILE``)."""
    m, d, dirs = recipe.model, recipe.dataset, recipe.directions
    src, data = MODEL_SOURCES.find(m.name), DATA_SOURCES.find(d.name)
    method, loss = DIRECTION_METHODS.find(dirs.method), LOSSES.find(recipe.loss.name)
    lines = [
        f"  model: {m.name}" + (f" ({src.label})" if src else " (no such source here)")
        + (f", checkpoint {m.checkpoint}" if m.checkpoint else "") + _values(m.options),
        f"  dataset: {d.name}" + (f" ({data.label})" if data else " (no such data kind here)")
        + f", split {recipe.loss.split}, loss {recipe.loss.name}"
        + (f" ({loss.label})" if loss else "")
        + (f", subsample {d.subsample}" if d.subsample else "") + _values(d.options),
    ]
    label = method.label if method else f"{dirs.method} (no such method here)"
    shared = method.uses if method else ()
    lines.append(
        f"  directions: {dirs.method}: {label}, {dirs.dir_type}"
        + (f", {dirs.xnorm}/{dirs.ynorm} normalized" if "norm" in shared else "")
        + (f", seed {dirs.seed}" if "seed" in shared else "")
        + _values(dirs.params, method.params if method else ()))
    names = [f"{n} ({MEASURES.find(n).label})" if MEASURES.find(n) else n
             for n in recipe.measures]
    lines.append(f"  measures: {', '.join(names)}; compute: {recipe.compute.device}, "
                 f"{recipe.compute.precision}")
    return lines


def _values(values: dict[str, Any], params: tuple[Param, ...] = ()) -> str:
    labels = {q.name: (q.label or q.name) for q in params}
    return "".join(f", {labels.get(k, k)} {v}" for k, v in values.items())
