"""Titles built from recipes: what a result is, and what tells results apart.

A figure of one landscape says what it shows (model, data, directions, seed,
normalization, ranges). A compare grid names, per panel, only the fields that differ
between the panels ("resnet56_noshort" vs "resnet56" when everything else is equal) and
puts what they share in the figure's title, as the paper's figures do.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import Any

from lossviz_core.data.registry import data_unit
from lossviz_core.params import Param
from lossviz_core.recipe.spec import Recipe
from lossviz_core.registry import DIRECTION_METHODS
from lossviz_core.results.result import SurfaceResult

# Fields in the order a title names them; compute settings come last: they tell results
# apart only when nothing else does (a bf16 and an fp32 run of the same recipe).
_ORDER = (
    "model.name", "model.checkpoint", "model.pretrained", "model.num_classes", "model.output",
    "dataset.name", "dataset.subsample", "dataset.subsample_seed", "dataset.transform",
    "dataset.size", "dataset.root",
    "directions.method", "directions.params", "directions.seed", "directions.seeds",
    "directions.xnorm", "directions.ynorm",
    "directions.dir_type", "directions.xignore", "directions.yignore",
    "grid.x", "grid.y", "loss.name", "loss.split", "loss.label_smoothing", "measures",
)
_COMPUTE = ("compute.precision", "compute.device", "compute.batch_size", "compute.compile",
            "compute.multi")
_SKIP = ("version", "dataset.download", "dataset.cache", "dataset.workers", "dataset.mean",
         "dataset.std")
# A field left out when the fields it depends on already split the results the same way:
# two models' own checkpoints differ because the models do ("resnet56" is enough).
_IMPLIED_BY = {
    "model.checkpoint": ("model.name",),
    "dataset.root": ("dataset.name",),
}

_LABELS: dict[str, Callable[[Any], str]] = {
    "model.name": str,
    "dataset.name": str,
    "model.pretrained": lambda v: f"pretrained {v}",
    "model.num_classes": lambda v: f"{v} classes",
    "model.output": lambda v: f"output {v}",
    "dataset.subsample_seed": lambda v: f"subsample seed {v}",
    "dataset.transform": lambda v: f"{v} transform",
    "dataset.size": lambda v: f"{v} px",
    "directions.method": lambda v: _method_title(v),
    "directions.seed": lambda v: f"seed {v}",
    "directions.seeds": lambda v: seeds_text(v),
    "directions.dir_type": lambda v: str(v),
    "grid.x": lambda v: f"α\u00a0{v}",  # no line break between a name and its range
    "grid.y": lambda v: f"β\u00a0{v}",
    "loss.name": lambda v: f"{v} loss",
    "loss.split": lambda v: f"{v} split",
    "loss.label_smoothing": lambda v: f"smoothing {v}",
    "measures": lambda v: "+".join(v) if isinstance(v, (list, tuple)) else str(v),
    "compute.precision": lambda v: str(v),
    "compute.device": lambda v: str(v),
    "compute.batch_size": lambda v: f"batch {v}",
    "compute.compile": lambda v: f"compile {v}",
    "compute.multi": lambda v: f"multi-point {v}",
}
# path fields: named by the shortest distinct end of the path, after a word saying what
_PATHS = {"model.checkpoint": "", "dataset.root": "data "}
_PAIRS = {k: (f"directions.x{w}", f"directions.y{w}", "norm" if w == "norm" else "ignore")
          for w in ("norm", "ignore") for k in (f"directions.x{w}", f"directions.y{w}")}


def recipe_fields(result: SurfaceResult | Recipe) -> dict[str, Any]:
    """The result's recipe (or a recipe) flattened to ``{"model.name": ..., "grid.x":
    "-1:1:51", ...}`` (empty for a result without a recipe, e.g. a reference file).

    A result's grid is the one computed (its coordinates), not the ranges asked for: a
    PCA plane fitted to its trajectory names the fitted ranges; a recipe still to be fitted
    says so ("fitted, 31 pts")."""
    recipe = result if isinstance(result, Recipe) else result.recipe
    if recipe is None:
        return {}
    out: dict[str, Any] = {}
    _flatten(recipe.to_dict(), "", out)
    fit = out.pop("grid.fit", False)
    for axis in ("grid.x", "grid.y"):  # ranges read best in the CLI's min:max:num
        r = out.pop(axis + ".min", None), out.pop(axis + ".max", None), out.pop(axis + ".num", None)
        if r[0] is not None:
            out[axis] = f"fitted, {r[2]} pts" if fit else f"{r[0]:.4g}:{r[1]:.4g}:{r[2]}"
    if isinstance(result, SurfaceResult):
        out.pop("grid.y", None)
        for axis, c in (("grid.x", result.x), ("grid.y", result.y)):
            if c is not None and len(c):
                out[axis] = f"{float(c[0]):.4g}:{float(c[-1]):.4g}:{len(c)}"
    return {k: v for k, v in out.items() if k not in _SKIP}


def distinguishing_titles(results: Sequence[SurfaceResult]) -> list[str]:
    """One title per result naming only the recipe fields that differ between them.

    Compute settings are named only when nothing else differs. Results without a recipe
    (reference files) are compared with nothing: they keep their model's name. Results
    still alike are told apart by their file names, else numbered.
    """
    fields = [recipe_fields(r) for r in results]
    known = [f for f in fields if f]
    differing = differing_fields(known) if len(known) > 1 else []
    titles = [_title_of(f, known, differing) if f
              else str(r.stored("model").get("name") or "")
              for r, f in zip(results, fields, strict=True)]
    if len(set(titles)) == len(titles) and all(titles):
        return titles
    names = [PurePath(r.path).stem if r.path else "" for r in results]
    if all(names) and len(set(names)) == len(names):
        return [f"{t} · {n}" if t else n for t, n in zip(titles, names, strict=True)]
    bases = [t or str(f.get("model.name") or "") for t, f in zip(titles, fields, strict=True)]
    return [f"{b} #{k + 1}" if b else f"#{k + 1}" for k, b in enumerate(bases)]


def differing_fields(fields: Sequence[dict[str, Any]], implied: bool = False) -> list[str]:
    """The keys whose values are not equal across ``fields``, in title order; without
    ``implied``, less those that follow from another (two models' own checkpoints)."""
    def differs(key: str) -> bool:
        return len({repr(f.get(key)) for f in fields}) > 1

    present = {k for f in fields for k in f}
    order = _ordered(present)
    extra = sorted(present - set(order) - set(_COMPUTE))
    keys = [k for k in order + tuple(extra) if differs(k)]
    keys = keys or [k for k in _COMPUTE if differs(k)]
    return keys if implied else [k for k in keys if not _implied(k, keys, fields)]


def recipe_title(result: SurfaceResult | Recipe, skip: Sequence[str] = ()) -> str:
    """What the result (or a recipe) is: model, data, directions (method, seed,
    normalization), ranges. ``skip``: fields not to name (those a compare grid's panel
    titles name instead).
    """
    f = recipe_fields(result)
    if not f:
        model = {} if isinstance(result, Recipe) else result.stored("model")
        return str(model.get("name") or "")
    skip = set(skip)

    def has(key: str) -> bool:
        return key not in skip and f.get(key) is not None

    parts = []
    model = [str(f["model.name"])] if has("model.name") else []
    if has("model.checkpoint") and _tail(f["model.checkpoint"]) != f.get("model.name"):
        model.append(f"({_tail(f['model.checkpoint'])})")
    if has("model.pretrained"):
        model.append(_LABELS["model.pretrained"](f["model.pretrained"]))
    parts.append(" ".join(model))
    data = [str(f["dataset.name"])] if has("dataset.name") else []
    if has("dataset.subsample"):
        data.append(f"({_subsample_text(f['dataset.subsample'], f)})")
    parts.append(" ".join(data))
    parts.append(", ".join(_directions_text(f, has)))
    grid = [_LABELS[k](f[k]) for k in ("grid.x", "grid.y") if has(k)]
    if f.get("directions.method") == "curve" and grid:  # a curve's coordinate is t
        grid[0] = grid[0].replace("α", "t", 1)
    parts.append(" × ".join(grid))
    return " · ".join(p for p in parts if p)


def seeds_text(seeds: Sequence[int]) -> str:
    """'mean ± std over 5 seeds (1–5)': how a title names a result over direction seeds."""
    s = list(seeds)
    run = s == list(range(s[0], s[0] + len(s))) if s else False
    which = f"{s[0]}–{s[-1]}" if run and len(s) > 2 else ", ".join(map(str, s))
    return f"mean ± std over {len(s)} seeds ({which})"


def wrap(text: str, width_in: float, font_pt: float) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``font_pt`` points,
    between its `` · `` parts where it can (a part is split only when it alone is too long)."""
    chars = max(12, int(width_in * 72 / (0.56 * font_pt)))  # an average glyph is ~0.56 em
    lines: list[str] = []
    for part in text.split(" · ") if text else []:
        if lines and len(lines[-1]) + 3 + len(part) <= chars:
            lines[-1] += " · " + part
        else:
            lines += textwrap.wrap(part, chars, break_on_hyphens=False) or [part]
    return "\n".join(lines)


def distinct_tail(path: Any, paths: Sequence[Any]) -> str:
    """The shortest end of ``path`` (suffix dropped) that the other ``paths`` do not share."""
    if path is None:
        return "none"
    mine = _stem_parts(path)
    distinct = {_stem_parts(p) for p in paths}
    for k in range(1, len(mine) + 1):
        if len({p[-k:] for p in distinct}) == len(distinct):
            return "/".join(mine[-k:])
    return str(path)



# --- internals -------------------------------------------------------------------------


def _flatten(d: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for k, v in d.items():
        if isinstance(v, dict):
            _flatten(v, f"{prefix}{k}.", out)
        else:
            out[prefix + k] = tuple(v) if isinstance(v, list) else v


def _ordered(keys: set[str]) -> tuple[str, ...]:
    """The title order with the method's own parameters where ``directions.params`` stands."""
    params = sorted(k for k in keys if k.startswith(_PARAMS))
    at = _ORDER.index("directions.params")
    return (*_ORDER[:at], *params, *_ORDER[at + 1:])


_PARAMS = "directions.params."


def _method_entry(name: Any) -> Any:
    return DIRECTION_METHODS.find(str(name)) if name is not None else None


def _method_title(name: Any) -> str:
    entry = _method_entry(name)
    return entry.title.format(name=name) if entry is not None else f"{name} directions"


def _method_param(key: str, fields: Sequence[dict[str, Any]]) -> Param | None:
    """The parameter ``directions.params.NAME`` stands for (by the method that has it)."""
    name = key[len(_PARAMS):]
    for f in fields:
        entry = _method_entry(f.get("directions.method"))
        for p in entry.params if entry is not None else ():
            if p.name == name:
                return p
    return None


def _directions_text(f: dict[str, Any], has: Callable[[str], bool]) -> list[str]:
    method = f.get("directions.method") if has("directions.method") else None
    entry = _method_entry(method)
    out = []
    for p in entry.params if entry is not None else ():
        key = _PARAMS + p.name
        if has(key) and p.title:
            out.append(p.shown(_tail(f[key]) if p.is_path else f[key]))
    if not out and method:
        out.append(_method_title(method))
    uses = entry.uses if entry is not None else ("norm", "seed")
    if "seed" in uses and has("directions.seeds"):
        out.append(seeds_text(f["directions.seeds"]))
    elif "seed" in uses and has("directions.seed"):
        out.append(_LABELS["directions.seed"](f["directions.seed"]))
    if "norm" in uses:
        xn, yn = f.get("directions.xnorm"), f.get("directions.ynorm")
        if has("directions.xnorm") and (xn == yn or not has("directions.ynorm")):
            out.append(f"{xn} norm")
        elif has("directions.xnorm"):
            out.append(f"{xn}/{yn} norm")
    return out


def _title_of(f: dict[str, Any], fields: Sequence[dict[str, Any]],
              differing: Sequence[str]) -> str:
    texts = (_field_text(k, f[k], f, fields, differing) for k in differing
             if f.get(k) is not None)
    return " · ".join(t for t in texts if t)


def _field_text(key: str, value: Any, f: dict[str, Any], fields: Sequence[dict[str, Any]],
                differing: Sequence[str]) -> str:
    if key in _PATHS:
        return _PATHS[key] + distinct_tail(value, [f.get(key) for f in fields])
    if key.startswith(_PARAMS):
        p = _method_param(key, fields)
        if p is not None and p.is_path:
            return p.shown(distinct_tail(value, [f.get(key) for f in fields]))
        if p is not None:
            return p.shown(value)
    pair = _PAIRS.get(key)
    if pair is not None:  # α's and β's setting: one word when they differ together
        x_key, y_key, what = pair
        together = {x_key, y_key} <= set(differing) and all(
            f.get(x_key) == f.get(y_key) for f in fields)
        text = f"ignore {value}" if what == "ignore" else f"{value} norm"
        if together:
            return text if key == x_key else ""
        return f"{'α' if key == x_key else 'β'} {text}"
    if key == "dataset.subsample":
        return _subsample_text(value, f)
    label = _LABELS.get(key)
    return label(value) if label else f"{key.rsplit('.', 1)[-1]} {value}"


def _subsample_text(n: Any, f: dict[str, Any]) -> str:
    """'500 examples', or the data source's own word ('64 sequences' of token data)."""
    return f"{n} {data_unit(f.get('dataset.name'))}"


def _implied(key: str, keys: Sequence[str], fields: Sequence[dict[str, Any]]) -> bool:
    by = [k for k in _IMPLIED_BY.get(key, ()) if k in keys]
    if not by:
        return False

    def partition(ks: Sequence[str]) -> set[frozenset[int]]:
        groups: dict[str, set[int]] = {}
        for n, f in enumerate(fields):
            groups.setdefault(repr([f.get(k) for k in ks]), set()).add(n)
        return {frozenset(g) for g in groups.values()}

    return partition([key]) == partition(by)


def _tail(path: Any) -> str:
    p = PurePath(str(path))
    return p.stem or p.name


def _stem_parts(path: Any) -> tuple[str, ...]:
    parts = PurePath(str(path)).parts if path is not None else ()
    return (*parts[:-1], PurePath(parts[-1]).stem) if parts else ()
