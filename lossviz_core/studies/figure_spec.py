"""A study's figures: which results, in which rows and columns, drawn how.

``results`` is a list of result names or a template; ``rows`` and ``cols`` are counts, or
the name of a swept variable of the figure, whose values then make the rows (columns)::

    [figures.depth]
    sweep = ["shortcut", "depth"]
    rows = "shortcut"                 # one row per value: with skips, without
    cols = "depth"                    # one column per depth
    results = "plane-resnet{depth}{shortcut?:-noskip}"

Swept variables that are neither ``rows`` nor ``cols`` make one figure each (their
placeholders must then be in the figure's name). Panels go row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lossviz_core.studies import fields as f
from lossviz_core.studies.sweep import combinations, substitute, sweep_values
from lossviz_core.studies.toml_text import KeyPath, Source

LAYOUT = ("results", "rows", "cols", "mode", "titles", "formats")


@dataclass(frozen=True)
class FigureEntry:
    """A figure: ``panels`` (result names, row by row) in ``rows`` × ``cols`` on one colour
    scale, drawn with ``options`` (FigureOptions' fields) into each of ``formats``."""

    name: str
    panels: tuple[str, ...]
    rows: int
    cols: int
    mode: str = "2d"
    options: dict[str, Any] = field(default_factory=dict)
    titles: tuple[str, ...] | None = None
    formats: tuple[str, ...] = ("png",)
    values: dict[str, Any] = field(default_factory=dict)


def parse_figures(src: Source, entries: list[tuple[KeyPath, dict]], named: dict,
                  results: dict) -> dict[str, FigureEntry]:
    """Every figure of the study, its sweeps expanded, checked against ``results``."""
    out: dict[str, FigureEntry] = {}
    for path, entry in entries:
        entry = dict(entry)
        variables = sweep_values(src, path + ("sweep",), entry.pop("sweep"), named) \
            if "sweep" in entry else {}
        f.check_keys(src, path, entry, f.FIGURE_KEYS)
        axes = [entry.get(k) for k in ("rows", "cols")]
        for key, var in zip(("rows", "cols"), axes, strict=True):
            if isinstance(var, str) and var not in variables:
                raise src.error(path + (key,), f"{key} names a swept variable of this figure; "
                                f"{var!r} is not one (sweep: {', '.join(variables) or 'none'})")
        panel_vars = [v for v in axes if isinstance(v, str)]
        outer = {k: v for k, v in variables.items() if k not in panel_vars}
        inner = {k: variables[k] for k in panel_vars}
        for env in combinations(outer) if outer else [{}]:
            fig = _figure(src, path, entry, env, inner, results)
            if fig.name in out:
                raise src.error(path, f"two figures are named {fig.name!r}: put the swept "
                                "variables that are not rows or cols in the name")
            out[fig.name] = fig
    return out


def _figure(src: Source, path: KeyPath, entry: dict, env: dict, inner: dict,
            results: dict) -> FigureEntry:
    name = str(substitute(src, path, path[-1], env))
    where = ("figures", name)
    f.check_name(src, where, name, "a figure")
    rest = {k: v for k, v in entry.items() if k != "results"}
    rest = substitute(src, where, rest, env)
    for key, value in rest.items():
        check = f.figure_check(key, value)
        if check is not None:
            f.check_value(src, where + (key,), check)
    if "results" not in entry:
        raise src.error(where, "a figure needs `results`: result names, or a template")
    templates = entry["results"] if isinstance(entry["results"], list) else [entry["results"]]
    panels = [str(substitute(src, where + ("results",), t, {**env, **e}))
              for e in (combinations(inner) if inner else [{}]) for t in templates]
    for p in panels:
        if p not in results:
            have = ", ".join(list(results)[:6]) or "none"
            raise src.error(where + ("results",), f"no result named {p!r} (results: {have}"
                            f"{', ...' if len(results) > 6 else ''})")
    rows, cols = _shape(src, where, rest, inner, len(panels))
    lines = {results[p].line for p in panels}
    mode = rest.get("mode") or ("lines" if lines == {True} else "2d")
    if len(lines) > 1:
        raise src.error(where + ("results",), "a figure shows 1-D lines or 2-D planes, not both")
    if (mode == "lines") != (lines == {True}):
        need = "1-D results (lines)" if mode == "lines" else "2-D results (planes)"
        raise src.error(where + ("mode",), f"mode {mode!r} draws {need}")
    if mode == "difference" and len(panels) != 2:
        raise src.error(where + ("results",), f"a difference map needs exactly two results, "
                        f"got {len(panels)}")
    if mode in ("lines", "difference"):
        rows = cols = 1  # one axes: the lines overlaid, or a − b
    titles = rest.get("titles")
    if titles is not None and len(titles) != len(panels):
        raise src.error(where + ("titles",), f"{len(panels)} panels need {len(panels)} "
                        f"titles, got {len(titles)}")
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in rest.items()
               if k not in LAYOUT}
    formats = tuple(dict.fromkeys(rest.get("formats") or ["png"]))
    return FigureEntry(name, tuple(panels), rows, cols, mode, options,
                       tuple(titles) if titles else None, formats, dict(env))


def _shape(src: Source, where: KeyPath, rest: dict, inner: dict, n: int) -> tuple[int, int]:
    from lossviz_core.errors import InputError
    from lossviz_core.export.grid import grid_shape

    def count(key: str) -> int | None:
        v = rest.get(key)
        return len(inner[v]) if isinstance(v, str) else v

    rows, cols = count("rows"), count("cols")
    if isinstance(rest.get("rows"), str) and isinstance(rest.get("cols"), str):
        if n > rows * cols:
            raise src.error(where + ("results",), f"{n} panels do not fit in {rows} x {cols}")
        return rows, cols
    try:
        return grid_shape(n, rows, cols)
    except InputError as exc:
        raise src.error(where + ("rows" if rows else "cols",), str(exc)) from None
