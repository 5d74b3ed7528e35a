"""The keys a study entry may hold, their types, and one check per value.

A model entry holds :class:`~lossviz_core.train.loop.TrainSpec`'s fields (``model``,
``optimizer``, ``lr``, ..., ``dataset`` as a name or a table of
:class:`~lossviz_core.recipe.spec.DatasetSpec` fields) and ``init``. A result entry holds
the resolver's choices (:data:`~lossviz_core.resolve.CHOICES`, the CLI's flag names:
``method``, ``x``, ``y``, ``seed``, ``subsample``, ``split``, ...) with ``model`` /
``model_b`` naming the study's models (``run`` / ``pca``: a run folder made elsewhere).
A figure entry holds :class:`~lossviz_core.export.figure.FigureOptions`' fields and its
layout. Each value is
checked alone, by the spec class that will hold it, so an error names the one key at fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lossviz_core.errors import InputError
from lossviz_core.studies.toml_text import KeyPath, Source

STR, INT, FLOAT, BOOL = "a string", "a whole number", "a number", "true or false"
INTS, FLOATS, STRS = "a list of whole numbers", "a list of numbers", "a list of strings"

MODEL_KEYS: dict[str, Any] = {
    "model": STR, "init": STR, "dataset": (STR, "a table"), "optimizer": STR, "lr": FLOAT,
    "momentum": FLOAT, "nesterov": BOOL, "weight_decay": FLOAT, "schedule": STR,
    "step_epochs": INTS, "gamma": FLOAT, "batch_size": INT, "epochs": INT, "save_every": INT,
    "seed": INT, "init_checkpoint": STR, "augment": STR, "device": STR, "precision": STR,
    "loss": STR,
}
DATASET_KEYS: dict[str, Any] = {
    "name": STR, "root": STR, "download": BOOL, "subsample": INT, "subsample_seed": INT,
    "transform": STR, "size": INT, "mean": FLOATS, "std": FLOATS, "cache": STR, "workers": INT,
}
CORE_RESULT_KEYS: dict[str, Any] = {
    "model": STR, "model_b": STR, "checkpoint": STR, "pretrained": STR, "output": (STR, INT),
    "model_c": STR, "seeds": (STR, INT, INTS),
    "num_classes": INT, "dataset": STR, "data_root": STR, "download": BOOL, "subsample": INT,
    "subsample_seed": INT, "transform": STR, "image_size": INT, "mean": FLOATS, "std": FLOATS,
    "data_cache": STR, "workers": INT, "split": STR, "loss": STR, "label_smoothing": FLOAT,
    "line": BOOL, "method": STR, "dir_type": STR, "xnorm": STR, "ynorm": STR, "xignore": STR,
    "yignore": STR, "seed": INT, "x": STR, "y": STR,
    "device": STR, "precision": STR, "batch_size": INT, "compile": STR, "multi": STR,
    "memory_format": STR,
    "measure": (STR, STRS), "fit_ranges": BOOL, "run": STR,
}
_KIND_TYPES = {"int": INT, "float": (INT, FLOAT), "bool": BOOL, "floats": (FLOATS, STR)}


def entry_params() -> dict[str, Any]:
    """``{study key: Param}`` of every parameter a registered entry declares (the
    interpolation's ``checkpoint2``, the PCA plane's ``pca``, a data kind's options, ...)."""
    from lossviz_core.resolve import entry_choices

    return {ec.key: ec.param for ec in entry_choices()}


def result_keys() -> dict[str, Any]:
    """The keys a result entry may hold and their types: the resolver's choices."""
    extra = {k: _KIND_TYPES.get(p.kind, STR) for k, p in entry_params().items()}
    return {**CORE_RESULT_KEYS, **extra}


def path_keys() -> tuple[str, ...]:
    """Result keys that hold a path (made relative to the study file's folder)."""
    own = (k for k, p in entry_params().items() if p.is_path)
    return ("checkpoint", "data_root", "run", *own)
FIGURE_KEYS: dict[str, Any] = {
    "results": (STR, STRS), "rows": (INT, STR), "cols": (INT, STR), "mode": STR,
    "titles": STRS, "formats": STRS, "kind": STR, "quantity": STR, "width": FLOAT,
    "height": FLOAT, "dpi": FLOAT, "levels": (INT, FLOATS), "vmin": FLOAT, "vmax": FLOAT,
    "colormap": STR, "log": BOOL, "title": STR, "trajectory": BOOL, "colorbar": BOOL,
    "partial": BOOL, "font_size": FLOAT,
}
FIGURE_MODES = ("2d", "3d", "lines", "difference")
# names become files and folders of the output (DIR/runs/NAME-KEY, DIR/figures/NAME.png):
# no separators, no "..", no absolute paths
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=@ -]{0,99}")
FIGURE_FORMATS = ("png", "pdf", "svg")


def check_type(src: Source, path: KeyPath, value: Any, expected: Any) -> None:
    """One-line error unless ``value`` is of (one of) the ``expected`` kinds."""
    kinds = expected if isinstance(expected, tuple) else (expected,)
    if any(_is(value, k) for k in kinds):
        return
    want = " or ".join(kinds)
    raise src.error(path, f"expected {want}, got {_shown(value)}")


def check_keys(src: Source, path: KeyPath, table: dict[str, Any], allowed: dict[str, Any],
               extra: tuple[str, ...] = ()) -> None:
    """Unknown keys and wrongly typed values of ``table`` (at ``path``) are errors."""
    for key, value in table.items():
        if key in extra:
            continue
        if key not in allowed:
            raise src.error(path + (key,), f"unknown key; {_choices(allowed, extra)}")
        check_type(src, path + (key,), value, allowed[key])


def check_name(src: Source, path: KeyPath, name: str, what: str) -> None:
    """One-line error unless ``name`` is safe as a file name (it names the entry's output)."""
    if not SAFE_NAME.fullmatch(name) or name.endswith((" ", ".")):
        raise src.error(path, f"{what} name {name!r} is not usable as a file name: use up to "
                        "100 letters, digits, spaces and _ . - + = @, starting with a letter, "
                        "digit or _ (it names the output's files)")


def check_value(src: Source, path: KeyPath, check: Callable[[], Any]) -> Any:
    """Run a spec's own validation; its one-line InputError is reported at ``path``."""
    try:
        return check()
    except InputError as exc:
        raise src.error(path, str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise src.error(path, str(exc).splitlines()[0]) from None


def result_check(key: str, value: Any) -> Callable[[], Any] | None:
    """The spec class that validates result key ``key`` alone (None: types suffice)."""
    from lossviz_core.recipe import spec as s
    from lossviz_core.recipe.seeds import parse_seeds

    direction = ("dir_type", "xnorm", "ynorm", "xignore", "yignore")
    checks: dict[str, Callable[[], Any]] = {
        "x": lambda: s.Range.parse(value), "y": lambda: s.Range.parse(value),
        "split": lambda: s.LossSpec(split=value), "loss": lambda: s.LossSpec(name=value),
        "label_smoothing": lambda: s.LossSpec(label_smoothing=value),
        "transform": lambda: s.DatasetSpec(transform=value),
        "data_cache": lambda: s.DatasetSpec(cache=value),
        "subsample": lambda: s.DatasetSpec(subsample=value),
        "image_size": lambda: s.DatasetSpec(size=value),
        "method": lambda: _direction_method(value), "measure": lambda: _measures(value),
        "seeds": lambda: parse_seeds(value),
    }
    if key in direction:
        return lambda: s.DirectionSpec(**{key: value})
    if key in ("precision", "compile", "multi", "memory_format", "batch_size"):
        return lambda: s.ComputeSpec(**{key: value})
    param = entry_params().get(key)
    if param is not None:
        return lambda: param.coerce(value, absolute=False)
    return checks.get(key)


def train_check(key: str, value: Any) -> Callable[[], Any] | None:
    """Validate TrainSpec field ``key`` alone (the rest at their defaults); None for the
    keys checked elsewhere (``dataset``: its own table; ``init``: a study model)."""
    from lossviz_core.sources.registry import model_source
    from lossviz_core.train.loop import TrainSpec

    if key in ("dataset", "init"):
        return None
    if key == "model":
        return lambda: model_source(value)
    return lambda: TrainSpec(**{key: value})


def figure_check(key: str, value: Any) -> Callable[[], Any] | None:
    from lossviz_core.export.figure import FigureOptions

    if key == "mode":
        return lambda: _one_of("figure mode", value, FIGURE_MODES)
    if key == "formats":
        return lambda: [_one_of("figure format", f, FIGURE_FORMATS) for f in value]
    if key in ("results", "rows", "cols", "titles"):
        return None
    return lambda: FigureOptions(**{key: tuple(value) if isinstance(value, list) else value})


def local_path(text: str, folder: Path) -> str:
    """A path written in a study file, relative to the file's folder, made absolute."""
    p = Path(text).expanduser()
    return str(p if p.is_absolute() else (folder / p).resolve())


def local_model(name: str, folder: Path) -> str:
    """A model name with the files it names made absolute, relative to ``folder``."""
    from lossviz_core.resolve import absolute_model_name

    return absolute_model_name(name, folder, check=False)


def local_dataset(name: str, folder: Path) -> str:
    """A dataset name with the files it names made absolute, relative to ``folder``."""
    from lossviz_core.resolve import absolute_dataset_name

    return absolute_dataset_name(name, folder, check=False)


def local_loss(name: str, folder: Path) -> str:
    """A loss name with the Python file it names made absolute, relative to ``folder``."""
    from lossviz_core.usercode import is_function_ref, split_ref

    if is_function_ref(name):
        path, func = split_ref(name)
        return f"{local_path(str(path), folder)}:{func}"
    return name


def _direction_method(name: str) -> Any:
    import lossviz_core.directions  # noqa: F401  (registers the built-in methods)
    from lossviz_core.directions.base import direction_method

    return direction_method(name)


def _measures(value: Any) -> Any:
    from lossviz_core.measures.base import measure_kind

    return [measure_kind(m) for m in ([value] if isinstance(value, str) else value)]


def _one_of(what: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise InputError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
    return value


def _is(value: Any, kind: str) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return {
        STR: isinstance(value, str),
        INT: isinstance(value, int) and not isinstance(value, bool),
        FLOAT: number,
        BOOL: isinstance(value, bool),
        INTS: isinstance(value, list) and all(_is(v, INT) for v in value),
        FLOATS: isinstance(value, list) and all(_is(v, FLOAT) for v in value),
        STRS: isinstance(value, list) and all(isinstance(v, str) for v in value),
        "a table": isinstance(value, dict),
    }[kind]


def _shown(value: Any) -> str:
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} {text}" if len(text) <= 40 else kind


def _choices(allowed: dict[str, Any], extra: tuple[str, ...]) -> str:
    return "allowed: " + ", ".join(sorted((*allowed, *extra)))
