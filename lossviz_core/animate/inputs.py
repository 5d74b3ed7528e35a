"""What ``lossviz animate`` is given, turned into results: result files, or a run folder.

A result file (``.h5``) is read as it is. A run folder is computed: for a sequence, the
landscape around each of its checkpoints on a random filter-normalized plane (the same seed
for every checkpoint, so the frames differ only by where training is); for a trajectory,
the PCA plane of the run with its path. Computing is a generator of
:class:`~lossviz_core.progress.Step` s like the engine's others (stop iterating to cancel);
``keep`` saves each computed landscape as a result file.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from pathlib import Path

from lossviz_core.errors import InputError
from lossviz_core.limits import check_grid_fits
from lossviz_core.progress import Step
from lossviz_core.recipe.spec import Recipe
from lossviz_core.resolve import resolve, user_code_files
from lossviz_core.results.result import SurfaceResult
from lossviz_core.results.store import read_result
from lossviz_core.run.job import iter_prepare
from lossviz_core.runs import RUN_FILE, read_run

DEFAULT_RANGE = "-1:1:21"


def is_run_folder(path: str | os.PathLike) -> bool:
    return (Path(path) / RUN_FILE).is_file()


def iter_inputs(paths: Sequence[str | os.PathLike], mode: str, x: str = DEFAULT_RANGE,
                y: str = DEFAULT_RANGE, keep: str | os.PathLike | None = None,
                allow_code: bool = False
                ) -> Generator[Step, None, tuple[list[SurfaceResult], list[str]]]:
    """The results ``paths`` name (result files as they are, a run folder computed for
    ``mode`` ``sequence`` or ``trajectory``) and a title for each. ``allow_code``: a run
    folder's run.json naming code (``FILE.py:FUNC``, an archive) may run it."""
    results: list[SurfaceResult] = []
    titles: list[str] = []
    for p in paths:
        if is_run_folder(p):
            if mode == "trajectory":
                recipe = admitted(resolve({"pca": str(p), "x": x, "y": y, "fit_ranges": True}),
                                  p, allow_code)
                r = yield from _computed(recipe, _kept(keep, Path(p).name + "-pca"),
                                         f"PCA plane of {p}")
                results.append(r)
                titles.append("")
            else:
                rs, ts = yield from iter_run_landscapes(p, x, y, keep, allow_code)
                results += rs
                titles += ts
        elif Path(p).is_file():
            results.append(read_result(p))
            titles.append("")
        else:
            raise InputError(f"{p} is neither a result file nor a run folder (run.json)")
    return results, titles


def iter_run_landscapes(run_dir: str | os.PathLike, x: str = DEFAULT_RANGE,
                        y: str = DEFAULT_RANGE, keep: str | os.PathLike | None = None,
                        allow_code: bool = False
                        ) -> Generator[Step, None, tuple[list[SurfaceResult], list[str]]]:
    """The landscape around each checkpoint of a run (see the module docstring)."""
    run = read_run(run_dir)
    base = admitted(resolve({"run": str(run.path), "x": x, "y": y}), run_dir, allow_code)
    results, titles = [], []
    unit = run.unit
    for k, (epoch, path) in enumerate(run.checkpoints):
        recipe = base.replace(model=base.model.replace(checkpoint=str(Path(path).resolve())))
        yield Step(f"landscape {k + 1}/{len(run.checkpoints)} ({unit} {epoch})",
                   k / len(run.checkpoints))
        r = yield from _computed(recipe, _kept(keep, f"{Path(run_dir).name}-{unit}{epoch}"),
                                 f"{unit} {epoch}")
        results.append(r)
        titles.append(f"{unit} {epoch}")
    return results, titles


def admitted(recipe: Recipe, run_dir: str | os.PathLike, allow_code: bool) -> Recipe:
    """``recipe`` of a run folder, within the grid limit and running the code its run.json
    names only with ``allow_code`` (as ``lossviz surface --run``)."""
    check_grid_fits(recipe.grid.shape)
    code = user_code_files(recipe)
    if code and not allow_code:
        raise InputError(f"the run folder {run_dir} (its run.json) names code to run "
                         f"({code[0]}); pass --allow-code to run it")
    return recipe


def _kept(keep: str | os.PathLike | None, stem: str) -> Path | None:
    if keep is None:
        return None
    Path(keep).mkdir(parents=True, exist_ok=True)
    return Path(keep) / f"{stem}.h5"


def _same_landscape(kept: Recipe | None, wanted: Recipe) -> bool:
    """Whether a kept file's recipe is the landscape asked for. Ranges fitted to a trajectory
    are written into the file's recipe as they came out: there, the rest and the point
    counts must agree."""
    if kept is None:
        return False
    if wanted.grid.fit:
        return (kept.grid.shape == wanted.grid.shape and
                kept.replace(grid=wanted.grid).landscape_key() == wanted.landscape_key())
    return kept.landscape_key() == wanted.landscape_key()


def _computed(recipe_or_choices, out: Path | None, what: str
              ) -> Generator[Step, None, SurfaceResult]:
    recipe = recipe_or_choices if not isinstance(recipe_or_choices, dict) else \
        resolve(recipe_or_choices)
    resume = False
    if out is not None and out.exists():  # kept by an earlier --keep: reused only if it is
        kept = read_result(out)           # this landscape; finished where it stopped
        if not _same_landscape(kept.recipe, recipe):
            raise InputError(f"{out} holds another landscape than {what}'s (kept with "
                             "other ranges or another run?); remove it or keep in another "
                             "folder")
        if kept.done.all():
            return kept
        resume = True
    job = yield from iter_prepare(recipe, out if resume else None)
    gen = job.iter(out=out, resume=resume)
    try:
        while True:
            chunk = next(gen)
            yield Step(f"{what}: {chunk.done}/{chunk.total} points",
                       chunk.done / max(chunk.total, 1))
    except StopIteration as stop:
        return stop.value
    finally:
        gen.close()
