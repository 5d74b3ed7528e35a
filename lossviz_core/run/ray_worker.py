"""One Ray worker: a workspace built once from the recipe and the plane, then tiles of points.

The driver (:mod:`lossviz_core.run.ray_executor`) creates one :class:`PlaneWorker` actor per
GPU or group of CPU cores. ``setup`` materializes the workspace on the worker's device from
the picklable recipe and the direction tensors (both from Ray's object store, never a file)
and probes its own decisions (batch, multi-point, compile) for its share of the grid;
``evaluate`` computes one tile. Small files the recipe names (a checkpoint, a ``tensors:``
archive) may come through the object store too (:func:`ship_files`); anything else the
recipe names must be at a path every node sees.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from lossviz_core.registry import DATA_SOURCES, MODEL_SOURCES

SHIP_LIMIT = 64 * 2**20  # files up to this size travel through the object store
DEFAULT_CPU_GROUP = 4  # cores per CPU worker when neither a count nor a group is given


def worker_resources(have: dict[str, float], device: str, workers: int | None = None,
                     gpus: float | None = None, cpus: float | None = None
                     ) -> tuple[int, float, float]:
    """``(workers, CPUs each, GPUs each)`` on a cluster with resources ``have`` (Ray's
    ``cluster_resources()``): one worker per GPU when there are GPUs and ``device`` is not
    ``cpu``, else one per group of CPU cores; what is given is kept."""
    from lossviz_core.errors import InputError

    have_cpus, have_gpus = float(have.get("CPU", 0)), float(have.get("GPU", 0))
    if gpus is None:
        gpus = 1.0 if have_gpus >= 1 and device != "cpu" else 0.0
    if gpus == 0 and str(device).startswith("cuda"):
        raise InputError("--device cuda with the Ray executor needs --gpus-per-worker")
    if gpus > 0:
        n = workers or max(1, int(have_gpus // gpus))
        cpus = cpus or 1.0
    elif workers:
        n, cpus = workers, cpus or max(1.0, float(have_cpus // workers))
    else:
        cpus = cpus or max(1.0, min(DEFAULT_CPU_GROUP, have_cpus))
        n = max(1, int(have_cpus // cpus))
    if gpus > have_gpus or cpus > have_cpus:
        raise InputError(f"a Ray worker needs {cpus:g} CPUs and {gpus:g} GPUs; the cluster "
                         f"has {have_cpus:g} CPUs and {have_gpus:g} GPUs")
    return int(n), float(cpus), float(gpus)


def portable(directions: Any) -> Any:
    """The directions on the CPU (a driver on a GPU must not ship CUDA tensors)."""
    d = directions.to("cpu")
    if d.center is not None:
        d = dataclasses.replace(d, center={k: v.cpu() for k, v in d.center.items()})
    return d


def shipped_paths(recipe: Any) -> dict[str, str]:
    """The self-contained files of ``recipe`` that may travel by value: ``{field: path}``.

    The checkpoint and the files a source declares ``portable`` (a ``tensors:`` archive) are
    read whole and need nothing beside them; Python files (which may import their
    neighbours), folders and downloads stay on paths."""
    out = {}
    if recipe.model.checkpoint:
        out["checkpoint"] = str(recipe.model.checkpoint)
    for kind, name in (("model", recipe.model.name), ("dataset", recipe.dataset.name)):
        for param, path in _portable(kind, name).items():
            out[f"{kind}.{param}"] = path
    return {k: p for k, p in out.items() if os.path.isfile(os.path.expanduser(p))}


def _portable(kind: str, name: str) -> dict[str, str]:
    entry = (MODEL_SOURCES if kind == "model" else DATA_SOURCES).get(name)
    portable = {q.name for q in entry.name_parts.params if q.portable}
    return {k: v for k, v in entry.name_parts.paths(name).items() if k in portable}


def ship_files(recipe: Any, put, limit: int = SHIP_LIMIT) -> dict[str, tuple[str, Any]]:
    """``{field: (file name, object ref of its bytes)}`` for the files of ``recipe`` small
    enough to send (``put``: ``ray.put``); larger ones are read from their paths."""
    out = {}
    for key, path in shipped_paths(recipe).items():
        p = Path(path).expanduser()
        if p.stat().st_size <= limit:
            out[key] = (p.name, put(p.read_bytes()))
    return out


def localize(recipe: Any, files: dict[str, tuple[str, bytes]], folder: Path) -> Any:
    """``recipe`` reading the shipped files from copies in ``folder`` (this node's disk)."""
    changes: dict[str, Any] = {}
    for key, (name, data) in files.items():
        path = folder / f"{key}-{name}"
        path.write_bytes(data)
        changes[key] = str(path)
    if "checkpoint" in changes:
        recipe = recipe.replace(model=recipe.model.replace(checkpoint=changes["checkpoint"]))
    for kind, registry in (("model", MODEL_SOURCES), ("dataset", DATA_SOURCES)):
        spec = getattr(recipe, kind)
        parts = registry.get(spec.name).name_parts
        mine = {k.split(".", 1)[1]: v for k, v in changes.items() if k.startswith(kind + ".")}
        if mine:
            name = parts.with_paths(spec.name, lambda q, path, m=mine: m.get(q.name, path))
            recipe = recipe.replace(**{kind: spec.replace(name=name)})
    return recipe


def share_grid(recipe: Any, points: int) -> Any:
    """``recipe`` with a grid of ``points`` points: what the worker's compile decision (does
    the grid repay the warm-up?) should weigh is its own share, not the whole grid."""
    from lossviz_core.recipe.spec import GridSpec, Range

    x = Range(-1.0, 1.0, max(1, int(points)))
    return recipe.replace(grid=GridSpec(x, None if recipe.is_line else Range(0.0, 0.0, 1)))


def cpu_threads(cores: float) -> int:
    """torch threads for a worker given ``cores``: all of them, or as many as the machine's
    load leaves free (the local CLI's rule, ``device.threads_for_load``). Oversubscribed
    threads are far slower than fewer ones: on 2 busy cores a demo point took 130 ms on 2
    threads and 5 ms on 1. Other workers' load counts too, but they use cores of their own."""
    try:
        free = (os.cpu_count() or 1) - os.getloadavg()[0]
    except OSError:
        free = float(cores)
    return int(max(1, min(int(cores), round(free))))


class PlaneWorker:
    """A Ray actor (decorated by the executor) holding one workspace for one job."""

    def __init__(self) -> None:
        self.ws: Any = None

    def setup(self, recipe: Any, directions: Any, pinned: dict | None, files: dict,
              threads: int, gpus: float, shards: int, points: int) -> dict[str, Any]:
        """Build the workspace (the probe runs here); what the driver shows and records."""
        import ray
        import torch

        from lossviz_core.errors import InputError
        from lossviz_core.run.shards import shard_workspace
        from lossviz_core.run.workspace import materialize

        start = time.perf_counter()
        if gpus > 0 and not torch.cuda.is_available():
            raise InputError(f"no GPU is visible to the Ray worker on {socket.gethostname()}")
        device = "cuda" if gpus > 0 else "cpu"
        if device == "cpu":
            torch.set_num_threads(cpu_threads(threads))
        # shipped files are read whole while the workspace is built, then removed (a killed
        # worker runs no clean-up)
        with tempfile.TemporaryDirectory(prefix="lossviz-ray-") as folder:
            if files:
                got = {k: (name, ray.get(ref)) for k, (name, ref) in files.items()}
                recipe = localize(recipe, got, Path(folder))
            ws = materialize(share_grid(recipe, points), device, directions=directions,
                             pinned=pinned)
        self.ws = shard_workspace(ws, shards)
        return {"node": socket.gethostname(), "pid": os.getpid(), "device": ws.device_text,
                "chunk_size": int(self.ws.chunk_size), "plans": list(self.ws.decision_log),
                "seconds": time.perf_counter() - start}

    def evaluate(self, coords: np.ndarray) -> tuple[dict[str, np.ndarray], int, list, float]:
        """One tile: ``(values, plan id before it, plans, seconds)`` (the plan may change
        during a tile, e.g. after out-of-memory; the tile is recorded under the one it began
        with, as the local executor does)."""
        plan = self.ws.decision_id
        start = time.perf_counter()
        values = self.ws.evaluate(coords)
        return values, plan, list(self.ws.decision_log), time.perf_counter() - start
