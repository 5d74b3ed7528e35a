"""One resolver: a user's choices (CLI flags, the window's panels, a notebook) → a Recipe.

The CLI turns its arguments into a ``choices`` dict with the keys of :data:`CHOICES` (its
flags' names), the window turns its panels' state into the same dict, and :func:`resolve`
applies every default and rule in one place: the demo's files, a run folder's model and
dataset, the interpolation's ``states``, the ranges each method starts with, absolute
paths. The same choices therefore give the same recipe wherever they were made, and
:func:`choices_of` turns a recipe back into choices (to fill the window's panels).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lossviz_core.errors import InputError
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

# Every choice a user can make, with its "not chosen" value.
CHOICES: dict[str, Any] = {
    # model
    "demo": False, "run": None, "model": None, "checkpoint": None, "pretrained": None,
    "output": None, "num_classes": None,
    # data and loss
    "dataset": None, "data_root": None, "download": False, "subsample": None,
    "subsample_seed": 0, "transform": "auto", "image_size": None, "mean": None, "std": None,
    "data_cache": "auto", "workers": None, "split": None, "loss": "ce", "label_smoothing": 0.0,
    # directions
    "line": False, "method": None, "dir_type": None, "xnorm": "filter", "ynorm": None,
    "xignore": "biasbn", "yignore": None, "seed": 0, "directions": None, "pca": None,
    "checkpoint2": None,
    # grid, compute, measures
    "x": None, "y": None, "device": "auto", "precision": "auto", "batch_size": None,
    "compile": "auto", "multi": "auto", "measure": None, "fit_ranges": None,
}
SURFACE_RANGE = Range(-1.0, 1.0, 21)
LINE_RANGE = Range(-1.0, 1.0, 51)
INTERPOLATION_RANGE = Range(-0.5, 1.5, 41)
_ARCHIVE_PREFIXES = ("torchscript:", "export:")


def resolve(choices: Mapping[str, Any]) -> Recipe:
    """The recipe of ``choices`` (unknown keys are an error; missing ones are not chosen)."""
    unknown = sorted(set(choices) - set(CHOICES))
    if unknown:
        raise InputError(f"unknown choice(s) {', '.join(unknown)}")
    c = {**CHOICES, **{k: v for k, v in choices.items() if v is not None}}
    line = bool(c["line"])
    method = _method(c, line)
    base = _base(c, method, line)
    model, dataset = _model_and_data(c, method, base)
    directions = _directions(c, method, base, model)
    grid = _grid(c, method, line, base)
    loss = LossSpec(name=_loss_name(c["loss"]), split=c["split"] or (base.loss.split if base
                                                                      else "train"),
                    label_smoothing=float(c["label_smoothing"] or 0.0))
    compute = ComputeSpec(device=str(c["device"]), precision=c["precision"],
                          batch_size=c["batch_size"], compile=c["compile"], multi=c["multi"])
    given = c["measure"] or ()
    given = (given,) if isinstance(given, str) else tuple(given)
    # a measure is added to the loss (the surface it explains), never instead of it
    measures = ("loss", *dict.fromkeys(m for m in given if m != "loss"))
    return Recipe(model, dataset, directions, grid, loss, compute, measures)


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


def _method(c: dict, line: bool) -> str:
    if c["method"]:
        return str(c["method"])
    if c["pca"]:
        return "pca"
    if c["checkpoint2"]:
        return "target"
    if c["directions"]:
        return "file"
    if c["demo"] and line:
        return "target"  # the demo's line is its small- vs large-batch interpolation
    return "random"


def _base(c: dict, method: str, line: bool) -> Recipe | None:
    """The demo recipe the choices start from, if the demo is the source."""
    if not c["demo"]:
        return None
    from lossviz_core import demo

    if c["model"] or c["run"]:
        raise InputError("--demo brings its own model: drop --model / --run")
    kind = {"pca": "pca", "target": "line"}.get(method, "surface")
    return demo.recipe(kind)


def _model_and_data(c: dict, method: str, base: Recipe | None) -> tuple[ModelSpec, DatasetSpec]:
    run_dir = c["pca"] if method == "pca" else c["run"]
    if method == "pca" and not run_dir and base is not None:
        run_dir = base.directions.pca_run
    if method == "pca" and not run_dir:
        raise InputError("the PCA plane needs a training run folder (--pca RUN_DIR)")
    run = None
    if run_dir:
        from lossviz_core.train.runs import read_run

        if method == "pca" and (c["checkpoint"] or c["directions"]):
            raise InputError("--pca centres the plane on the run's final checkpoint with its "
                             "own directions: drop --checkpoint / --directions")
        run = read_run(existing(run_dir, "run folder"))
    if run is not None:
        model = ModelSpec(c["model"] or run.model_name, str(run.final_checkpoint.resolve()))
    elif base is not None:
        model = base.model
    elif c["model"]:
        model = ModelSpec(absolute_model_name(str(c["model"])))
    else:
        raise InputError("choose a model: --demo, or --model NAME --checkpoint FILE")
    if c["checkpoint"]:
        model = model.replace(checkpoint=existing(c["checkpoint"], "checkpoint"))
    if c["pretrained"] and c["num_classes"]:
        raise InputError("pretrained weights fix the number of classes: drop --num-classes "
                         "(or load your own --checkpoint instead of --pretrained)")
    model = model.replace(
        pretrained=c["pretrained"] or None,
        download=bool(c["pretrained"] or c["download"]),  # choosing weights asks for them
        output=None if c["output"] in (None, "") else str(c["output"]),
        num_classes=int(c["num_classes"]) if c["num_classes"] else None,
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
    dataset = dataset.replace(
        **extra, size=c["image_size"], cache=c["data_cache"],
        mean=_floats(c["mean"], "mean"), std=_floats(c["std"], "std"),
        download=bool(c["download"] or dataset.download),
    )
    return model, dataset


def _directions(c: dict, method: str, base: Recipe | None, model: ModelSpec) -> DirectionSpec:
    b = base.directions if base is not None and base.directions.method == method else None
    dir_type = c["dir_type"] or (b.dir_type if b else ("states" if method == "target"
                                                         else "weights"))
    target = c["checkpoint2"] or (b.target_checkpoint if b else None)
    if method == "target" and not target:
        raise InputError("the interpolation needs checkpoint B (--checkpoint2 FILE)")
    pca_run = None
    if method == "pca":
        pca_run = str(Path(c["pca"] or b.pca_run).expanduser().resolve())
    if method == "file" and not c["directions"]:
        raise InputError("the file method needs a direction file (--directions FILE)")
    file = existing(c["directions"], "direction file") if method == "file" else None
    return DirectionSpec(
        method=method, dir_type=dir_type, xnorm=c["xnorm"], ynorm=c["ynorm"] or c["xnorm"],
        xignore=c["xignore"], yignore=c["yignore"] or c["xignore"], seed=int(c["seed"]),
        target_checkpoint=existing(target, "checkpoint B") if target else None,
        pca_run=pca_run, file=file,
    )


def _grid(c: dict, method: str, line: bool, base: Recipe | None) -> GridSpec:
    same = base is not None and base.is_line == line and base.directions.method == method
    # a PCA plane fits its ranges to the trajectory unless the user gave them (or said no)
    fit = c["fit_ranges"]
    if fit is None:
        fit = method == "pca" and c["x"] is None and c["y"] is None and not same
    fit = bool(fit) and method == "pca"
    if line:
        default = base.grid.x if same else (
            INTERPOLATION_RANGE if method == "target" else LINE_RANGE)
        return GridSpec(x=_range(c["x"]) or default, y=None, fit=fit)
    bx, by = (base.grid.x, base.grid.y) if same else (SURFACE_RANGE, SURFACE_RANGE)
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


def absolute_model_name(name: str) -> str:
    """Paths inside a model name made absolute (Python files and archives)."""
    from lossviz_core.sources.usercode import is_function_ref, split_ref

    if is_function_ref(name):
        path, func = split_ref(name)
        return f"{existing(path, 'model file')}:{func}"
    for prefix in _ARCHIVE_PREFIXES:
        if name.startswith(prefix):
            return prefix + existing(name[len(prefix):], "archive")
    if name.endswith((".pt2", ".pt", ".pth", ".jit", ".ts", ".zip")) and Path(name).expanduser().exists():
        return existing(name, "archive")
    return name


def absolute_dataset_name(name: str) -> str:
    """Paths inside a dataset name made absolute (.npz files, image folders, Python files)."""
    from lossviz_core.sources.usercode import is_function_ref, split_ref

    if is_function_ref(name):
        path, func = split_ref(name)
        return f"{existing(path, 'dataset file')}:{func}"
    for prefix, what in (("tensors:", "tensors file"), ("imagefolder:", "image folder")):
        if name.startswith(prefix):
            return prefix + existing(name[len(prefix):], what)
    return name


def _loss_name(name: str) -> str:
    from lossviz_core.sources.usercode import is_function_ref, split_ref

    if is_function_ref(name):
        path, func = split_ref(name)
        return f"{existing(path, 'loss file')}:{func}"
    return str(name)


def _zoo_dataset(model: str) -> str:
    """The dataset a zoo model was made for; any other model needs one named."""
    from lossviz_core.models import _REGISTRY

    entry = _REGISTRY.get(model.removeprefix("zoo:"))
    if entry is None:
        raise InputError(f"choose the data the loss is measured on (--dataset NAME): model "
                         f"{model} is not from the zoo, so it has no dataset of its own")
    return entry[0].dataset


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
        "yignore": dirs.yignore, "seed": dirs.seed, "checkpoint2": dirs.target_checkpoint,
        "directions": dirs.file, "x": g.x, "y": g.y, "fit_ranges": g.fit,
        "device": recipe.compute.device, "precision": recipe.compute.precision,
        "batch_size": recipe.compute.batch_size, "compile": recipe.compute.compile,
        "multi": recipe.compute.multi, "measure": list(recipe.measures),
    }
    if dirs.method == "pca":
        out["pca"] = dirs.pca_run
        out["checkpoint"] = None  # the run's final checkpoint, found again from the run
    return out


def downloads_as_asked(recipe: Recipe, download: bool = False,
                       pretrained: bool = False) -> Recipe:
    """``recipe`` as read from a file (a result, a study, a figure) with the right to download
    only what this command asked for: data and weights with ``download``, the weights with
    ``pretrained`` too. A file never grants it by itself."""
    return recipe.replace(model=recipe.model.replace(download=bool(download or pretrained)),
                          dataset=recipe.dataset.replace(download=bool(download)))
