"""A study file (TOML) parsed and checked into frozen entries: models, results, figures.

Layout (``docs/studies.md`` has the whole reference)::

    [study]     name, description, estimates (seconds per epoch / per point, for status)
    [sweeps]    named value lists that entries sweep over (``depth = [20, 56, 110]``)
    [defaults]  ``model``, ``result``, ``figure``: keys every entry of that kind starts from
    [models.NAME]   a training run: TrainSpec's fields, ``init`` (share another model's
                    initialization), ``sweep``
    [results.NAME]  a grid: the resolver's choices, ``model`` (a model of the study, or any
                    model source with ``checkpoint``), ``model_b`` (interpolation, curve),
                    ``model_c`` (the three-model plane), ``sweep``
    [figures.NAME]  panels of results on one colour scale: ``results``, ``rows``, ``cols``,
                    ``mode``, FigureOptions' fields, ``formats``, ``sweep``
    [profiles.NAME] a partial study merged over the rest when that profile is chosen
                    (``--profile NAME``; ``--quick`` is ``--profile quick``)

Names and string values may hold ``{placeholders}`` of the entry's swept variables
(:mod:`lossviz_core.studies.sweep`). Paths are relative to the study file's folder. Every
mistake is one line naming the file, the line and the key path
(:class:`~lossviz_core.studies.toml_text.StudyError`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossviz_core.limits import MAX_STUDY_UNITS, check_grid_fits
from lossviz_core.studies import fields as f
from lossviz_core.studies.figure_spec import FigureEntry, parse_figures
from lossviz_core.studies.sweep import check_list, expand, sweep_values
from lossviz_core.studies.toml_text import KeyPath, Source, parse_source

SECTIONS = ("study", "sweeps", "defaults", "models", "results", "figures", "profiles")
STUDY_KEYS = {"name": f.STR, "description": f.STR, "estimates": "a table"}
ESTIMATE_KEYS = {"seconds_per_epoch": "a table", "seconds_per_point": "a table", "device": f.STR}


@dataclass(frozen=True)
class ModelEntry:
    """A model to train. ``init``: the study model whose initialization it shares."""

    name: str
    train: Any  # TrainSpec (init_checkpoint: a file the user gave, or None)
    init: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultEntry:
    """A grid to compute: the resolver's ``choices`` and the study models it is made from
    (``model``: its run; ``model_b``: the interpolation's or curve's end; ``model_c``: the
    three-model plane's third)."""

    name: str
    choices: dict[str, Any]
    model: str | None = None
    model_b: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    model_c: str | None = None

    @property
    def others(self) -> tuple[str | None, ...]:
        """The study models filling the method's other models, in order (B, then C)."""
        return (self.model_b, self.model_c)

    @property
    def line(self) -> bool:
        return bool(self.choices.get("line"))

    @property
    def method(self) -> str:
        return str(self.choices.get("method") or "random")

    @property
    def shape(self) -> tuple[int, ...]:
        """``(ny, nx)`` of a plane, ``(nx,)`` of a line: its ranges, else the resolver's."""
        from lossviz_core.recipe.spec import Range
        from lossviz_core.registry import DIRECTION_METHODS
        from lossviz_core.resolve import LINE_RANGE, SURFACE_RANGE

        method = DIRECTION_METHODS.get(self.method)

        def num(key: str, default: Range) -> int:
            v = self.choices.get(key)
            return Range.parse(v).num if v else default.num

        if self.line:
            return (num("x", method.line_range or LINE_RANGE),)
        plane = method.plane_range or SURFACE_RANGE
        return (num("y", plane), num("x", plane))


@dataclass(frozen=True)
class Study:
    """A parsed study: its entries by name (expanded), its text and where it came from."""

    name: str
    text: str
    path: str | None
    folder: str
    models: dict[str, ModelEntry]
    results: dict[str, ResultEntry]
    figures: dict[str, FigureEntry]
    description: str = ""
    profile: str | None = None
    estimates: dict[str, Any] = field(default_factory=dict)


def parse_study(text: str, path: str | Path | None = None, profile: str | None = None,
                label: str | None = None) -> Study:
    """The study ``text`` (read from ``path``, which paths in it are relative to), with
    ``profile``'s values merged over it."""
    folder = Path(path).expanduser().resolve().parent if path else Path.cwd()
    src = parse_source(text, label or (Path(path).name if path else "study"))
    tree = src.tree
    for key in tree:
        if key not in SECTIONS:
            raise src.error((key,), f"unknown section; a study has {', '.join(SECTIONS)}")
    if profile is not None:
        tree = _merge_profile(src, tree, profile)
    head = _table(src, tree, ("study",))
    f.check_keys(src, ("study",), head, STUDY_KEYS)
    estimates = _table(src, head, ("study", "estimates"))
    f.check_keys(src, ("study", "estimates"), estimates, ESTIMATE_KEYS)
    for table in ("seconds_per_epoch", "seconds_per_point"):
        for key, value in estimates.get(table, {}).items():
            f.check_type(src, ("study", "estimates", table, key), value, f.FLOAT)
    named = {k: check_list(src, ("sweeps", k), v)
             for k, v in _table(src, tree, ("sweeps",)).items()}
    defaults = _table(src, tree, ("defaults",))
    for key in defaults:
        if key not in ("model", "result", "figure"):
            raise src.error(("defaults", key), "unknown key; defaults are model, result, figure")
    models = _models(src, tree, named, folder)
    results = _results(src, tree, named, folder, models)
    entries = _entries(src, tree, "figures", "figure")
    figures = parse_figures(src, entries, named, results)
    units = len(models) + len(results) + len(figures)
    if units > MAX_STUDY_UNITS:
        raise src.error((), f"the study holds {len(models)} models, {len(results)} results and "
                        f"{len(figures)} figures ({units} units); at most {MAX_STUDY_UNITS}")
    name = head.get("name") or (Path(path).stem if path else "study")
    if head.get("name") is not None:  # it names the default output folder, ./NAME
        f.check_name(src, ("study", "name"), name, "the study's")
    return Study(name=name, text=text, path=str(Path(path).resolve()) if path else None,
                 folder=str(folder), models=models, results=results, figures=figures,
                 description=head.get("description", ""), profile=profile,
                 estimates=estimates)


def _models(src: Source, tree: dict, named: dict, folder: Path) -> dict[str, ModelEntry]:
    from lossviz_core.recipe.spec import DatasetSpec
    from lossviz_core.train.loop import TrainSpec

    out: dict[str, ModelEntry] = {}
    for path, entry, variables in _swept(src, tree, "models", "model", named):
        for name, fields, values in expand(src, path, entry, variables):
            where = ("models", name)
            f.check_name(src, where, name, "a model")
            f.check_keys(src, where, fields, f.MODEL_KEYS)
            if "model" not in fields:
                raise src.error(where, "a model needs `model` (a zoo name, torchvision:NAME, "
                                "timm:NAME or FILE.py:FUNCTION)")
            init = fields.pop("init", None)
            for key, value in fields.items():
                check = f.train_check(key, value)
                if check is not None:
                    f.check_value(src, where + (key,), check)
            fields["model"] = f.local_model(fields["model"], folder)
            data = fields.get("dataset", "digits")
            data = {"name": data} if isinstance(data, str) else dict(data)
            f.check_keys(src, where + ("dataset",), data, f.DATASET_KEYS)
            data["name"] = f.local_dataset(data.get("name", "digits"), folder)
            if data.get("root"):
                data["root"] = f.local_path(data["root"], folder)
            fields["dataset"] = f.check_value(src, where + ("dataset",),
                                              lambda d=data: DatasetSpec.from_dict(d))
            if fields.get("init_checkpoint"):
                fields["init_checkpoint"] = f.local_path(fields["init_checkpoint"], folder)
            if init is not None and fields.get("init_checkpoint"):
                raise src.error(where + ("init",), "give init (a study model) or "
                                "init_checkpoint (a file), not both")
            train = f.check_value(src, where, lambda kw=fields: TrainSpec.from_dict(kw))
            _unique(src, where, out)
            out[name] = ModelEntry(name, train, init, values)
    for name, m in out.items():
        if m.init is not None and m.init not in out:  # itself: the one the others share
            raise src.error(("models", name, "init"), f"init names the study model whose "
                            f"initialization to share; {m.init!r} is {_none_of(out)}")
    return out


def _results(src: Source, tree: dict, named: dict, folder: Path,
             models: dict[str, ModelEntry]) -> dict[str, ResultEntry]:
    out: dict[str, ResultEntry] = {}
    for path, entry, variables in _swept(src, tree, "results", "result", named):
        for name, fields, values in expand(src, path, entry, variables):
            where = ("results", name)
            f.check_name(src, where, name, "a result")
            f.check_keys(src, where, fields, f.result_keys())
            for key, value in fields.items():
                check = f.result_check(key, value)
                if check is not None:
                    f.check_value(src, where + (key,), check)
            _unique(src, where, out)
            out[name] = _result(src, where, fields, values, folder, models)
            f.check_value(src, where, lambda r=out[name]: check_grid_fits(r.shape))
    return out


def _result(src: Source, where: KeyPath, fields: dict, values: dict, folder: Path,
            models: dict[str, ModelEntry]) -> ResultEntry:
    from lossviz_core.registry import DIRECTION_METHODS
    from lossviz_core.resolve import choice_key

    method = DIRECTION_METHODS.get(fields.get("method", "random"))
    model, model_b = fields.pop("model", None), fields.pop("model_b", None)
    model_c = fields.pop("model_c", None)
    if model is None:
        raise src.error(where, "a result needs `model`: a model of this study, or a model "
                        "source (zoo name, FILE.py:FUNCTION, ...) with `checkpoint`")
    own = model in models
    run_key = method.run_choice
    if run_key is not None and not own and not fields.get(run_key):
        raise src.error(where + ("model",), f"the {method.label} needs a trained model of "
                        f"this study (or {run_key} = RUN_FOLDER); {model!r} is "
                        f"{_none_of(models)}")
    if not own:
        from lossviz_core.sources.registry import model_source

        f.check_value(src, where + ("model",), lambda: model_source(model))
        fields["model"] = f.local_model(model, folder)
    others = [choice_key(p) for p in method.other_models]
    for i, (key, other) in enumerate((("model_b", model_b), ("model_c", model_c))):
        if other is not None and other not in models:
            raise src.error(where + (key,), f"{key} names a model of this study; "
                            f"{other!r} is {_none_of(models)}")
        if i < len(others) and other is None and not fields.get(others[i]):
            raise src.error(where, f"the {method.label} (method {method.name}) needs {key} "
                            f"(a model of this study) or {others[i]} (a file)")
        if other is not None and i >= len(others):
            takes = [m.name for m in DIRECTION_METHODS.all() if len(m.model_params) > i]
            raise src.error(where + (key,), f"{key} is another model's checkpoint for a "
                            f"method that takes one: set method = \"{takes[0]}\"")
    fields.setdefault("line", not method.planes)  # the paper's interpolation is a line
    for key in f.path_keys():
        if fields.get(key):
            fields[key] = f.local_path(fields[key], folder)
    if fields.get("dataset"):
        fields["dataset"] = f.local_dataset(fields["dataset"], folder)
    if fields.get("loss"):
        fields["loss"] = f.local_loss(fields["loss"], folder)
    return ResultEntry(where[1], fields, model if own else None, model_b, values, model_c)


def _swept(src: Source, tree: dict, section: str, kind: str,
           named: dict) -> list[tuple[KeyPath, dict, dict]]:
    """``(path, fields with the defaults, swept variables)`` of every entry of a section."""
    out = []
    for path, entry in _entries(src, tree, section, kind):
        entry = dict(entry)
        variables = sweep_values(src, path + ("sweep",), entry.pop("sweep"), named) \
            if "sweep" in entry else {}
        out.append((path, entry, variables))
    return out


def _entries(src: Source, tree: dict, section: str, kind: str) -> list[tuple[KeyPath, dict]]:
    defaults = _table(src, tree.get("defaults", {}), ("defaults", kind))
    out = []
    for name, entry in _table(src, tree, (section,)).items():
        if not isinstance(entry, dict):
            raise src.error((section, name), f"a {kind} is a table ([{section}.{name}] with "
                            f"its keys), got {f._shown(entry)}")
        for key in defaults:
            if key not in entry:  # an error in a default is reported where it is written
                src.origin.setdefault((section, name, key), ("defaults", kind, key))
        out.append(((section, name), {**copy.deepcopy(defaults), **entry}))
    return out


def _merge_profile(src: Source, tree: dict, profile: str) -> dict:
    profiles = _table(src, tree, ("profiles",))
    f.check_name(src, ("profiles",), profile, "a profile")  # it names ./NAME-PROFILE
    if profile not in profiles:
        have = ", ".join(profiles) or "none"
        raise src.error(("profiles",), f"no profile {profile!r} in this study (it has {have})")
    over = _table(src, profiles, ("profiles", profile))
    merged = copy.deepcopy({k: v for k, v in tree.items() if k != "profiles"})
    _merge(src, merged, over, (), ("profiles", profile))
    return merged


def _merge(src: Source, base: dict, over: dict, path: KeyPath, origin: KeyPath) -> None:
    for key, value in over.items():
        here = path + (key,)
        if not path and key not in SECTIONS[:-1]:
            raise src.error(origin + (key,), "unknown section in a profile")
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(src, base[key], value, here, origin + (key,))
        else:
            base[key] = copy.deepcopy(value)
            src.origin[here] = origin + (key,)


def _table(src: Source, tree: dict, path: KeyPath) -> dict:
    value = tree.get(path[-1], {})
    if not isinstance(value, dict):
        raise src.error(path, f"expected a table, got {f._shown(value)}")
    return value


def _unique(src: Source, where: KeyPath, seen: dict) -> None:
    if where[1] in seen:
        raise src.error(where, f"two {where[0]} are named {where[1]!r}")


def _none_of(entries: dict, exclude: str | None = None) -> str:
    names = [n for n in entries if n != exclude]
    return f"not one (models: {', '.join(names[:8])}{', ...' if len(names) > 8 else ''})" \
        if names else "not one (the study has no models)"
