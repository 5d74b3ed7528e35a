"""Sweeps: one study entry written once, expanded into the product of its swept values.

An entry (a model, a result, a figure) may carry ``sweep``: either a table of value lists
(``sweep = { depth = [20, 56, 110], shortcut = [true, false] }``) or a list naming lists of
the study's ``[sweeps]`` table (``sweep = ["depth", "shortcut"]``, so several entries share
one list and editing it edits them all). The entry then stands for every combination, in
the order the variables are listed (the last varies fastest), and its name and string
values say which by placeholders:

- ``{depth}``: the value (``true``/``false`` for booleans, ``0.1`` for floats);
- ``{shortcut?:_noshort}``: the text before ``:`` when the value is true, after it when
  false (``digits_resnet{depth}{shortcut?:_noshort}`` → ``digits_resnet14_noshort``);
- a string that is one placeholder only (``batch_size = "{batch}"``) takes the value with
  its type, so numbers and booleans can be swept too; ``{{`` and ``}}`` are literal braces.

Every expanded name must differ (put each swept variable in the name).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

from lossviz_core.limits import MAX_STUDY_UNITS
from lossviz_core.studies.toml_text import KeyPath, Source

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?:\?([^:{}]*):([^{}]*))?\}")
SCALARS = (str, int, float, bool)


def sweep_values(src: Source, path: KeyPath, value: Any, named: dict[str, list]) -> dict[str, list]:
    """The variables of an entry's ``sweep`` (at key ``path``) and their values, checked."""
    if isinstance(value, list):
        out = {}
        for i, name in enumerate(value):
            if not isinstance(name, str):
                raise src.error(path, f"a sweep list names lists of [sweeps]; item {i + 1} is "
                                f"{_kind(name)} (or write sweep = {{ var = [values] }})")
            if name not in named:
                have = ", ".join(named) or "none"
                raise src.error(path, f"unknown sweep {name!r}; [sweeps] has {have}")
            out[name] = named[name]
        return out
    if not isinstance(value, dict):
        raise src.error(path, "a sweep is a table of value lists (sweep = { depth = [20, 56] }) "
                        f"or a list of [sweeps] names, got {_kind(value)}")
    out = {}
    for var, values in value.items():
        if isinstance(values, str) and values in named:  # { d = "depth" }: a shared list
            values = named[values]
        out[var] = check_list(src, path + (var,), values)
    return out


def check_list(src: Source, path: KeyPath, values: Any) -> list:
    """``values`` as a sweep's list: non-empty, plain values of one type, no repeats."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", path[-1]):
        raise src.error(path, "a swept variable's name is letters, digits and _, "
                        "starting with a letter")
    if not isinstance(values, list):
        raise src.error(path, f"a sweep is a list of values, e.g. [20, 56, 110]; got "
                        f"{_kind(values)} {values!r}")
    if not values:
        raise src.error(path, "a sweep needs at least one value")
    for v in values:
        if not isinstance(v, SCALARS):
            raise src.error(path, f"a sweep's values are plain values (numbers, strings, "
                            f"true/false), not {_kind(v)}")
    kinds = {_family(v) for v in values}
    if len(kinds) > 1:
        raise src.error(path, "a sweep's values must be of one type, got "
                        + " and ".join(sorted(kinds)))
    seen = set()
    for v in values:
        if (type(v), v) in seen:
            raise src.error(path, f"a sweep repeats the value {v!r}")
        seen.add((type(v), v))
    return list(values)


def combinations(variables: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of the variables' values, the last varying fastest."""
    names = list(variables)
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(variables[n] for n in names))]


def substitute(src: Source, path: KeyPath, value: Any, env: dict[str, Any]) -> Any:
    """``value`` with its placeholders filled from ``env`` (lists and tables too)."""
    if isinstance(value, dict):
        return {k: substitute(src, path + (k,), v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(src, path, v, env) for v in value]
    if not isinstance(value, str) or "{" not in value and "}" not in value:
        return value
    whole = PLACEHOLDER.fullmatch(value)
    if whole and whole.group(1) and whole.group(2) is None:
        return _lookup(src, path, whole.group(1), env)  # the typed value itself

    def fill(m: re.Match) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        v = _lookup(src, path, m.group(1), env)
        if m.group(2) is not None:
            return m.group(2) if v else m.group(3)
        return text_of(v)

    out = PLACEHOLDER.sub(fill, value)
    stray = re.search(r"[{}]", PLACEHOLDER.sub("", value))
    if stray:
        raise src.error(path, f"unbalanced brace in {value!r} "
                        "(write {{ or }} for a literal one)")
    return out


def placeholders(value: Any) -> set[str]:
    """The variable names a value's strings refer to."""
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    if isinstance(value, str):
        return {m.group(1) for m in PLACEHOLDER.finditer(value) if m.group(1)}
    return set()


def expand(src: Source, path: KeyPath, fields: dict[str, Any],
           variables: dict[str, list]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The entry at ``path`` (``(section, name)``) as ``(name, fields, values)`` per
    combination; its name must tell every combination apart."""
    name = path[-1]
    count = 1
    for values in variables.values():
        count *= len(values)
    if count > MAX_STUDY_UNITS:  # counted before a single entry is made
        sizes = " x ".join(str(len(v)) for v in variables.values())
        raise src.error(path + ("sweep",), f"the sweep makes {sizes} = {count} entries; a "
                        f"study may hold at most {MAX_STUDY_UNITS}")
    out = []
    for env in combinations(variables) if variables else [{}]:
        expanded = str(substitute(src, path, name, env))
        if expanded != name:  # an error in an expanded entry is shown where it is written
            src.origin.setdefault(path[:-1] + (expanded,), path)
        out.append((expanded, substitute(src, path, fields, env), env))
    seen: set[str] = set()
    dup = next((n for n, _, _ in out if n in seen or seen.add(n)), None)
    if dup is not None:
        unused = [v for v in variables if v not in placeholders(name)]
        hint = f": put {{{unused[0]}}} in the name" if unused else ""
        raise src.error(path, f"the sweep gives two entries named {dup!r}{hint}")
    return out


def text_of(value: Any) -> str:
    """A swept value as it reads in a name: ``true``, ``14``, ``0.1``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def _lookup(src: Source, path: KeyPath, var: str, env: dict[str, Any]) -> Any:
    if var not in env:
        have = ", ".join(env) or "none (this entry has no sweep)"
        raise src.error(path, f"unknown placeholder {{{var}}}; swept variables: {have}")
    return env[var]


def _family(v: Any) -> str:
    if isinstance(v, bool):
        return "booleans"
    if isinstance(v, (int, float)):
        return "numbers"
    return "strings"


def _kind(v: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(v), type(v).__name__)


def ordered(variables: dict[str, list], first: Sequence[str]) -> dict[str, list]:
    """``variables`` with the names in ``first`` moved to the front, in that order."""
    return {**{n: variables[n] for n in first if n in variables},
            **{n: v for n, v in variables.items() if n not in first}}
