"""The compute settings model: what to evaluate and where, observed by the panels.

``ComputeState`` is a flat set of typed, named values (glue-style); a panel binds a widget to
a name with :func:`lossviz.panels.bind`. Its names are generated from the engine's
registries (:mod:`.schema`): the choices every recipe has, plus one value per parameter a
model source, data kind, loss, direction method or measure declares. ``snapshot()`` is a
plain dict that is safe to hand to the worker thread. :func:`choices_from_state` turns it
into the engine resolver's choices, so the window and the command line make the same recipe
from the same choices (:func:`recipe_from_state`, run in the worker: it may read a run
folder), and :func:`state_from_recipe` fills the panels from a recipe (*Open result*).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from lossviz_core.recipe.spec import Range, Recipe
from lossviz_core.registry import DATA_SOURCES, DIRECTION_METHODS, LOSSES, MODEL_SOURCES
from lossviz_core.resolve import choice_key, resolve

from . import schema
from .schema import DEFAULTS, window_method, window_method_value  # noqa: F401 (re-exported)

# Settings files written before the model sources opened keep working.
_LEGACY_VALUES = {("source", "checkpoint"): "zoo"}


class ComputeState(QObject):
    """Named compute settings with a ``changed(name)`` signal per edit."""

    changed = Signal(str)

    def __init__(self, **values: Any) -> None:
        super().__init__()
        self._defaults = schema.defaults()
        self._values: dict[str, Any] = dict(self._defaults)
        self.update(**values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def get(self, name: str) -> Any:
        return self._values[name]

    def set(self, name: str, value: Any) -> None:
        """Set one value (coerced to the default's type); emits ``changed`` if it differs."""
        name = schema.LEGACY_KEYS.get(name, name)
        if name not in self._defaults:
            raise KeyError(name)
        value = _LEGACY_VALUES.get((name, value), value)
        kind = type(self._defaults[name])
        value = kind(value) if not isinstance(value, kind) else value
        if self._values.get(name) != value:
            self._values[name] = value
            self.changed.emit(name)

    def update(self, **values: Any) -> None:
        for k, v in values.items():
            self.set(k, v)

    def snapshot(self) -> dict[str, Any]:
        """A copy of every value (for the worker thread and for QSettings)."""
        return dict(self._values)

    @property
    def is_line(self) -> bool:
        return window_method(self._values["method"])[1]

    def ranges(self) -> tuple[Range, Range | None]:
        """The α (and β) ranges; raises InputError on a malformed range."""
        v = self._values
        x = Range(v["xmin"], v["xmax"], v["xnum"])
        return x, (None if self.is_line else Range(v["ymin"], v["ymax"], v["ynum"]))

    def set_ranges(self, x: Range, y: Range | None) -> None:
        self.update(xmin=x.min, xmax=x.max, xnum=x.num)
        if y is not None:
            self.update(ymin=y.min, ymax=y.max, ynum=y.num)


def model_name(v: dict[str, Any]) -> str | None:
    """The engine's model name for the Source panel's choice (None: the demo or a run)."""
    if v["source"] in schema.SPECIAL_SOURCES:
        return None
    source = MODEL_SOURCES.named(v["source"])
    values = {p.name: v[p.name] for p in source.name_parts.params}
    if source.name_parts.params and not any(values.values()):
        return None
    return source.name_parts.compose(values)


def dataset_name(v: dict[str, Any]) -> str:
    """The engine's dataset name for the Dataset panel's choice."""
    kind = DATA_SOURCES.named(v["dataset"])
    return kind.name_parts.compose({p.name: v[p.name] for p in kind.name_parts.params})


def _options(v: dict[str, Any], params: Any) -> dict[str, Any]:
    return {choice_key(p): (v[choice_key(p)] if v[choice_key(p)] not in ("", 0, 0.0) or
                            p.kind == "bool" else None) for p in params}


def choices_from_state(v: dict[str, Any]) -> dict[str, Any]:
    """The resolver's choices (the command line's flags) for a snapshot of the panels."""
    v = {**schema.defaults(), **v}
    name, line = window_method(v["method"])
    method = DIRECTION_METHODS.get(name)
    c: dict[str, Any] = {"line": line, "method": name}
    src = v["source"]
    if src == "demo":
        c["demo"] = True
    elif src == "run":
        c["run"] = v["run_dir"] or None
    else:
        source = MODEL_SOURCES.named(src)
        kind = DATA_SOURCES.named(v["dataset"])
        c["model"] = model_name(v)
        c["checkpoint"] = v["checkpoint"] or None
        c["pretrained"] = "DEFAULT" if v["pretrained"] and source.pretrained else None
        c["dataset"] = dataset_name(v)
        if "root" in kind.uses:
            c["data_root"] = v["data_root"] or None
        c["transform"] = v["transform"]
        c.update(_options(v, source.options))
        c.update(_options(v, kind.options))
    c["output"] = v["output"] or None
    if method.run_choice is not None:
        c[method.run_choice] = v["run_dir"] or None
        c.pop("run", None)
        c.pop("checkpoint", None)
    for p in method.params:
        if p.name != method.run_param:
            c[choice_key(p)] = v[choice_key(p)] or None
    auto = v["loss"] == schema.AUTO_LOSS
    c.update(_options(v, () if auto else LOSSES.get(v["loss"]).params))
    measures = [m.name for m in schema.window_measures() if v[schema.measure_key(m)]]
    c.update(
        subsample=int(v["subsample"]) or None, split=v["split"], loss=None if auto else v["loss"],
        dir_type=None if v["dir_type"] == "auto" else v["dir_type"],
        xnorm=v["norm"], xignore=v["ignore"], seed=int(v["seed"]),
        seeds=int(v["seeds"]) if "seed" in method.uses and int(v["seeds"]) > 1 else None,
        x=Range(v["xmin"], v["xmax"], v["xnum"]),
        y=None if line else Range(v["ymin"], v["ymax"], v["ynum"]),
        device=v["device"], precision=v["precision"],
        fit_ranges=bool(v["fit_ranges"]) if method.run_param is not None else None,
        measure=measures or None,
    )
    return c


def recipe_from_state(v: dict[str, Any]) -> Recipe:
    """The recipe the panels describe (may read a run folder: call it off the GUI thread)."""
    return resolve(choices_from_state(v))


def state_from_recipe(recipe: Recipe) -> dict[str, Any]:
    """Panel values that describe ``recipe`` (what *Open result* puts into the panels)."""
    m, d, dirs, g = recipe.model, recipe.dataset, recipe.directions, recipe.grid
    method = DIRECTION_METHODS.get(dirs.method)
    v: dict[str, Any] = {"output": m.output or "", "checkpoint": m.checkpoint or ""}
    if _is_demo(recipe):
        v["source"] = "demo"
    elif method.run_param is not None:
        v["source"], v["run_dir"] = "run", dirs.param(method.run_param) or ""
    else:
        source = MODEL_SOURCES.get(m.name)
        v["source"] = source.name
        v.update(source.name_parts.split(m.name))
        v.update(_state_options(source.options, m.options))
        v["pretrained"] = bool(m.pretrained)
    if v["source"] != "demo" and method.run_param is None:
        kind = DATA_SOURCES.get(d.name)
        v["dataset"] = kind.name
        v.update(kind.name_parts.split(d.name))
        v.update(_state_options(kind.options, d.options))
        v["data_root"] = d.root or ""
        v["transform"] = d.transform
    for p in method.params:
        if p.name != method.run_param:
            v[choice_key(p)] = dirs.param(p.name) or schema.defaults()[choice_key(p)]
    loss = LOSSES.get(recipe.loss.name)
    offered = loss.name in schema.window_losses()
    v.update(_state_options(loss.params, recipe.loss.params) if offered else {})
    v.update({schema.measure_key(k): k.name in recipe.measures
              for k in schema.window_measures()})
    v.update(
        method=window_method_value(dirs.method, recipe.is_line), dir_type=dirs.dir_type,
        norm=dirs.xnorm, ignore=dirs.xignore, seed=dirs.seed, seeds=len(dirs.seeds) or 1,
        subsample=d.subsample or 0,
        split=recipe.loss.split, loss=loss.name if offered else "ce",
        xmin=g.x.min, xmax=g.x.max, xnum=g.x.num, device=recipe.compute.device,
        precision=recipe.compute.precision, fit_ranges=g.fit,
    )
    if g.y is not None:
        v.update(ymin=g.y.min, ymax=g.y.max, ynum=g.y.num)
    return v


def _state_options(params: Any, values: dict[str, Any]) -> dict[str, Any]:
    return {choice_key(p): values[p.name] for p in params if p.name in values}


def _is_demo(recipe: Recipe) -> bool:
    """Whether the recipe's model and data are the demo's view for its method."""
    try:
        from lossviz_core import demo

        view = demo.recipe_for(recipe.directions.method)
    except Exception:  # noqa: BLE001 - no demo: nothing is the demo
        return False
    return (recipe.model.name == view.model.name and bool(recipe.model.checkpoint)
            and Path(recipe.model.checkpoint).resolve() == Path(view.model.checkpoint).resolve()
            and recipe.dataset == view.dataset)
