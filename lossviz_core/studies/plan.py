"""A study as a DAG of units, each with a cache key: inits, training runs, grids, figures.

- ``init`` writes one seeded initialization that several models share (``init = "A"``);
- ``train`` trains one model into a run folder (depends on its init, if shared);
- ``grid`` computes one result file (depends on the runs it is made from: a plane's model,
  a PCA plane's run folder, both ends of an interpolation);
- ``figure`` draws one figure (depends on its panels' grids).

A unit's **key** is a hash of everything that decides its output and nothing else: the
TrainSpec's fields (not the device it runs on), or the result's resolver choices (not the
device, batch size, compile mode, data cache or decoding workers: they do not change the
values), each with the keys of the units it depends on in place of their paths, and user
files (model code, checkpoints) by their content. Values at their defaults are left out,
so a field a later version adds (at its default) leaves every key as it was. Editing one
value therefore changes the keys of exactly the units that depend on it, and moving the
output folder changes none.
A recipe is not hashed itself: it can only be resolved once its run folder exists, and it
holds absolute paths; the choices and the run's key determine it.

Outputs live under the study's folder, named by entry and key::

    DIR/inits/NAME-KEY.pt   DIR/runs/NAME-KEY/   DIR/results/NAME-KEY.h5   DIR/figures/NAME.png
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossviz_core.studies.spec import ModelEntry, ResultEntry, Study

KEY_VERSION = 1
KEY_LENGTH = 16
# choices that decide how, or where, a grid is computed, not its values
COMPUTE_ONLY = ("device", "batch_size", "compile", "multi", "memory_format", "data_cache",
                "workers", "download")
TRAIN_COMPUTE_ONLY = ("device",)
DATA_COMPUTE_ONLY = ("cache", "workers", "download")
_HASHED: dict[tuple[str, int, float], str] = {}


@dataclass(frozen=True)
class Unit:
    """One piece of work. ``work``: epochs (train) or grid points (grid)."""

    kind: str
    name: str
    key: str
    deps: tuple[str, ...]
    spec: dict[str, Any] = field(repr=False)
    path: Path
    work: int = 0

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def files(self) -> list[Path]:
        """What the unit writes: a figure's file per format, else its one output."""
        if self.kind == "figure":
            return [self.path.with_name(f"{self.name}.{fmt}") for fmt in self.spec["formats"]]
        return [self.path]


@dataclass
class Plan:
    """The study's units in the order a single process runs them (dependencies first)."""

    study: Study
    out: Path
    units: list[Unit]
    download: bool = False  # data and weights may be downloaded: the user asked

    def __post_init__(self) -> None:
        self._by_key = {u.key: u for u in self.units}

    def unit(self, key: str) -> Unit:
        return self._by_key[key]

    def find(self, kind: str, name: str) -> Unit | None:
        return next((u for u in self.units if u.kind == kind and u.name == name), None)

    def of_kind(self, kind: str) -> list[Unit]:
        return [u for u in self.units if u.kind == kind]


def make_plan(study: Study, out: str | os.PathLike) -> Plan:
    """Every unit of ``study`` with its key and output path under ``out``."""
    out = Path(out).expanduser().resolve()
    inits: dict[str, Unit] = {}
    trains: dict[str, Unit] = {}
    for m in study.models.values():
        if m.init is not None and m.init not in inits:
            inits[m.init] = _init_unit(study.models[m.init], out)
    for name, m in study.models.items():
        owner = name if name in inits else m.init
        trains[name] = _train_unit(m, inits.get(owner) if owner else None, out)
    grids = {name: _grid_unit(r, trains, out) for name, r in study.results.items()}
    figures = [_figure_unit(fig, grids, out) for fig in study.figures.values()]
    return Plan(study, out, _order(list(inits.values()), list(trains.values()),
                                   list(grids.values()), figures))


def key_of(spec: dict[str, Any]) -> str:
    """The cache key of a unit's spec: sha256 of its canonical JSON, shortened."""
    text = json.dumps({"key_version": KEY_VERSION, **spec}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def _init_unit(m: ModelEntry, out: Path) -> Unit:
    t = m.train
    spec = {"kind": "init", "model": _portable_source(t.model), "seed": t.seed,
            "dataset": _keyed_data(t.dataset.to_dict())}
    key = key_of(spec)
    return Unit("init", m.name, key, (), spec, out / "inits" / f"{m.name}-{key}.pt")


def _train_unit(m: ModelEntry, init: Unit | None, out: Path) -> Unit:
    defaults = type(m.train)().to_dict()  # a field added later, at its default, keeps keys
    train = {k: v for k, v in m.train.to_dict().items()
             if k not in TRAIN_COMPUTE_ONLY and (k in ("model", "dataset")
                                                 or v != defaults.get(k))}
    train["model"] = _portable_source(train["model"])
    train["dataset"] = _keyed_data(train["dataset"])
    if init is not None:
        train["init_checkpoint"] = {"init": init.key}
    elif train.get("init_checkpoint"):
        train["init_checkpoint"] = file_identity(train["init_checkpoint"])
    spec = {"kind": "train", "train": train}
    key = key_of(spec)
    deps = (init.key,) if init is not None else ()
    return Unit("train", m.name, key, deps, spec, out / "runs" / f"{m.name}-{key}",
                m.train.epochs)


def _grid_unit(r: ResultEntry, trains: dict[str, Unit], out: Path) -> Unit:
    from lossviz_core.recipe.spec import Range
    from lossviz_core.resolve import all_choices
    from lossviz_core.studies.fields import entry_params

    table, params = all_choices(), entry_params()
    choices = {}
    for k, v in r.choices.items():
        if k in COMPUTE_ONLY or v == table.get(k) or (k == "y" and r.line):
            continue
        p = params.get(k)
        if k in ("x", "y"):
            v = str(Range.parse(v))
        elif k == "checkpoint" or (p is not None and p.kind in ("file", "code")):
            v = file_identity(v)
        elif k == "run" or (p is not None and p.kind == "folder"):
            v = file_identity(str(Path(v) / "run.json"))  # a run folder: run.json says it all
        elif k in ("model", "dataset", "loss"):
            v = _portable_source(v, k)
        choices[k] = v
    roles = (("model", r.model), ("model_b", r.model_b), ("model_c", r.model_c))
    runs = {role: trains[name].key for role, name in roles if name is not None}
    spec = {"kind": "grid", "choices": choices, "runs": runs}
    key = key_of(spec)
    return Unit("grid", r.name, key, tuple(runs.values()), spec,
                out / "results" / f"{r.name}-{key}.h5", _points(r))


def _figure_unit(fig: Any, grids: dict[str, Unit], out: Path) -> Unit:
    spec = {"kind": "figure", "panels": [grids[p].key for p in fig.panels], "rows": fig.rows,
            "cols": fig.cols, "mode": fig.mode, "options": fig.options,
            "titles": fig.titles, "formats": fig.formats}
    key = key_of(spec)
    deps = tuple(dict.fromkeys(grids[p].key for p in fig.panels))
    return Unit("figure", fig.name, key, deps, spec, out / "figures" / fig.name)


def _order(inits: list[Unit], trains: list[Unit], grids: list[Unit],
           figures: list[Unit]) -> list[Unit]:
    """Each grid right after the last run it needs, each figure after its last panel: a
    single process shows its first figures early, and a crash loses little."""
    order: list[Unit] = []
    placed: set[str] = set()

    def place_ready() -> None:
        for u in grids + figures:
            if u.key not in placed and all(d in placed for d in u.deps):
                order.append(u)
                placed.add(u.key)

    place_ready()  # grids on models the study does not train
    for t in trains:
        for d in t.deps:
            if d not in placed:
                order.append(next(i for i in inits if i.key == d))
                placed.add(d)
        order.append(t)
        placed.add(t.key)
        place_ready()
    return order


def _points(r: ResultEntry) -> int:
    n = 1
    for k in r.shape:
        n *= k
    return n


def _keyed_data(d: dict[str, Any]) -> dict[str, Any]:
    from lossviz_core.recipe.spec import DatasetSpec

    defaults = DatasetSpec().to_dict()
    d = {k: v for k, v in d.items()
         if k not in DATA_COMPUTE_ONLY and (k == "name" or v != defaults.get(k))}
    d["name"] = _portable_source(d["name"], "dataset")
    return d


def _portable_source(name: str, kind: str = "model") -> Any:
    """A model, dataset or loss name, with a file it names replaced by its content hash."""
    from lossviz_core.registry import DATA_SOURCES, MODEL_SOURCES
    from lossviz_core.usercode import is_function_ref, split_ref

    if kind == "loss" or is_function_ref(name):
        if not is_function_ref(name):
            return name
        path, func = split_ref(name)
        return {"code": file_identity(str(path)), "function": func}
    entry = (DATA_SOURCES if kind == "dataset" else MODEL_SOURCES).find(name)
    paths = entry.name_parts.paths(name) if entry is not None else {}
    files = {k: p for k, p in paths.items()
             if entry is not None and next(q for q in entry.name_parts.params
                                           if q.name == k).kind != "folder"}
    if not files:
        return name
    return {"source": entry.name, **{k: file_identity(p) for k, p in files.items()}}


def file_identity(path: str) -> dict[str, Any]:
    """What identifies a file's content: its name and sha256 (size and time when huge or
    missing), so the same file anywhere gives the same key."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return {"name": p.name, "missing": str(p)}
    if not p.is_file() or st.st_size > 2**30:
        return {"name": p.name, "size": st.st_size, "mtime": st.st_mtime}
    cache = (str(p.resolve()), st.st_size, st.st_mtime)
    if cache not in _HASHED:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(2**20), b""):
                h.update(block)
        _HASHED[cache] = h.hexdigest()
    return {"name": p.name, "sha256": _HASHED[cache]}
