"""One resolver: a user's choices (CLI flags, the window's panels, a notebook) → a Recipe.

The CLI turns its arguments into a ``choices`` dict keyed by its flags' names
(:func:`all_choices`: the choices every recipe has, :data:`CORE`, and the parameters the
registered entries declare, :func:`entry_choices`), the window turns its panels' state into
the same dict, and :func:`resolve` applies every default and rule in one place: the demo's
files, a run folder's model and dataset, each method's ``dir_type`` and starting ranges,
absolute paths. The same choices therefore give the same recipe wherever they were made,
and :func:`choices_of` turns a recipe back into choices (to fill the window's panels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossviz_core.errors import InputError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.seeds import parse_seeds
from lossviz_core.recipe.spec import (
    ComputeSpec,
    DatasetSpec,
    DirectionSpec,
    GridSpec,
    LossSpec,
    ModelSpec,
    Range,
    Recipe,
)
from lossviz_core.registry import (
    DATA_SOURCES,
    DIRECTION_METHODS,
    LOSSES,
    MEASURES,
    MODEL_SOURCES,
)
from lossviz_core.runs import checkpoint_in

# The choices every recipe has, with their "not chosen" value. Each registered entry adds
# the parameters it declares (entry_choices): --checkpoint2, --pca, --directions, ...; an
# entry may read one of these too (the hf: source's --download and --allow-code)
CORE: dict[str, Any] = {
    # model
    "demo": False, "run": None, "model": None, "checkpoint": None, "pretrained": None,
    "output": None, "num_classes": None, "allow_code": False,
    # data and loss
    "dataset": None, "data_root": None, "download": False, "subsample": None,
    "subsample_seed": 0, "transform": "auto", "image_size": None, "mean": None, "std": None,
    "data_cache": "auto", "workers": None, "split": None, "loss": None, "label_smoothing": 0.0,
    # directions
    "line": False, "method": None, "dir_type": None, "xnorm": "filter", "ynorm": None,
    "xignore": "biasbn", "yignore": None, "seed": 0, "seeds": None,
    # grid, compute, measures
    "x": None, "y": None, "device": "auto", "precision": "auto", "batch_size": None,
    "compile": "auto", "multi": "auto", "memory_format": "auto", "measure": None, "fit_ranges": None,
}
SURFACE_RANGE = Range(-1.0, 1.0, 21)
LINE_RANGE = Range(-1.0, 1.0, 51)


@dataclass(frozen=True)
class EntryChoice:
    """A choice an entry declares: ``kind`` (``direction method``, ``dataset``, ``model``,
    ``loss``, ``measure``), the entry and its parameter."""

    kind: str
    entry: Any
    param: Param

    @property
    def key(self) -> str:
        return choice_key(self.param)


def choice_key(param: Param) -> str:
    """The choice (and study key) of a parameter: its flag's name with ``_`` for ``-``."""
    return param.cli_flag[2:].replace("-", "_")


def entry_choices() -> list[EntryChoice]:
    """Every parameter a registered entry declares, as a choice (several entries may share a
    choice: it goes to the chosen one)."""
    out = []
    for kind, registry, attr in (("direction method", DIRECTION_METHODS, "params"),
                                 ("model", MODEL_SOURCES, "options"),
                                 ("dataset", DATA_SOURCES, "options"),
                                 ("loss", LOSSES, "params"),
                                 ("measure", MEASURES, "params")):
        for entry in registry.all():
            out.extend(EntryChoice(kind, entry, p) for p in getattr(entry, attr))
    return out


def all_choices() -> dict[str, Any]:
    """Every choice with its "not chosen" value (the CLI's flags, the study keys)."""
    extra = {}
    for ec in entry_choices():
        extra.setdefault(ec.key, False if ec.param.kind == "bool" else None)
    return {**CORE, **extra}


def resolve(choices: Mapping[str, Any]) -> Recipe:
    """The recipe of ``choices`` (unknown keys are an error; missing ones are not chosen)."""
    table = all_choices()
    unknown = sorted(set(choices) - set(table))
    if unknown:
        raise InputError(f"unknown choice(s) {', '.join(unknown)}")
    c = {**table, **{k: v for k, v in choices.items() if v is not None}}
    line = bool(c["line"])
    method = _method(c, line)
    base = _base(c, method)
    model, dataset = _model_and_data(c, method, base)
    directions = _directions(c, method, base)
    grid = _grid(c, method, line, base)
    loss_name = c["loss"] or _default_loss(dataset, base)
    loss = LOSSES.get(str(loss_name))
    loss_spec = LossSpec(name=_loss_name(loss_name),
                         split=c["split"] or (base.loss.split if base else "train"),
                         label_smoothing=float(c["label_smoothing"] or 0.0),
                         params=_params(c, loss.params))
    compute = ComputeSpec(device=str(c["device"]), precision=c["precision"],
                          batch_size=c["batch_size"], compile=c["compile"], multi=c["multi"],
                          memory_format=c["memory_format"])
    given = c["measure"] or ()
    given = (given,) if isinstance(given, str) else tuple(given)
    for m in given:
        MEASURES.get(m)  # one line listing the measures
    # a measure is added to the loss (the surface it explains), never instead of it; a
    # method's own measures (a curve's straight line) come with it
    measures = ("loss", *dict.fromkeys(m for m in (*method.measures, *given) if m != "loss"))
    _refuse_strays(c, method, model, dataset, loss, measures)
    return Recipe(model, dataset, directions, grid, loss_spec, compute, measures)


def explain(recipe: Recipe) -> list[str]:
    """Why the recipe is as it is, where a user might wonder (one sentence each)."""
    notes = []
    d = recipe.directions
    if d.method == "target":
        if d.dir_type == "states":
            notes.append("interpolating the whole state_dict (BatchNorm statistics too), so "
                         "α = 0 and α = 1 are exactly models A and B")
        else:
            notes.append("interpolating the parameters only: BatchNorm statistics stay model "
                         "A's, so α = 1 is not exactly model B where the model has BatchNorm")
    return notes


def user_code_files(recipe: Recipe) -> list[str]:
    """The files whose code computing ``recipe`` runs (model, dataset, loss): ask before
    running them (the window asks once per file, the CLI says which file it runs)."""
    from lossviz_core.data import user_code_of as data_code
    from lossviz_core.sources import user_code_of as model_code
    from lossviz_core.usercode import user_file

    files = [model_code(recipe.model), data_code(recipe.dataset), user_file(recipe.loss.name)]
    return list(dict.fromkeys(f for f in files if f))


def _method(c: dict, line: bool) -> Any:
    if c["method"]:
        method = DIRECTION_METHODS.get(str(c["method"]))
    else:
        chosen = [m for m in DIRECTION_METHODS.all()
                  if (m.lines if line else m.planes)
                  and any(p.selects and _given(c, p) for p in m.params)]
        if len(chosen) > 1:
            raise InputError("choose one direction method: "
                             + " and ".join(f"{p.cli_flag}" for m in chosen for p in m.params
                                            if p.selects and _given(c, p))
                             + " each choose one")
        method = chosen[0] if chosen else None
        if method is None and c["demo"] and line:
            method = DIRECTION_METHODS.get("target")  # the demo's line: small → large batch
        method = method or DIRECTION_METHODS.get("random")
    if line and not method.lines:
        raise InputError(f"the {method.label} makes planes, not 1-D lines")
    if not line and not method.planes:
        raise InputError(f"the {method.label} makes 1-D lines, not planes "
                         "(use `lossviz line`)")
    return method


def _given(c: dict, p: Param) -> bool:
    v = c.get(choice_key(p))
    return v not in (None, "", False)


def _base(c: dict, method: Any) -> Recipe | None:
    """The demo recipe the choices start from, if the demo is the source."""
    if not c["demo"]:
        return None
    from lossviz_core import demo

    if c["model"] or c["run"]:
        raise InputError("--demo brings its own model: drop --model / --run")
    return demo.recipe_for(method.name)


def _run_dir(c: dict, method: Any, base: Recipe | None) -> str | None:
    """A run folder giving the model and data: the method's own (PCA) or ``--run``."""
    if method.run_param is None:
        return c["run"]
    p = next(p for p in method.params if p.name == method.run_param)
    run_dir = c[choice_key(p)]
    if not run_dir and base is not None and base.directions.method == method.name:
        run_dir = base.directions.param(method.run_param)
    if not run_dir:
        raise InputError(f"the {method.label} needs a training run folder "
                         f"({p.cli_flag} {p.metavar or 'RUN_DIR'})")
    # other models' checkpoints would fight the run's centre; the method's own options do not
    others = [q.cli_flag for q in method.other_models if _given(c, q)]
    if c["checkpoint"] or others:
        raise InputError(f"{p.cli_flag} centres the plane on the run's final checkpoint with "
                         f"its own directions: drop {' / '.join(['--checkpoint', *others])}")
    return run_dir


def _model_and_data(c: dict, method: Any, base: Recipe | None
                    ) -> tuple[ModelSpec, DatasetSpec]:
    run_dir = _run_dir(c, method, base)
    run = None
    if run_dir and (Path(run_dir) / "run.json").is_file():
        from lossviz_core.runs import read_run

        run = read_run(existing(run_dir, "run folder"))
    elif run_dir and method.run_param is not None and not c["model"] and base is None:
        raise InputError(f"{run_dir} is not a run folder (no run.json to name the model): "
                         "name the model and data, --model NAME --dataset NAME")
    if run is not None:
        model = ModelSpec(c["model"] or run.model_name, str(run.final_checkpoint.resolve()))
    elif base is not None:
        model = base.model
    elif c["model"]:
        model = ModelSpec(absolute_model_name(str(c["model"])))
    else:
        raise InputError("choose a model: --demo, or --model NAME --checkpoint FILE")
    if c["checkpoint"]:  # a run folder stands for its final checkpoint
        model = model.replace(checkpoint=str(checkpoint_in(existing(c["checkpoint"],
                                                                    "checkpoint"))))
    if c["pretrained"] and c["num_classes"]:
        raise InputError("pretrained weights fix the number of classes: drop --num-classes "
                         "(or load your own --checkpoint instead of --pretrained)")
    source = MODEL_SOURCES.find(model.name)  # none: loading it says so, in its own words
    model = model.replace(
        pretrained=c["pretrained"] or None,
        download=bool(c["pretrained"] or c["download"]),  # choosing weights asks for them
        allow_code=bool(c["allow_code"]),
        output=None if c["output"] in (None, "") else str(c["output"]),
        num_classes=int(c["num_classes"]) if c["num_classes"] else None,
        options={**model.options, **_params(c, source.options if source else ())},
    )

    if c["dataset"]:
        dataset = DatasetSpec(name=absolute_dataset_name(str(c["dataset"])))
    elif run is not None and run.dataset:
        # a run folder's dataset never downloads anything unless this command asks
        dataset = DatasetSpec.from_dict({**run.dataset, "download": False},
                                        f"{run.path / 'run.json'}: dataset")
    elif base is not None:
        dataset = base.dataset
    else:
        dataset = DatasetSpec(name=_zoo_dataset(model.name))
    extra = {k: c[k] for k in ("subsample_seed", "transform", "workers")}
    if c["data_root"]:
        extra["root"] = existing(c["data_root"], "data folder", must_exist=False)
    if c["subsample"]:
        extra["subsample"] = int(c["subsample"])
    kind = DATA_SOURCES.find(dataset.name)
    dataset = dataset.replace(
        **extra, size=c["image_size"], cache=c["data_cache"],
        mean=_floats(c["mean"], "mean"), std=_floats(c["std"], "std"),
        download=bool(c["download"] or dataset.download),
        options={**dataset.options, **_params(c, kind.options if kind else ())},
    )
    return model, dataset


def _directions(c: dict, method: Any, base: Recipe | None) -> DirectionSpec:
    b = base.directions if base is not None and base.directions.method == method.name else None
    dir_type = c["dir_type"] or (b.dir_type if b else method.dir_type)
    params = {**(b.params if b else {}), **_params(c, method.params)}
    for p in method.params:
        if p.name not in params and p.default is None and p.selects:
            raise InputError(f"the {method.label} needs {p.label or p.name} "
                             f"({p.cli_flag} {p.metavar or 'VALUE'})")
        if p.is_path and p.name in params:  # a base recipe's paths are checked too
            params[p.name] = p.coerce(params[p.name])
    seeds = parse_seeds(c["seeds"], int(c["seed"]))
    if len(seeds) > 1 and "seed" not in method.uses:
        raise InputError(f"--seeds: the {method.label} has no random directions to draw again")
    return DirectionSpec(
        method=method.name, dir_type=dir_type, xnorm=c["xnorm"], ynorm=c["ynorm"] or c["xnorm"],
        xignore=c["xignore"], yignore=c["yignore"] or c["xignore"],
        seed=seeds[0] if seeds else int(c["seed"]), params=params,
        seeds=seeds if len(seeds) > 1 else (),  # one seed is just --seed
    )


def _params(c: dict, params: tuple[Param, ...]) -> dict[str, Any]:
    """The given values of ``params`` among the choices, coerced (paths made absolute)."""
    out = {}
    for p in params:
        v = p.coerce(c.get(choice_key(p)))
        if v is None or v == p.default or (p.kind == "bool" and v == bool(p.default)):
            continue  # a default is not recorded: the recipe says what was chosen
        out[p.name] = v
    return out


def _refuse_strays(c: dict, method: Any, model: ModelSpec, dataset: DatasetSpec, loss: Any,
                   measures: tuple[str, ...]) -> None:
    """A parameter given for an entry that was not chosen is a one-line error, not ignored."""
    source, kind = MODEL_SOURCES.find(model.name), DATA_SOURCES.find(dataset.name)
    chosen = {("direction method", method.name), ("model", source.name if source else None),
              ("dataset", kind.name if kind else None), ("loss", loss.name),
              *(("measure", m) for m in measures)}
    mine = {ec.key for ec in entry_choices() if (ec.kind, ec.entry.name) in chosen}
    mine |= set(CORE)  # a choice every recipe has is never a stray, whoever else reads it
    for ec in entry_choices():
        if ec.key not in mine and _given(c, ec.param) and c[ec.key] != ec.param.default:
            label = getattr(ec.entry, "label", ec.entry.name)
            raise InputError(f"{ec.param.cli_flag} belongs to the {ec.kind} {label!r}, "
                             "which is not the one chosen")


def _grid(c: dict, method: Any, line: bool, base: Recipe | None) -> GridSpec:
    same = base is not None and base.is_line == line and base.directions.method == method.name
    # a plane with a trajectory fits its ranges to it unless the user gave them (or said no)
    fits = method.run_param is not None
    fit = c["fit_ranges"]
    if fit is None:
        fit = fits and c["x"] is None and c["y"] is None and not same
    fit = bool(fit) and fits
    if line:
        default = base.grid.x if same else (method.line_range or LINE_RANGE)
        return GridSpec(x=_range(c["x"]) or default, y=None, fit=fit)
    start = method.plane_range or SURFACE_RANGE
    bx, by = (base.grid.x, base.grid.y) if same else (start, start)
    return GridSpec(x=_range(c["x"]) or bx, y=_range(c["y"]) or by, fit=fit)


def _range(v: Any) -> Range | None:
    if v is None or isinstance(v, Range):
        return v
    return Range.parse(v)


def _floats(v: Any, what: str) -> tuple[float, ...] | None:
    if v in (None, "", ()):
        return None
    if isinstance(v, str):
        try:
            return tuple(float(t) for t in v.replace(",", " ").split())
        except ValueError:
            raise InputError(f"--{what} wants numbers separated by commas, got {v!r}") from None
    return tuple(float(t) for t in v)


def existing(path: str | Path, what: str, must_exist: bool = True) -> str:
    """``path`` made absolute; InputError naming ``what`` when it does not exist."""
    p = Path(str(path)).expanduser()
    if must_exist and not p.exists():
        raise InputError(f"{what} not found: {path}")
    return str(p.resolve())


def _absolute(parts: NameParts, name: str, folder: Path | None, check: bool = True) -> str:
    def fix(p: Param, path: str) -> str:
        q = Path(path).expanduser()
        if folder is not None and not q.is_absolute():
            q = folder / q
        if check and p.must_exist and not q.exists():
            raise InputError(f"{p.label or p.name} not found: {path}".replace(
                "File not found", "file not found"))
        return str(q.resolve())

    return parts.with_paths(name, fix)


def absolute_model_name(name: str, folder: Path | None = None, check: bool = True) -> str:
    """Paths inside a model name made absolute (relative to ``folder`` when given: a study's
    own folder); with ``check``, a missing file is one line."""
    source = MODEL_SOURCES.find(name)
    if source is None:  # not a name any source claims (yet): a bare path is made absolute
        return _bare_path(name, folder)
    return _absolute(source.name_parts, name, folder, check)


def absolute_dataset_name(name: str, folder: Path | None = None, check: bool = True) -> str:
    """Paths inside a dataset name made absolute (.npz files, image folders, Python files)."""
    kind = DATA_SOURCES.find(name)
    if kind is None:
        return _bare_path(name, folder)
    return _absolute(kind.name_parts, name, folder, check)


def _bare_path(name: str, folder: Path | None) -> str:
    p = Path(name).expanduser()
    p = folder / p if folder is not None and not p.is_absolute() else p
    return str(p.resolve()) if p.exists() else name


def _default_loss(dataset: DatasetSpec, base: Recipe | None) -> str:
    """The loss unless one is chosen: a resumed recipe's, else the data's own (``lm`` for
    token data, ``ce`` for labels)."""
    if base is not None:
        return base.loss.name
    kind = DATA_SOURCES.find(dataset.name)
    return kind.default_loss if kind is not None else "ce"


def _loss_name(name: str) -> str:
    from lossviz_core.usercode import is_function_ref, split_ref

    if is_function_ref(name):
        path, func = split_ref(name)
        return f"{existing(path, 'loss file')}:{func}"
    return str(name)


def _zoo_dataset(model: str) -> str:
    """The dataset a model was made for (the zoo's); any other model needs one named."""
    dataset = MODEL_SOURCES.get(model).dataset_of(model)
    if dataset is None:
        raise InputError(f"choose the data the loss is measured on (--dataset NAME): model "
                         f"{model} is not from the zoo, so it has no dataset of its own")
    return dataset


def choices_of(recipe: Recipe) -> dict[str, Any]:
    """The choices that resolve to ``recipe`` (``resolve(choices_of(r)) == r``)."""
    m, d, dirs, g = recipe.model, recipe.dataset, recipe.directions, recipe.grid
    out: dict[str, Any] = {
        "model": m.name, "checkpoint": m.checkpoint, "pretrained": m.pretrained,
        "output": m.output, "num_classes": m.num_classes,
        "dataset": d.name, "data_root": d.root, "download": d.download,
        "subsample": d.subsample, "subsample_seed": d.subsample_seed, "transform": d.transform,
        "image_size": d.size, "mean": d.mean, "std": d.std, "data_cache": d.cache,
        "workers": d.workers, "split": recipe.loss.split, "loss": recipe.loss.name,
        "label_smoothing": recipe.loss.label_smoothing,
        "line": recipe.is_line, "method": dirs.method, "dir_type": dirs.dir_type,
        "xnorm": dirs.xnorm, "ynorm": dirs.ynorm, "xignore": dirs.xignore,
        "yignore": dirs.yignore, "seed": dirs.seed, "seeds": list(dirs.seeds) or None,
        "x": g.x, "y": g.y, "fit_ranges": g.fit,
        "device": recipe.compute.device, "precision": recipe.compute.precision,
        "batch_size": recipe.compute.batch_size, "compile": recipe.compute.compile,
        "multi": recipe.compute.multi,
        "memory_format": recipe.compute.memory_format, "measure": list(recipe.measures),
    }
    method = DIRECTION_METHODS.get(dirs.method)
    source, kind = MODEL_SOURCES.find(m.name), DATA_SOURCES.find(d.name)
    for params, values in ((method.params, dirs.params),
                           (source.options if source else (), m.options),
                           (kind.options if kind else (), d.options),
                           (LOSSES.get(recipe.loss.name).params, recipe.loss.params)):
        for p in params:
            if p.name in values:
                out[choice_key(p)] = values[p.name]
    if method.run_param is not None:
        out["checkpoint"] = None  # the run's final checkpoint, found again from the run
    return out


def grants_as_asked(recipe: Recipe, download: bool = False, pretrained: bool = False,
                    allow_code: bool = False) -> Recipe:
    """``recipe`` as read from a file (a result, a study, a figure) with only the rights this
    command granted: to download data and weights (``download``; the weights with
    ``pretrained`` too) and to run code a model ships (``allow_code``, an ``hf:`` model's
    own modules). A file never grants them by itself."""
    model = recipe.model.replace(download=bool(download or pretrained),
                                 allow_code=bool(allow_code))
    return recipe.replace(model=model, dataset=recipe.dataset.replace(download=bool(download)))
