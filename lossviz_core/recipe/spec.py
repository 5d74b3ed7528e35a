"""Frozen specifications: everything needed to reproduce a figure.

Every spec has ``to_dict()`` / ``from_dict()``; a result file stores them as JSON.
The range syntax ``min:max:num`` (as the reference CLI, e.g. ``-1:1:51``) is parsed
here and only here.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from lossviz_core.errors import InputError

T = TypeVar("T", bound="_Spec")

NORMS = ("filter", "layer", "weight", "dfilter", "dlayer", "none")
IGNORES = ("biasbn", "none")
DIR_TYPES = ("weights", "states")
METHODS = ("random", "target", "pca", "file")
SPLITS = ("train", "test", "both")
PRECISIONS = ("auto", "bf16", "fp32")
LOSSES = ("ce", "mse")


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


class _Spec:
    """Mixin: dict round-trip for frozen dataclasses (nested specs included)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, _Spec) else v
        return out

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any] | None) -> T:
        d = dict(d or {})
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in d:
                continue
            v = d[f.name]
            sub = _NESTED.get((cls.__name__, f.name))
            if sub is not None and isinstance(v, dict):
                v = sub.from_dict(v)
            elif sub is not None and isinstance(v, str):
                v = sub.parse(v)
            kwargs[f.name] = v
        return cls(**kwargs)

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


@dataclass(frozen=True)
class ModelSpec(_Spec):
    """A zoo model and the checkpoint to load into it (``None``: fresh initialization)."""

    name: str = "digits_cnn"
    checkpoint: str | None = None


@dataclass(frozen=True)
class DatasetSpec(_Spec):
    """What to evaluate on.

    ``name``: ``digits`` | ``cifar10`` | ``tensors:FILE.npz``. ``subsample``: use a random
    ``subsample`` examples of each split (seeded), ``None`` for all.
    """

    name: str = "digits"
    root: str | None = None
    download: bool = False
    subsample: int | None = None
    subsample_seed: int = 0


@dataclass(frozen=True)
class DirectionSpec(_Spec):
    """How d1 (and d2) are made.

    ``method``: ``random`` (seeded Gaussian, normalized), ``target`` (d = theta_B - theta_A,
    1-D), ``pca`` (top two PCs of a run folder's trajectory), ``file`` (an HDF5 direction
    file in the reference layout).
    """

    method: str = "random"
    dir_type: str = "weights"
    xnorm: str = "filter"
    ynorm: str = "filter"
    xignore: str = "biasbn"
    yignore: str = "biasbn"
    seed: int = 0
    target_checkpoint: str | None = None
    pca_run: str | None = None
    file: str | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("method", self.method, METHODS),
            ("dir_type", self.dir_type, DIR_TYPES),
            ("xnorm", self.xnorm, NORMS),
            ("ynorm", self.ynorm, NORMS),
            ("xignore", self.xignore, IGNORES),
            ("yignore", self.yignore, IGNORES),
        ):
            if value not in allowed:
                raise InputError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")


@dataclass(frozen=True)
class SurfaceSpec(_Spec):
    """The grid and how to evaluate it. ``y is None`` means a 1-D line."""

    x: Range = field(default_factory=lambda: Range(-1.0, 1.0, 21))
    y: Range | None = field(default_factory=lambda: Range(-1.0, 1.0, 21))
    split: str = "train"
    loss: str = "ce"
    device: str = "auto"
    precision: str = "auto"
    batch_size: int | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("split", self.split, SPLITS),
            ("loss", self.loss, LOSSES),
            ("precision", self.precision, PRECISIONS),
        ):
            if value not in allowed:
                raise InputError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {self.batch_size}")

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape: ``(ny, nx)`` for a surface, ``(nx,)`` for a line."""
        return (self.x.num,) if self.y is None else (self.y.num, self.x.num)

    @property
    def splits(self) -> tuple[str, ...]:
        return ("train", "test") if self.split == "both" else (self.split,)


_NESTED: dict[tuple[str, str], type[Range]] = {
    ("SurfaceSpec", "x"): Range,
    ("SurfaceSpec", "y"): Range,
}
