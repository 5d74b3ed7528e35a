"""Running a study: train what is missing, compute what is missing, draw what changed.

``iter_study(study, out_dir)`` is a generator of progress events
(:mod:`lossviz_core.studies.events`) that returns a
:class:`~lossviz_core.studies.events.StudySummary`; stopping the iteration stops the study,
and everything finished so far stays done. Each unit of the plan
(:mod:`lossviz_core.studies.plan`) is skipped when its output is already there for its key
(:mod:`lossviz_core.studies.outputs`), so a second run does nothing and a run after an edit
does only what the edit changed. A partial grid is resumed (``job.iter(resume=True)``:
its finished points are kept); an interrupted training run is trained again from the start
(run folders keep no optimizer state). A unit that fails is recorded with its message in
``DIR/state.json`` and the units that need it are skipped; the others still run.

Grids go through ``executor`` (None: the local one; a Ray executor spreads each grid's
points over its workers); with a Ray executor the training runs are Ray tasks as well,
all ready ones at once (:mod:`lossviz_core.studies.ray_units`). One process runs a study
folder at a time (``DIR/.study.lock``); each unit's output has its own writer's lock, which
``lossviz study status`` reads as "running".
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from lossviz_core.atomic import atomic_path
from lossviz_core.errors import LossVizError, StoreError
from lossviz_core.progress import Chunk
from lossviz_core.studies.estimate import rate_key
from lossviz_core.studies.events import (
    StudyPlanned,
    StudySummary,
    UnitFailed,
    UnitFinished,
    UnitProgress,
    UnitSkipped,
    UnitStarted,
)
from lossviz_core.studies.outputs import figure_files, is_done, mark_trained
from lossviz_core.studies.plan import Plan, Unit, make_plan
from lossviz_core.studies.spec import Study
from lossviz_core.studies.state import StudyState

Event = Any  # one of the events above
STUDY_COPY = "study.toml"
OUTPUT_FOLDERS = ("inits", "runs", "results", "figures")


def iter_study(study: Study, out_dir: str | os.PathLike, executor: Any = None,
               stop_on_error: bool = False, download: bool = False,
               ) -> Generator[Event, None, StudySummary]:
    """Run ``study`` into ``out_dir``, yielding events; returns what this run did.

    ``stop_on_error``: raise a failing unit's error instead of recording it and going on.
    ``download``: data sets and pretrained weights may be downloaded (the user asked; a
    study's own ``download`` or ``pretrained`` never grants it).
    """
    from lossviz_core.results.paths import OutputLock, new_folder, remove_empty

    out = Path(out_dir).expanduser().resolve()
    with new_folder(out):  # a study that cannot even start leaves no empty folder
        try:
            lock = OutputLock.acquire(out / "study")
        except StoreError as exc:
            if "another LossViz process" not in str(exc):
                raise
            raise StoreError(f"the study folder {out} is being run by another LossViz "
                             "process; wait for it (lossviz study status) or choose another "
                             "--out") from None
        try:
            return (yield from _run(study, out, executor, stop_on_error, download))
        finally:
            lock.release()
            remove_empty([out / sub for sub in OUTPUT_FOLDERS])  # one a failed unit left


def _run(study: Study, out: Path, executor: Any, stop_on_error: bool, download: bool
         ) -> Generator[Event, None, StudySummary]:
    plan = make_plan(study, out)
    plan.download = download
    state = StudyState.load(out)
    state.study, state.profile = study.name, study.profile
    _write_copy(study, out)
    done = frozenset(u.key for u in plan.units if is_done(u, state))
    yield StudyPlanned(plan, done)
    summary = StudySummary(out, cached=len(done))
    t0 = time.perf_counter()
    lost: dict[str, str] = {}  # key of a failed or skipped unit -> its label
    todo = [u for u in plan.units if u.key not in done]
    ray_runs = None
    if getattr(executor, "name", "local") == "ray":
        from lossviz_core.studies.ray_units import RayTraining

        ray_runs = RayTraining(executor)
        # every run trains at once, then each grid has the whole cluster
        rank = {"init": 0, "train": 1}
        todo.sort(key=lambda u: rank.get(u.kind, 2))
    try:
        for index, unit in enumerate(todo, 1):
            blocked = [lost[d] for d in unit.deps if d in lost]
            if blocked:
                reason = f"needs {blocked[0]}, which did not finish"
                lost[unit.key] = unit.label
                summary.skipped.append(unit.label)
                yield UnitSkipped(unit, reason)
                continue
            yield UnitStarted(unit, index, len(todo))
            start = time.perf_counter()
            try:
                if ray_runs is not None and unit.kind == "train":
                    work = yield from ray_runs.run(plan, unit, todo)
                else:
                    work = yield from _work(plan, unit, state, executor)
            except LossVizError as exc:
                if stop_on_error:
                    raise
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                yield from _failed(unit, message, state, summary, lost)
                continue
            except Exception as exc:  # noqa: BLE001 - one broken unit must not stop the study
                if stop_on_error or os.environ.get("LOSSVIZ_DEBUG"):
                    raise
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                yield from _failed(unit, f"{type(exc).__name__}: {first}", state, summary, lost)
                continue
            seconds = time.perf_counter() - start
            state.finished(unit, seconds, work, rate_key(unit, study))
            state.save()
            files = _record(unit, work, summary)
            yield UnitFinished(unit, seconds, work, files)
    finally:
        if ray_runs is not None:
            ray_runs.close()
    summary.seconds = time.perf_counter() - t0
    return summary


def _failed(unit: Unit, message: str, state: StudyState, summary: StudySummary,
            lost: dict[str, str]) -> Iterator[Event]:
    state.failed(unit, message)
    state.save()
    lost[unit.key] = unit.label
    summary.failed[unit.label] = message
    yield UnitFailed(unit, message)


def _record(unit: Unit, work: int, summary: StudySummary) -> tuple[Path, ...]:
    if unit.kind == "train":
        summary.trained.append(unit.name)
        summary.epochs += work
        return (unit.path,)
    if unit.kind == "grid":
        summary.computed.append(unit.name)
        summary.points += work
        return (unit.path,)
    if unit.kind == "figure":
        files = tuple(figure_files(unit))
        summary.drawn.append(unit.name)
        summary.figures.extend(files)
        return files
    summary.initialized.append(unit.name)
    return (unit.path,)


def _work(plan: Plan, unit: Unit, state: StudyState, executor: Any
          ) -> Generator[Event, None, int]:
    if unit.kind == "init":
        write_init(plan.study, unit, plan.download)
        return 0
    if unit.kind == "train":
        return (yield from _train(plan, unit))
    if unit.kind == "grid":
        return (yield from _grid(plan, unit, executor))
    _figure(plan, unit, state)
    return 0


def train_spec(plan: Plan, unit: Unit) -> Any:
    """The TrainSpec a training unit runs: the model's, starting from its shared init."""
    spec = plan.study.models[unit.name].train
    spec = spec.replace(dataset=spec.dataset.replace(download=plan.download))
    if unit.deps:
        spec = spec.replace(init_checkpoint=str(plan.unit(unit.deps[0]).path))
    return spec


def _train(plan: Plan, unit: Unit) -> Generator[Event, None, int]:
    from lossviz_core.results.paths import OutputLock
    from lossviz_core.train.loop import iter_training

    unit.path.parent.mkdir(parents=True, exist_ok=True)
    epochs = 0
    with OutputLock.acquire(unit.path):
        gen = iter_training(train_spec(plan, unit), unit.path, overwrite=True)
        try:
            for report in gen:
                epochs += 1
                yield UnitProgress(unit, report)
        finally:
            gen.close()
        mark_trained(unit)
    return epochs


def write_init(study: Study, unit: Unit, download: bool = False) -> None:
    """The shared initialization of model ``unit.name``: seeded as its own training run
    would be, saved as ``epoch 0``."""
    import torch

    from lossviz_core.data import load_dataset
    from lossviz_core.recipe.spec import ModelSpec
    from lossviz_core.sources import load_model
    from lossviz_core.sources.checkpoints import save_checkpoint

    t = study.models[unit.name].train
    torch.manual_seed(t.seed)
    data = load_dataset(t.dataset.replace(download=download), torch.device("cpu"))
    model = load_model(ModelSpec(t.model), data.num_classes, require_weights=False).model
    save_checkpoint(model.state_dict(), unit.path, epoch=0, study_unit=unit.key)


def grid_recipe(plan: Plan, unit: Unit) -> Any:
    """The recipe of a grid unit: its choices with the study's runs filled in, resolved."""
    from lossviz_core.registry import DIRECTION_METHODS
    from lossviz_core.resolve import choice_key, downloads_as_asked, resolve
    from lossviz_core.runs import read_run

    r = plan.study.results[unit.name]
    method = DIRECTION_METHODS.get(r.method)
    choices = dict(r.choices)
    if r.model is not None:
        run_dir = str(plan.find("train", r.model).path)
        choices[method.run_choice or "run"] = run_dir
    for param, name in zip(method.other_models, r.others, strict=False):
        if name is not None:
            final = read_run(plan.find("train", name).path).final_checkpoint
            choices[choice_key(param)] = str(final)
    return downloads_as_asked(resolve(choices), plan.download, plan.download)


def _grid(plan: Plan, unit: Unit, executor: Any) -> Generator[Event, None, int]:
    from lossviz_core.results.paths import OutputLock
    from lossviz_core.run.job import iter_prepare

    unit.path.parent.mkdir(parents=True, exist_ok=True)
    recipe = grid_recipe(plan, unit)
    lock = OutputLock.acquire(unit.path)  # before the long preparation, as the CLI
    points = 0
    try:
        prep = iter_prepare(recipe, resume_from=unit.path if unit.path.exists() else None)
        job = yield from _forward(unit, prep)
        gen = job.iter(out=unit.path, resume=True, lock=lock, executor=executor)
        yield UnitProgress(unit, job)  # its result fills in as the chunks are stored
        try:
            for chunk in gen:
                if isinstance(chunk, Chunk):
                    points += len(chunk.indices)
                yield UnitProgress(unit, chunk)
        finally:
            gen.close()
    finally:
        lock.release()
    return points


def _forward(unit: Unit, gen: Generator[Any, None, Any]) -> Generator[Event, None, Any]:
    """Drive an engine generator, wrapping what it yields as this unit's progress."""
    try:
        while True:
            item = next(gen)
            yield UnitProgress(unit, item)
    except StopIteration as stop:
        return stop.value
    finally:
        gen.close()


def _figure(plan: Plan, unit: Unit, state: StudyState) -> None:
    from lossviz_core.results.store import read_result
    from lossviz_core.studies.figures import draw_study_figure

    grids = [plan.unit(k) for k in unit.spec["panels"]]
    results = [read_result(g.path) for g in grids]
    files = figure_files(unit)
    unit.path.parent.mkdir(parents=True, exist_ok=True)
    draw_study_figure(plan.study, unit, results, [g.name for g in grids],
                      [g.key for g in grids], files)
    state.figures[unit.name] = {"key": unit.key,
                                "files": [str(p.relative_to(plan.out)) for p in files]}


def _write_copy(study: Study, out: Path) -> None:
    """``DIR/study.toml``: the study as last run here (to read, or run again)."""
    target = out / STUDY_COPY
    try:
        if target.is_file() and target.read_text(encoding="utf-8") == study.text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    with atomic_path(target, "study copy") as tmp:
        tmp.write_text(study.text, encoding="utf-8")
