"""The compute settings model: what to evaluate and where, observed by the panels.

``ComputeState`` is a flat set of typed, named values (glue-style); a panel binds a widget to
a name with :func:`lossviz.panels.bind`. ``snapshot()`` is a plain dict that is safe to hand
to the worker thread, and :func:`specs_from_snapshot` turns it into engine specs there (it may
read a run folder, so it does not run on the GUI thread).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import DatasetSpec, DirectionSpec, ModelSpec, Range, SurfaceSpec

SOURCES = ("demo", "checkpoint", "run")
DATASETS = ("digits", "cifar10", "tensors")
METHODS = ("random", "pca", "random1d", "target")
METHOD_LABELS = {
    "random": "Random plane",
    "pca": "PCA plane (run folder)",
    "random1d": "1-D random direction",
    "target": "1-D interpolation A → B",
}

DEFAULTS: dict[str, Any] = {
    "source": "demo",
    "model": "digits_cnn",
    "checkpoint": "",
    "run_dir": "",
    "dataset": "digits",
    "data_root": "",
    "tensors_file": "",
    "subsample": 0,  # 0: the whole split
    "split": "train",
    "method": "random",
    "norm": "filter",
    "ignore": "biasbn",
    "dir_type": "weights",
    "seed": 0,
    "target_checkpoint": "",
    "xmin": -1.0,
    "xmax": 1.0,
    "xnum": 21,
    "ymin": -1.0,
    "ymax": 1.0,
    "ynum": 21,
    "device": "auto",
    "precision": "auto",
}


class ComputeState(QObject):
    """Named compute settings with a ``changed(name)`` signal per edit."""

    changed = Signal(str)

    def __init__(self, **values: Any) -> None:
        super().__init__()
        self._values: dict[str, Any] = dict(DEFAULTS)
        self.update(**values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def get(self, name: str) -> Any:
        return self._values[name]

    def set(self, name: str, value: Any) -> None:
        """Set one value (coerced to the default's type); emits ``changed`` if it differs."""
        if name not in DEFAULTS:
            raise KeyError(name)
        kind = type(DEFAULTS[name])
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
        return self._values["method"] in ("random1d", "target")

    def ranges(self) -> tuple[Range, Range | None]:
        """The α (and β) ranges; raises InputError on a malformed range."""
        v = self._values
        x = Range(v["xmin"], v["xmax"], v["xnum"])
        return x, (None if self.is_line else Range(v["ymin"], v["ymax"], v["ynum"]))

    def set_ranges(self, x: Range, y: Range | None) -> None:
        self.update(xmin=x.min, xmax=x.max, xnum=x.num)
        if y is not None:
            self.update(ymin=y.min, ymax=y.max, ynum=y.num)


def surface_from_snapshot(v: dict[str, Any]) -> SurfaceSpec:
    """The SurfaceSpec (ranges, split, device, precision) of a snapshot."""
    line = v["method"] in ("random1d", "target")
    return SurfaceSpec(
        x=Range(v["xmin"], v["xmax"], v["xnum"]),
        y=None if line else Range(v["ymin"], v["ymax"], v["ynum"]),
        split=v["split"],
        device=v["device"],
        precision=v["precision"],
    )


def specs_from_snapshot(
    v: dict[str, Any],
) -> tuple[ModelSpec, DatasetSpec, DirectionSpec, SurfaceSpec]:
    """Engine specs for a snapshot of :class:`ComputeState` (may read a run folder)."""
    method = v["method"]
    surface = surface_from_snapshot(v)
    subsample = int(v["subsample"]) or None
    if v["source"] == "demo":
        from lossviz_core import demo

        kind = {"pca": "pca", "target": "line"}.get(method, "surface")
        model, dataset, dirs, _ = demo.specs(kind)
        if subsample:
            dataset = dataset.replace(subsample=subsample)
        if method in ("random", "random1d"):
            dirs = _random_dirs(v)
        elif method == "pca":  # the panel's choices, as for any run folder
            dirs = dirs.replace(dir_type=v["dir_type"], xignore=v["ignore"], yignore=v["ignore"])
        elif method == "target":
            dirs = dirs.replace(dir_type=v["dir_type"],
                                target_checkpoint=v["target_checkpoint"] or dirs.target_checkpoint)
        return model, dataset, dirs, surface

    if v["source"] == "run" or method == "pca":
        if not v["run_dir"]:
            raise InputError("choose a run folder (a training run with run.json) first")
        from lossviz_core.train.runs import read_run

        run = read_run(v["run_dir"])
        model = ModelSpec(run.model_name, str(run.final_checkpoint))
        dataset = DatasetSpec.from_dict(run.dataset)
        if subsample:
            dataset = dataset.replace(subsample=subsample)
    else:
        model = ModelSpec(v["model"], v["checkpoint"] or None)
        dataset = dataset_from_snapshot(v)

    if method == "pca":
        dirs = DirectionSpec(
            method="pca", dir_type=v["dir_type"], xignore=v["ignore"], yignore=v["ignore"],
            pca_run=v["run_dir"],
        )
    elif method == "target":
        if not v["target_checkpoint"]:
            raise InputError("choose checkpoint B (the end point of the interpolation) first")
        dirs = DirectionSpec(
            method="target", dir_type=v["dir_type"], target_checkpoint=v["target_checkpoint"]
        )
    else:
        dirs = _random_dirs(v)
    return model, dataset, dirs, surface


def dataset_from_snapshot(v: dict[str, Any]) -> DatasetSpec:
    """The DatasetSpec the dataset panel describes."""
    subsample = int(v["subsample"]) or None
    name = v["dataset"]
    if name == "tensors":
        if not v["tensors_file"]:
            raise InputError("choose a tensors file (.npz with arrays x, y) first")
        name = f"tensors:{v['tensors_file']}"
    return DatasetSpec(name=name, root=v["data_root"] or None, subsample=subsample)


def _random_dirs(v: dict[str, Any]) -> DirectionSpec:
    return DirectionSpec(
        method="random", dir_type=v["dir_type"], xnorm=v["norm"], ynorm=v["norm"],
        xignore=v["ignore"], yignore=v["ignore"], seed=int(v["seed"]),
    )
