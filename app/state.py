"""The compute settings model: what to evaluate and where, observed by the panels.

``ComputeState`` is a flat set of typed, named values (glue-style); a panel binds a widget to
a name with :func:`lossviz.panels.bind`. ``snapshot()`` is a plain dict that is safe to hand
to the worker thread. :func:`choices_from_state` turns it into the engine resolver's
choices, so the window and the command line make the same recipe from the same choices
(:func:`recipe_from_state`, run in the worker: it may read a run folder), and
:func:`state_from_recipe` fills the panels from a recipe (*Open result*).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from lossviz_core.recipe.resolve import resolve
from lossviz_core.recipe.spec import Range, Recipe

SOURCES = {
    "demo": "Bundled demo",
    "zoo": "Zoo model + checkpoint",
    "torchvision": "torchvision model",
    "timm": "timm model",
    "pyfile": "Python file (model function)",
    "archive": "TorchScript / .pt2 archive",
    "run": "Run folder (training run)",
}
DATASETS = {
    "digits": "Digits (8×8, bundled)",
    "cifar10": "CIFAR-10",
    "torchvision": "torchvision dataset",
    "imagefolder": "Image folder (class subfolders)",
    "tensors": "Tensors file (.npz)",
    "pyfile": "Python file (dataset function)",
}
METHOD_LABELS = {
    "random": "Random plane",
    "pca": "PCA plane (run folder)",
    "hessian": "Hessian plane (top two eigenvectors)",
    "hessian-random": "Hessian × random (top eigenvector, random)",
    "random1d": "1-D random direction",
    "target": "1-D interpolation A → B",
    "hessian1d": "1-D along the top Hessian eigenvector",
    "file": "Direction file (.h5)",
}
METHODS = tuple(METHOD_LABELS)
LINE_METHODS = ("random1d", "target", "hessian1d")
ENGINE_METHOD = {"random1d": "random", "hessian1d": "hessian"}  # the panel's 1-D methods

DEFAULTS: dict[str, Any] = {
    "source": "demo",
    "model": "digits_cnn",
    "tv_model": "resnet18",
    "timm_model": "",
    "model_file": "",
    "model_function": "",
    "archive": "",
    "checkpoint": "",
    "pretrained": False,
    "output": "",
    "run_dir": "",
    "dataset": "digits",
    "tv_dataset": "CIFAR10",
    "data_root": "",
    "image_folder": "",
    "tensors_file": "",
    "data_file": "",
    "data_function": "",
    "transform": "auto",
    "subsample": 0,  # 0: the whole split
    "split": "train",
    "loss": "ce",
    "method": "random",
    "norm": "filter",
    "ignore": "biasbn",
    "dir_type": "auto",
    "seed": 0,
    "target_checkpoint": "",
    "direction_file": "",
    "fit_ranges": True,  # a PCA plane's ranges follow its trajectory
    "curvature_map": False,  # also compute the convexity map (Hessian, slow)
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
# Settings files written before the model sources opened keep working.
_LEGACY_VALUES = {("source", "checkpoint"): "zoo"}


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
        value = _LEGACY_VALUES.get((name, value), value)
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
        return self._values["method"] in LINE_METHODS

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
    src = v["source"]
    if src == "zoo":
        return v["model"]
    if src == "torchvision":
        return f"torchvision:{v['tv_model']}"
    if src == "timm":
        return f"timm:{v['timm_model']}"
    if src == "pyfile":
        return f"{v['model_file']}:{v['model_function']}"
    if src == "archive":
        return v["archive"] or None
    return None


def dataset_name(v: dict[str, Any]) -> str:
    """The engine's dataset name for the Dataset panel's choice."""
    kind = v["dataset"]
    if kind == "torchvision":
        return f"torchvision:{v['tv_dataset']}"
    if kind == "imagefolder":
        return f"imagefolder:{v['image_folder']}"
    if kind == "tensors":
        return f"tensors:{v['tensors_file']}"
    if kind == "pyfile":
        return f"{v['data_file']}:{v['data_function']}"
    return kind


def choices_from_state(v: dict[str, Any]) -> dict[str, Any]:
    """The resolver's choices (the command line's flags) for a snapshot of the panels."""
    method = v["method"]
    line = method in LINE_METHODS
    c: dict[str, Any] = {"line": line, "method": ENGINE_METHOD.get(method, method)}
    src = v["source"]
    if src == "demo":
        c["demo"] = True
    elif src == "run":
        c["run"] = v["run_dir"] or None
    else:
        c["model"] = model_name(v)
        c["checkpoint"] = v["checkpoint"] or None
        c["pretrained"] = "DEFAULT" if v["pretrained"] and src in ("torchvision", "timm") else None
        c["dataset"] = dataset_name(v)
        c["data_root"] = v["data_root"] or None
        c["transform"] = v["transform"]
    c["output"] = v["output"] or None
    if method == "pca":
        c["pca"] = v["run_dir"] or None
        c.pop("run", None)
        c.pop("checkpoint", None)
    if method == "target":
        c["checkpoint2"] = v["target_checkpoint"] or None
    if method == "file":
        c["directions"] = v["direction_file"] or None
    c.update(
        subsample=int(v["subsample"]) or None, split=v["split"], loss=v["loss"],
        dir_type=None if v["dir_type"] == "auto" else v["dir_type"],
        xnorm=v["norm"], xignore=v["ignore"], seed=int(v["seed"]),
        x=Range(v["xmin"], v["xmax"], v["xnum"]),
        y=None if line else Range(v["ymin"], v["ymax"], v["ynum"]),
        device=v["device"], precision=v["precision"],
        fit_ranges=bool(v["fit_ranges"]) if method == "pca" else None,
        measure=["curvature"] if v["curvature_map"] else None,
    )
    return c


def recipe_from_state(v: dict[str, Any]) -> Recipe:
    """The recipe the panels describe (may read a run folder: call it off the GUI thread)."""
    return resolve(choices_from_state(v))


def state_from_recipe(recipe: Recipe) -> dict[str, Any]:
    """Panel values that describe ``recipe`` (what *Open result* puts into the panels)."""
    m, d, dirs, g = recipe.model, recipe.dataset, recipe.directions, recipe.grid
    v: dict[str, Any] = {"output": m.output or "", "checkpoint": m.checkpoint or ""}
    if _is_demo(recipe):
        v["source"] = "demo"
    elif dirs.method == "pca":
        v["source"], v["run_dir"] = "run", dirs.pca_run or ""
    else:
        v.update(_model_values(m.name))
        v["pretrained"] = bool(m.pretrained)
    if v.get("source") != "demo" and dirs.method != "pca":
        v.update(_dataset_values(d.name))
        v["data_root"] = d.root or ""
        v["transform"] = d.transform
    if dirs.method == "pca":
        v["run_dir"] = dirs.pca_run or ""
    method = dirs.method
    if recipe.is_line and method in ("random", "hessian"):
        method = {"random": "random1d", "hessian": "hessian1d"}[method]
    v.update(
        method=method, dir_type=dirs.dir_type, norm=dirs.xnorm, ignore=dirs.xignore,
        seed=dirs.seed, target_checkpoint=dirs.target_checkpoint or "",
        direction_file=dirs.file or "", subsample=d.subsample or 0, split=recipe.loss.split,
        loss=recipe.loss.name if recipe.loss.name in ("ce", "nll", "mse", "bce") else "ce",
        xmin=g.x.min, xmax=g.x.max, xnum=g.x.num, device=recipe.compute.device,
        precision=recipe.compute.precision, curvature_map="curvature" in recipe.measures,
        fit_ranges=g.fit,
    )
    if g.y is not None:
        v.update(ymin=g.y.min, ymax=g.y.max, ynum=g.y.num)
    return v


def _is_demo(recipe: Recipe) -> bool:
    try:
        from lossviz_core import demo

        folder = demo.demo_dir().resolve()
    except Exception:  # noqa: BLE001 - no demo: nothing is the demo
        return False
    ckpt = recipe.model.checkpoint
    return (recipe.model.name == demo.DEMO_MODEL and bool(ckpt)
            and Path(ckpt).resolve().is_relative_to(folder)
            and recipe.dataset == demo.recipe("surface").dataset)


def _model_values(name: str) -> dict[str, Any]:
    from lossviz_core.sources.usercode import is_function_ref, split_ref

    if name.startswith("torchvision:"):
        return {"source": "torchvision", "tv_model": name.split(":", 1)[1]}
    if name.startswith("timm:"):
        return {"source": "timm", "timm_model": name.split(":", 1)[1]}
    if is_function_ref(name):
        path, func = split_ref(name)
        return {"source": "pyfile", "model_file": str(path), "model_function": func}
    if name.startswith(("torchscript:", "export:")) or "/" in name or name.endswith(".pt2"):
        return {"source": "archive", "archive": name}
    return {"source": "zoo", "model": name.removeprefix("zoo:")}


def _dataset_values(name: str) -> dict[str, Any]:
    from lossviz_core.sources.usercode import is_function_ref, split_ref

    for prefix, kind, key in (("torchvision:", "torchvision", "tv_dataset"),
                              ("imagefolder:", "imagefolder", "image_folder"),
                              ("tensors:", "tensors", "tensors_file")):
        if name.startswith(prefix):
            return {"dataset": kind, key: name[len(prefix):]}
    if is_function_ref(name):
        path, func = split_ref(name)
        return {"dataset": "pyfile", "data_file": str(path), "data_function": func}
    return {"dataset": name}
