"""The window's view of the engine's registries: which values the settings hold, generated.

Qt-free. Every parameter a registered model source, data kind, loss, direction method or
measure declares becomes one named value of :class:`~lossviz.state.ComputeState` (a panel
row): a source's name parts under their own names (``tv_model``, ``model_file``, ...), every
other parameter under its choice (the command line's flag name: ``checkpoint2``,
``directions``, ...), and each measure besides the loss as ``measure_NAME``. The Source
list adds the bundled demo and a training run folder; the Method list offers each method's
plane and its 1-D line (``NAME1d`` where the method makes both).
"""

from __future__ import annotations

from typing import Any

from lossviz_core.params import Param
from lossviz_core.registry import (
    DATA_SOURCES,
    DIRECTION_METHODS,
    LOSSES,
    MEASURES,
    MODEL_SOURCES,
)
from lossviz_core.resolve import choice_key

SPECIAL_SOURCES = {"demo": "Bundled demo", "run": "Run folder (training run)"}
LINE_SUFFIX = "1d"
AUTO_LOSS = "auto"  # the Loss list's choice of no loss: the resolver takes the data's own

CORE: dict[str, Any] = {
    "source": "demo",
    "checkpoint": "",
    "pretrained": False,
    "output": "",
    "run_dir": "",
    "dataset": "digits",
    "data_root": "",
    "transform": "auto",
    "subsample": 0,  # 0: the whole split
    "split": "train",
    "loss": "auto",  # the data's own: ce for labels, lm for token data
    "method": "random",
    "norm": "filter",
    "ignore": "biasbn",
    "dir_type": "auto",
    "seed": 0,
    "seeds": 1,  # direction seeds from `seed` on: more than one gives mean ± spread
    "fit_ranges": True,  # a PCA plane's ranges follow its trajectory
    "xmin": -1.0,
    "xmax": 1.0,
    "xnum": 21,
    "ymin": -1.0,
    "ymax": 1.0,
    "ynum": 21,
    "device": "auto",
    "precision": "auto",
    # where: not part of the recipe (the same landscape wherever it is computed)
    "executor": "local",
    "ray_address": "",  # empty: a local Ray on this machine
    "ray_workers": 0,  # 0: one per GPU, or per group of CPU cores
}
# names earlier settings files used
LEGACY_KEYS = {"target_checkpoint": "checkpoint2", "direction_file": "directions",
               "curvature_map": "measure_curvature"}


def _typed_default(p: Param) -> Any:
    if p.kind == "bool":
        return bool(p.default)
    if p.kind == "int":
        return int(p.default or 0)
    if p.kind == "float":
        return float(p.default or 0.0)
    if p.kind == "floats":
        return ",".join(map(str, p.default)) if p.default else ""
    return "" if p.default is None else str(p.default)


def measure_key(kind: Any) -> str:
    return f"measure_{kind.name}"


def window_measures() -> list[Any]:
    """The measures the window offers as checkboxes (the loss is always computed, and a
    method's own measures, such as a curve's straight line, come with the method)."""
    implied = {name for m in DIRECTION_METHODS.all() for name in m.measures}
    return [m for m in MEASURES.all() if m.name != "loss" and m.name not in implied]


def window_losses() -> dict[str, str]:
    """The losses the Loss list offers (a loss named by a file is chosen on the command line);
    ``auto``: the dataset's own (cross-entropy, next-token cross-entropy for token data)."""
    return {AUTO_LOSS: "auto (the data's own)",
            **{e.name: e.label for e in LOSSES.all() if e.matches is None}}


def model_sources() -> dict[str, str]:
    """The Source list: the demo, each registered model source, a run folder."""
    return {"demo": SPECIAL_SOURCES["demo"],
            **{s.name: s.label for s in MODEL_SOURCES.all()},
            "run": SPECIAL_SOURCES["run"]}


def data_sources() -> dict[str, str]:
    return {s.name: s.label for s in DATA_SOURCES.all()}


def window_methods() -> dict[str, tuple[str, bool, str]]:
    """``{value: (method, line, label)}``: every method's plane, then every 1-D line."""
    out: dict[str, tuple[str, bool, str]] = {}
    methods = DIRECTION_METHODS.all()
    for m in methods:
        if m.planes:
            out[m.name] = (m.name, False, m.label)
    for m in methods:
        if m.lines:
            value = m.name + LINE_SUFFIX if m.planes else m.name
            out[value] = (m.name, True, m.line_label or f"1-D {m.label}")
    return out


def window_method(value: str) -> tuple[str, bool]:
    """``(engine method, line)`` of the Method list's value."""
    entry = window_methods().get(value)
    if entry is None:
        return "random", False
    return entry[0], entry[1]


def fits_trajectory(value: str) -> bool:
    """Whether the Method list's value makes a plane whose ranges may fit a trajectory (its
    method takes a training run: PCA)."""
    name, line = window_method(value)
    return not line and DIRECTION_METHODS.get(name).run_param is not None


def window_method_value(method: str, line: bool) -> str:
    for value, (name, is_line, _label) in window_methods().items():
        if name == method and is_line == line:
            return value
    return method


def state_params() -> dict[str, tuple[Param, Any]]:
    """``{state name: (parameter, its entry)}`` for every parameter the panels show."""
    out: dict[str, tuple[Param, Any]] = {}
    for registry in (MODEL_SOURCES, DATA_SOURCES):
        for e in registry.all():
            for p in e.name_parts.params:
                out.setdefault(p.name, (p, e))
            for p in e.options:
                out.setdefault(choice_key(p), (p, e))
    for m in DIRECTION_METHODS.all():
        for p in m.params:
            if p.name != m.run_param:
                out.setdefault(choice_key(p), (p, m))
    for e in (*LOSSES.all(), *MEASURES.all()):
        for p in e.params:
            out.setdefault(choice_key(p), (p, e))
    return out


def defaults() -> dict[str, Any]:
    """Every setting's default, for the entries registered now (a plugin registered later
    adds its own)."""
    out = dict(CORE)
    for name, (p, _entry) in state_params().items():
        out.setdefault(name, _typed_default(p))
    for m in window_measures():
        out[measure_key(m)] = False
    return out


DEFAULTS: dict[str, Any] = defaults()  # the built-in entries' (tests, settings files)


def switched(name: str, old: Any, values: dict[str, Any]) -> dict[str, Any]:
    """What no longer fits after the user switched ``name`` (``source`` or ``method``) from
    ``old`` to ``values[name]``: ``{setting: value it goes back to}``.

    A new Source drops the previous model's checkpoint (its weights, and the class count
    its output layer gives, are another network's), output, pretrained weights and options.
    A new Method drops the parameters only the others take, a run folder the new one does
    not read, and ranges made for another kind of line or plane (a fitted PCA plane's
    −0.5978…1.9615, an interpolation's −0.5…1.5): the new method's starting ranges, with
    the point counts kept."""
    new = values[name]
    if new == old:
        return {}
    out: dict[str, Any] = {}
    method = DIRECTION_METHODS.get(window_method(values["method"])[0])
    keeps_run = values["source"] == "run" or method.run_param is not None
    if not keeps_run:
        out["run_dir"] = ""
    if name == "source":
        out.update(checkpoint="", output="", pretrained=False)
        if new not in SPECIAL_SOURCES and MODEL_SOURCES.named(new).pretrained:
            out.pop("pretrained")
        mine = set() if new in SPECIAL_SOURCES else _option_keys([MODEL_SOURCES.named(new)])
        out.update({k: DEFAULTS.get(k) for k in _option_keys(MODEL_SOURCES.all()) - mine})
    elif name == "method":
        mine = {choice_key(p) for p in method.params}
        others = {choice_key(p) for m in DIRECTION_METHODS.all() for p in m.params
                  if p.name != m.run_param}
        out.update({k: DEFAULTS.get(k) for k in others - mine})
        if fits_trajectory(new):
            out["fit_ranges"] = True  # a PCA plane is fitted unless the user says not
        before, now = _start_ranges(old, values), _start_ranges(new, values)
        if before != now and hasattr(now, "min"):  # a fitted plane: the fit decides
            out.update(xmin=now.min, xmax=now.max)
            if not window_method(new)[1]:
                out.update(ymin=now.min, ymax=now.max)
    return {k: v for k, v in out.items() if v is not None and values.get(k) != v}


def _option_keys(entries: Any) -> set[str]:
    return {choice_key(p) for e in entries for p in e.options}


def _start_ranges(value: str, values: dict[str, Any]) -> Any:
    """The ranges ``value``'s method starts with (a fitted plane: ``("fitted",)``)."""
    from lossviz_core.resolve import LINE_RANGE, SURFACE_RANGE

    name, line = window_method(value)
    method = DIRECTION_METHODS.get(name)
    if fits_trajectory(value) and values.get("fit_ranges", True):
        return ("fitted",)
    return (method.line_range or LINE_RANGE) if line else (method.plane_range or SURFACE_RANGE)
