"""Frozen specifications and the :class:`Recipe`: everything needed to reproduce a result.

A recipe names the model source, the dataset, the directions, the grid (ranges), the loss
(function and split), how to compute (device, precision, batch, compile, multi-point) and
the measures to compute. It is JSON-able (``to_dict`` / ``from_dict``) and picklable; a
result file stores it, and ``--resume``, ``lossviz info``, the GUI's *Open result* and a
notebook rebuild the same job from it alone. The range syntax ``min:max:num`` (as the
reference CLI, e.g. ``-1:1:51``) is parsed here and only here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from lossviz_core.errors import InputError
from lossviz_core.recipe.seeds import MAX_SEEDS

T = TypeVar("T", bound="_Spec")

NORMS = ("filter", "layer", "weight", "dfilter", "dlayer", "none")
# biasbn: biases and norm layers (every 1-D tensor: BatchNorm, LayerNorm, RMSNorm) get no
# direction; ``biasnorm`` says the same and is stored as ``biasbn`` (the reference's word)
IGNORES = ("biasbn", "biasnorm", "none")
IGNORE_HELP = ("biasbn (or biasnorm): biases and norm layers (BatchNorm, LayerNorm, RMSNorm: "
               "every 1-D tensor) stay at θ; none: the direction there is θ itself")
DIR_TYPES = ("weights", "states")
SPLITS = ("train", "test", "both")
PRECISIONS = ("auto", "bf16", "fp32")
COMPILE_MODES = ("auto", "off", "default", "max-autotune", "max-autotune-no-cudagraphs")
MULTI_MODES = ("auto", "on", "off")
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
TRANSFORMS = ("auto", "cifar", "imagenet", "none")
DATA_CACHES = ("auto", "device", "host", "stream")
RECIPE_VERSION = 2
MAX_SEED = 2**31 - 1  # the window's seed box (a Qt int) holds no more
# direction parameters that say how the directions are kept, not which they are (a seeded
# plane computes the stored plane's values): left out of Recipe.landscape_key()
KEEPING_PARAMS = ("dir_storage",)


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for what specs and infos hold: numpy values, tuples, devices."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, (np.ndarray, tuple)):
        return list(np.asarray(o).tolist())
    return str(o)


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON types (what a result file stores)."""
    return json.loads(json.dumps(obj, default=json_default))


def canonical_ignore(ignore: str) -> str:
    """The ignore rule as a recipe stores it: ``biasnorm`` is ``biasbn``."""
    return "biasbn" if ignore == "biasnorm" else ignore


def check_seed(name: str, value: Any) -> int:
    """``value`` as a seed, InputError unless a whole number in 0 .. MAX_SEED."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer)) or \
            not float(value).is_integer() or not 0 <= value <= MAX_SEED:
        raise InputError(f"{name} must be a whole number from 0 to {MAX_SEED}, got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, allowed: tuple) -> None:
    """InputError naming ``name`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise InputError(f"unknown {name} {value!r}; choose one of {', '.join(map(str, allowed))}")


def _shown(v: Any) -> str:
    kind = {bool: "true/false", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object", type(None): "null"}.get(type(v), type(v).__name__)
    text = json.dumps(v, default=str) if isinstance(v, (str, int, float, bool)) else ""
    return f"{kind} {text}" if text and len(text) <= 40 else kind


def _is(v: Any, kind: str) -> bool:
    """Whether ``v`` is of the annotation ``kind`` (one part of ``A | B``); names this
    module does not check (nested specs, Any) pass."""
    number = isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind.startswith("tuple["):
        inner = kind[len("tuple["):-1].split(",")[0].strip()
        return isinstance(v, (list, tuple)) and all(_is(t, inner) for t in v)
    if kind.startswith("dict["):
        return isinstance(v, dict)
    return {"str": isinstance(v, str), "bool": isinstance(v, bool), "float": number,
            "int": number and float(v).is_integer(), "None": v is None}.get(kind, True)


def _check_type(key: str, v: Any, annotation: str) -> None:
    kinds = [k.strip() for k in annotation.split("|")]
    if not any(_is(v, k) for k in kinds):
        words = {"str": "a string", "int": "a whole number", "float": "a number",
                 "bool": "true or false", "None": "null", "dict[str, Any]": "an object"}
        lists = {"str": "strings", "int": "whole numbers", "float": "numbers"}
        want = " or ".join(
            f"a list of {lists.get(k[6:-1].split(',')[0].strip(), 'values')}"
            if k.startswith("tuple[") else words.get(k, k) for k in kinds)
        raise InputError(f"{key}: expected {want}, got {_shown(v)}")


def _checked(make: Any, where: str, *args: Any, **kwargs: Any) -> Any:
    """``make(...)``, its errors one line prefixed with the key path ``where``."""
    try:
        return make(*args, **kwargs)
    except InputError as exc:
        raise InputError(f"{where}: {exc}" if where and not str(exc).startswith(where)
                         else str(exc)) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{where or getattr(make, '__name__', 'value')}: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                         ) from None


class _Spec:
    """Mixin: dict round-trip for frozen dataclasses (nested specs included)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, _Spec) else (
                list(v) if isinstance(v, tuple) else v
            )
        return out

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any] | None, where: str = "") -> T:
        """The spec a dict (from JSON or TOML) describes; keys it does not know are ignored
        (a later version's). A wrong type or value is one :class:`InputError` naming the key
        as the file spells it (``where``: the dict's own key path, e.g. ``recipe.model``)."""
        if d is None:
            d = {}
        if not isinstance(d, dict):
            raise InputError(f"{where or cls.__name__}: expected an object of "
                             f"{cls.__name__} fields, got {_shown(d)}")
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in d:
                continue
            v = d[f.name]
            key = f"{where}.{f.name}" if where else f.name
            sub = _NESTED.get((cls.__name__, f.name))
            if sub is not None and isinstance(v, dict):
                v = sub.from_dict(v, key)
            elif sub is not None and isinstance(v, str) and hasattr(sub, "parse"):
                v = _checked(sub.parse, key, v)  # type: ignore[attr-defined]
            elif sub is not None and not isinstance(v, sub) and not (v is None and "None" in
                                                                     str(f.type)):
                raise InputError(f"{key}: expected an object of {sub.__name__} fields, "
                                 f"got {_shown(v)}")
            else:
                _check_type(key, v, str(f.type))
                if isinstance(v, list):
                    v = tuple(v)
            kwargs[f.name] = v
        return _checked(cls, where, **kwargs)

    @classmethod
    def _legacy(cls, d: dict[str, Any], moved: dict[str, tuple[str, str]]) -> dict[str, Any]:
        """``d`` with fields of earlier versions moved into a dict field: ``moved`` maps an
        old key to ``(dict field, key)``."""
        d = dict(d or {})
        for old, (into, key) in moved.items():
            if old in d:
                value = d.pop(old)
                if value is not None:
                    d[into] = {**(d.get(into) or {}), key: value}
        return d

    def replace(self: T, **changes: Any) -> T:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class Range(_Spec):
    """An inclusive 1-D coordinate range: ``num`` points from ``min`` to ``max``."""

    min: float = -1.0
    max: float = 1.0
    num: int = 21

    def __post_init__(self) -> None:
        if not (np.isfinite(self.min) and np.isfinite(self.max)):
            raise InputError(f"range bounds must be finite numbers, got {self.min}:{self.max}")
        if int(self.num) != self.num or self.num < 1:
            raise InputError(f"range needs a whole number of points >= 1, got {self.num}")
        if self.num > 1 and not self.max > self.min:
            raise InputError(f"range max must be greater than min, got {self.min}:{self.max}")
        object.__setattr__(self, "num", int(self.num))
        object.__setattr__(self, "min", float(self.min))
        object.__setattr__(self, "max", float(self.max))

    @classmethod
    def parse(cls, text: str) -> Range:
        """Parse ``'min:max:num'`` (e.g. ``'-1:1:51'``)."""
        parts = str(text).strip().split(":")
        if len(parts) != 3:
            raise InputError(f"malformed range {text!r}: expected MIN:MAX:NUM, e.g. -1:1:51")
        try:
            lo, hi = float(parts[0]), float(parts[1])
            num = int(parts[2])
        except ValueError:
            raise InputError(
                f"malformed range {text!r}: expected MIN:MAX:NUM with numbers, e.g. -1:1:51"
            ) from None
        return cls(lo, hi, num)

    def values(self) -> np.ndarray:
        """The coordinates, ``numpy.linspace(min, max, num)``."""
        return np.linspace(self.min, self.max, self.num)

    def __str__(self) -> str:
        return f"{self.min:g}:{self.max:g}:{self.num}"


# Choices that grant a right (to download, to run code a model ships): the user's on this
# command line or in the window, held by the specs' own fields, never a source's options,
# so no file (a result, a study, a figure) can carry them in.
GRANTS = ("download", "allow_code")


def _without_grants(options: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in dict(options or {}).items() if k not in GRANTS}


@dataclass(frozen=True)
class ModelSpec(_Spec):
    """A model source and the checkpoint to load into it (``None``: as the source gives it).

    ``name``: a zoo name (``resnet56``), ``torchvision:NAME``, ``timm:NAME``,
    ``FILE.py:FUNCTION``, ``torchscript:FILE``, ``export:FILE.pt2``, or a bare path to a
    TorchScript or ``torch.export`` archive. ``pretrained``: torchvision/timm weights to
    start from (``DEFAULT`` or a weights name; downloaded only when asked for).
    ``output``: the index or key of the logits when the forward returns a tuple or dict.
    ``num_classes``: the output size when neither the checkpoint nor the data says it.
    ``download``: the pretrained weights (or a hub model) may be downloaded (the user asked,
    on this command line or with the window's button); ``allow_code``: code the model ships
    (an ``hf:`` model's own modules) may run. Neither is part of what the model is (ignored
    by ``==`` and the keys), and a source's options never hold them (:data:`GRANTS`).
    """

    name: str = "digits_cnn"
    checkpoint: str | None = None
    pretrained: str | None = None
    output: str | None = None
    num_classes: int | None = None
    options: dict[str, Any] = field(default_factory=dict)  # the source's own parameters
    download: bool = field(default=False, compare=False)
    allow_code: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.num_classes is not None and int(self.num_classes) < 1:
            raise InputError(f"number of classes must be >= 1, got {self.num_classes}")
        object.__setattr__(self, "options", _without_grants(self.options))


@dataclass(frozen=True)
class DatasetSpec(_Spec):
    """What to evaluate on.

    ``name``: ``digits`` | ``cifar10`` | ``tensors:FILE.npz`` | ``torchvision:NAME`` |
    ``imagefolder:DIR`` | ``FILE.py:FUNCTION``. ``subsample``: a seeded random
    ``subsample`` examples of each split (``None``: all). ``transform`` (images decoded
    from files): ``auto`` (the dataset's usual normalization), ``cifar``, ``imagenet``,
    ``none`` (to a tensor in [0, 1]); ``size`` / ``mean`` / ``std`` override it.
    ``cache``: where decoded examples live (``auto``: on the device if they fit, else in
    host memory if they fit there, else streamed through a DataLoader every pass).
    ``download``: a missing data set may be downloaded (the user asked, on this command line
    or with the window's button); not part of what the data is (ignored by ``==``).
    """

    name: str = "digits"
    root: str | None = None
    download: bool = field(default=False, compare=False)
    subsample: int | None = None
    subsample_seed: int = 0
    transform: str = "auto"
    size: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    cache: str = "auto"
    workers: int | None = None
    options: dict[str, Any] = field(default_factory=dict)  # the data kind's own parameters

    def __post_init__(self) -> None:
        object.__setattr__(self, "subsample_seed", check_seed("subsample seed",
                                                             self.subsample_seed))
        object.__setattr__(self, "options", _without_grants(self.options))
        check_choice("transform", self.transform, TRANSFORMS)
        check_choice("data cache", self.cache, DATA_CACHES)
        if self.subsample is not None and int(self.subsample) < 1:
            raise InputError(f"subsample must be >= 1 examples, got {self.subsample}")
        if self.size is not None and int(self.size) < 1:
            raise InputError(f"image size must be >= 1 pixel, got {self.size}")
        for key in ("mean", "std"):
            v = getattr(self, key)
            if v is not None:
                object.__setattr__(self, key, tuple(float(t) for t in v))
        if self.std is not None and any(s <= 0 for s in self.std):
            raise InputError(f"std must be positive, got {self.std}")


@dataclass(frozen=True)
class DirectionSpec(_Spec):
    """How d₁ (and d₂) are made.

    ``method``: a registered direction method (``lossviz_core.directions``): ``random``
    (seeded Gaussian, normalized), ``target`` (d = θ_B − θ_A), ``pca`` (top two PCs of a
    run folder's trajectory), ``file`` (an HDF5 direction file in the reference layout), ...
    The normalization, ignore rule, ``dir_type`` and seed are the paper's vocabulary shared
    by the methods; ``params`` holds what one method owns (the interpolation's
    ``checkpoint``, the PCA plane's ``run``, the direction ``file``), as its entry declares.
    ``seeds``: the same landscape for each of these direction seeds (``seed`` is the first),
    stored each and as their mean and standard deviation (:mod:`lossviz_core.run.seeds`).
    """

    method: str = "random"
    dir_type: str = "weights"
    xnorm: str = "filter"
    ynorm: str = "filter"
    xignore: str = "biasbn"
    yignore: str = "biasbn"
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = ()  # several seeds: one landscape each, their mean and spread

    # fields of the first recipe versions, now parameters of their methods
    LEGACY = {"target_checkpoint": ("params", "checkpoint"), "pca_run": ("params", "run"),
              "file": ("params", "file")}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, where: str = "") -> DirectionSpec:
        if not isinstance(d, (dict, type(None))):
            return super().from_dict(d, where)  # one line saying what it is instead
        return super().from_dict(cls._legacy(d or {}, cls.LEGACY), where)

    def param(self, name: str, default: Any = None) -> Any:
        """The method's parameter ``name`` (``default`` when not given)."""
        return self.params.get(name, default)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if not self.seeds:  # one seed: the recipe (and its keys) as before seeds existed
            d.pop("seeds")
        return d

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", check_seed("seed", self.seed))
        object.__setattr__(self, "params", dict(self.params or {}))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds or ()))
        if len(self.seeds) > MAX_SEEDS:  # a file's list: each would be a landscape to make
            raise InputError(f"seeds: {len(self.seeds)} direction seeds; at most {MAX_SEEDS}")
        for s in self.seeds:
            check_seed("seed", s)
        if self.seeds and len(set(self.seeds)) != len(self.seeds):
            raise InputError(f"seeds repeat: {', '.join(map(str, self.seeds))}")
        for name, value, allowed in (
            ("dir_type", self.dir_type, DIR_TYPES),
            ("xnorm", self.xnorm, NORMS),
            ("ynorm", self.ynorm, NORMS),
            ("xignore", self.xignore, IGNORES),
            ("yignore", self.yignore, IGNORES),
        ):
            check_choice(name, value, allowed)
        object.__setattr__(self, "xignore", canonical_ignore(self.xignore))
        object.__setattr__(self, "yignore", canonical_ignore(self.yignore))


@dataclass(frozen=True)
class GridSpec(_Spec):
    """The α (and β) ranges. ``y is None`` means a 1-D line.

    ``fit``: fit the ranges to the plane's trajectory (a PCA plane) with a margin, keeping the
    point counts; the prepared job's recipe holds the fitted ranges (``fit`` False), so a
    result file always records the grid it has."""

    x: Range = field(default_factory=lambda: Range(-1.0, 1.0, 21))
    y: Range | None = field(default_factory=lambda: Range(-1.0, 1.0, 21))
    fit: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape: ``(ny, nx)`` for a surface, ``(nx,)`` for a line."""
        return (self.x.num,) if self.y is None else (self.y.num, self.x.num)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True)
class LossSpec(_Spec):
    """The loss L: a function (``ce`` | ``nll`` | ``mse`` | ``bce`` | ``FILE.py:FUNCTION``)
    summed over a split (``train`` | ``test`` | ``both``)."""

    name: str = "ce"
    split: str = "train"
    label_smoothing: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)  # the loss's own parameters

    def __post_init__(self) -> None:
        from lossviz_core.registry import LOSSES

        object.__setattr__(self, "params", dict(self.params or {}))
        check_choice("split", self.split, SPLITS)
        LOSSES.get(self.name)  # a one-line error listing the losses
        if not 0.0 <= float(self.label_smoothing) < 1.0:
            raise InputError(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.label_smoothing and self.name != "ce":
            raise InputError("label smoothing applies to the cross-entropy loss (ce) only")

    @property
    def splits(self) -> tuple[str, ...]:
        return ("train", "test") if self.split == "both" else (self.split,)


@dataclass(frozen=True)
class ComputeSpec(_Spec):
    """How to compute: device, precision, batch size, ``torch.compile``, multi-point and
    the memory format of image inputs (auto: channels_last on CUDA, the faster on the CPU)."""

    device: str = "auto"
    precision: str = "auto"
    batch_size: int | None = None
    compile: str = "auto"
    multi: str = "auto"
    memory_format: str = "auto"

    def __post_init__(self) -> None:
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("compile", self.compile, COMPILE_MODES)
        check_choice("multi-point mode", self.multi, MULTI_MODES)
        check_choice("memory format", self.memory_format, MEMORY_FORMATS)
        if self.batch_size is not None and int(self.batch_size) < 1:
            raise InputError(f"batch size must be >= 1, got {self.batch_size}")


@dataclass(frozen=True)
class Recipe(_Spec):
    """Everything that makes one result: ``prepare(recipe)`` rebuilds the same job."""

    model: ModelSpec = field(default_factory=ModelSpec)
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    directions: DirectionSpec = field(default_factory=DirectionSpec)
    grid: GridSpec = field(default_factory=GridSpec)
    loss: LossSpec = field(default_factory=LossSpec)
    compute: ComputeSpec = field(default_factory=ComputeSpec)
    measures: tuple[str, ...] = ("loss",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "measures", tuple(self.measures))
        if not self.measures:
            raise InputError("a recipe needs at least one measure (e.g. loss)")

    @property
    def is_line(self) -> bool:
        return self.grid.y is None

    def landscape_key(self) -> str:
        """One definition of "the same landscape": recipes with equal keys make the same
        values, however they are computed (``compute``: device, precision, batch, compile,
        multi-point). Ranges still to be fitted to a trajectory count by their point counts
        only, whatever the panels showed before the fit."""
        d = _identity(self.to_dict())
        d.pop("compute")
        for how in KEEPING_PARAMS:  # how the directions are kept, not what they are
            d["directions"]["params"].pop(how, None)
        if self.grid.fit:
            d["grid"] = {"fit": True, "x": self.grid.x.num,
                         "y": None if self.grid.y is None else self.grid.y.num}
        return _digest(d)

    def workspace_key(self) -> str:
        """One definition of "the same workspace": recipes with equal keys share the model,
        data and directions on one device, so a zoom, another split, precision or measure
        needs no reloading (``Job.with_recipe``)."""
        d = _identity({"model": self.model.to_dict(), "dataset": self.dataset.to_dict()})
        return _digest({**d, "directions": self.directions.to_dict(), "line": self.is_line,
                        "device": self.compute.device})

    def to_dict(self) -> dict[str, Any]:
        return {"version": RECIPE_VERSION, **super().to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_specs(cls, specs: dict[str, Any] | None) -> Recipe | None:
        """The recipe a result file's specs hold (this version's or the first version's
        ``model``/``dataset``/``directions``/``surface`` layout); None when there is none."""
        specs = specs or {}
        if "recipe" in specs:
            return cls.from_dict(specs["recipe"], "recipe")
        if not any(k in specs for k in ("model", "dataset", "directions", "surface")):
            return None
        s = specs.get("surface") or {}
        if not isinstance(s, dict):
            raise InputError(f"surface: expected an object, got {_shown(s)}")
        grid = GridSpec.from_dict({k: s[k] for k in ("x", "y") if k in s}, "surface")
        loss = _checked(LossSpec, "surface", **{k2: s[k1] for k1, k2 in (("loss", "name"),
                                                                          ("split", "split"))
                                                 if k1 in s})
        compute = ComputeSpec.from_dict(
            {k: s[k] for k in ("device", "precision", "batch_size") if k in s}, "surface"
        )
        return cls(
            model=ModelSpec.from_dict(specs.get("model"), "model"),
            dataset=DatasetSpec.from_dict(specs.get("dataset"), "dataset"),
            directions=DirectionSpec.from_dict(specs.get("directions"), "directions"),
            grid=grid, loss=loss, compute=compute,
        )


def _identity(d: dict[str, Any]) -> dict[str, Any]:
    """A recipe's dict without the user's grants (not what the model or data is)."""
    return {**d, **{k: {f: v for f, v in d[k].items() if f not in GRANTS}
                    for k in ("model", "dataset")}}


def _digest(d: dict[str, Any]) -> str:
    text = json.dumps(d, sort_keys=True, default=json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


_NESTED: dict[tuple[str, str], type[_Spec]] = {
    ("GridSpec", "x"): Range,
    ("GridSpec", "y"): Range,
    ("Recipe", "model"): ModelSpec,
    ("Recipe", "dataset"): DatasetSpec,
    ("Recipe", "directions"): DirectionSpec,
    ("Recipe", "grid"): GridSpec,
    ("Recipe", "loss"): LossSpec,
    ("Recipe", "compute"): ComputeSpec,
}
