"""The bundled demo: a small digits CNN, its training run and a small/large-batch pair.

The files live in ``resources/demo`` (installed as ``lossviz_resources``) and are written
by ``scripts/make_demo_assets.py``; ``demo.json`` describes them. `recipe(kind)` gives
ready-made recipes for the three classic views: a random filter-normalized plane, the PCA
plane of the training trajectory, and the 1-D interpolation from small to large batch.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from lossviz_core.errors import DataError, InputError
from lossviz_core.recipe.spec import (
    DatasetSpec,
    DirectionSpec,
    GridSpec,
    LossSpec,
    ModelSpec,
    Range,
    Recipe,
)

DEMO_MODEL = "digits_cnn"
KINDS = ("surface", "pca", "line")
_REGENERATE = "run `python scripts/make_demo_assets.py` to create it"


def demo_dir() -> Path:
    """The demo folder; ``DataError`` if it or its ``demo.json`` is missing.

    From the installed ``lossviz_resources`` package, or, in a source tree that was not
    pip-installed (a bare GPU machine running the benchmarks), from ``resources/demo``.
    """
    try:
        import lossviz_resources

        folder = Path(lossviz_resources.DEMO)
    except ImportError:
        folder = Path(__file__).resolve().parents[1] / "resources" / "demo"
    if not (folder / "demo.json").is_file():
        raise DataError(f"the bundled demo is missing from {folder}; {_REGENERATE}")
    return folder


def describe() -> dict[str, Any]:
    """``demo.json``: model, dataset, batch sizes, final accuracies, the demo ranges."""
    return dict(_describe(str(demo_dir())))


@lru_cache(maxsize=4)
def _describe(folder: str) -> dict[str, Any]:
    path = Path(folder) / "demo.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}; {_REGENERATE}") from None


def _file(relative: str) -> Path:
    path = demo_dir() / relative
    if not path.exists():
        raise DataError(f"the demo file {path} is missing; {_REGENERATE}")
    return path


def run_dir() -> Path:
    """The demo training run (a run folder: ``run.json`` + one checkpoint per epoch)."""
    return _file(describe()["trajectory"]["run"])


def final_checkpoint() -> Path:
    """The last checkpoint of the demo training run."""
    from lossviz_core.runs import read_run

    try:
        return read_run(run_dir()).final_checkpoint
    except InputError as exc:
        raise DataError(f"the demo run is damaged ({exc}); {_REGENERATE}") from None


def pair() -> tuple[Path, Path]:
    """``(small_batch.pt, large_batch.pt)``: the same model and init, batch 16 vs 1024."""
    p = describe()["pair"]
    return _file(p["small_batch"]["file"]), _file(p["large_batch"]["file"])


def init_checkpoint() -> Path:
    """The initialization both pair models were trained from."""
    return _file(describe()["pair"]["init"])


def recipe_for(method: str) -> Recipe:
    """The demo view made with direction method ``method`` (the random plane for any method
    the demo has no view of: the demo's model and data with the method's own defaults)."""
    views = [recipe(kind) for kind in KINDS]
    return next((r for r in views if r.directions.method == method), views[0])


def recipe(kind: str = "surface") -> Recipe:
    """The recipe of a demo view, ready for ``prepare(recipe(kind))``.

    ``surface``: random filter-normalized plane around the final checkpoint, -1:1:21 on
    both axes, train split. ``pca``: the PCA plane of the demo run, ranges (from
    ``demo.json``) that hold the whole trajectory. ``line``: interpolation from the small-
    to the large-batch model (``states``: BatchNorm statistics interpolate too), train and
    test, over -0.5:1.5 cut to where the interpolated BN variances stay positive.
    """
    if kind not in KINDS:
        raise InputError(f"unknown demo view {kind!r}; choose one of {', '.join(KINDS)}")
    meta = describe()
    dataset = DatasetSpec.from_dict(meta.get("dataset", {"name": "digits"}))
    if kind == "surface":
        return Recipe(
            model=ModelSpec(DEMO_MODEL, str(final_checkpoint())),
            dataset=dataset,
            directions=DirectionSpec(method="random", seed=0),
            grid=GridSpec(x=Range(-1, 1, 21), y=Range(-1, 1, 21)),
            loss=LossSpec(split="train"),
        )
    if kind == "pca":
        pca = meta["trajectory"]["pca"]
        return Recipe(
            model=ModelSpec(DEMO_MODEL, str(final_checkpoint())),
            dataset=dataset,
            directions=DirectionSpec(method="pca", params={"run": str(run_dir())}),
            grid=GridSpec(x=Range.parse(pca["x"]), y=Range.parse(pca["y"])),
            loss=LossSpec(split="train"),
        )
    small, large = pair()
    return Recipe(
        model=ModelSpec(DEMO_MODEL, str(small)),
        dataset=dataset,
        directions=DirectionSpec(method="target", dir_type="states",
                                 params={"checkpoint": str(large)}),
        grid=GridSpec(x=Range.parse(meta["pair"]["line"]["x"]), y=None),
        loss=LossSpec(split="both"),
    )
