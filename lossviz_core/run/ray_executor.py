"""The Ray executor: the grid's points on a Ray cluster, behind the local executor's generator.

``RayExecutor().run(job, store)`` is driven exactly like
:meth:`~lossviz_core.run.executor.LocalExecutor.run` (the CLI's progress bar, the GUI worker,
a notebook's ``drain``). The recipe and the plane's direction tensors go to the cluster once,
through Ray's object store; each worker (one per GPU, or per group of CPU cores) builds its
workspace once (:mod:`lossviz_core.run.ray_worker`) and makes its own batch, multi-point and
compile decisions. A dynamic queue hands tiles of points out in the coarse-to-fine order,
about two in flight per worker, so a slow node simply does fewer and the preview fills in
evenly. Results stream back to the driver, which alone writes the surface file.

Faults: a worker that dies (node lost, out of memory, preempted, ``ray.kill``) has its tiles
handed to the others and is replaced; the job finishes while one worker lives, and every
point is stored exactly once. A driver that dies leaves a file that ``--resume`` completes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import signal
import threading
import time
import uuid
from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from lossviz_core.errors import InputError, LossVizError
from lossviz_core.progress import Chunk
from lossviz_core.results.result import SurfaceResult
from lossviz_core.results.store import read_decisions
from lossviz_core.run.grid import grid_coords, point_order
from lossviz_core.run.ray_progress import RayChunk, WorkerStatus
from lossviz_core.run.ray_worker import PlaneWorker, portable, ship_files, worker_resources
from lossviz_core.run.shards import add_quantities, sharded_quantities
from lossviz_core.run.tiles import DecisionBook, TileQueue, tile_size

IN_FLIGHT = 2  # tiles queued per worker: the next one is there when one finishes
FIRST_TILE = 4  # the first tiles are small so a coarse preview appears at once
NO_RAY = "the Ray executor needs ray: pip install 'lossviz[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or one clear line saying how to get it."""
    try:
        import ray
    except ImportError:
        raise InputError(NO_RAY) from None
    return ray


@dataclasses.dataclass
class _Slot:
    status: WorkerStatus
    handle: Any
    setup_ref: Any = None
    chunk_size: int = 1
    inflight: dict = dataclasses.field(default_factory=dict)  # ref -> tile


class RayExecutor:
    """Evaluate a job's points on Ray workers; ``run(job, store)`` as the local executor.

    ``address``: ``None`` starts a local Ray (shut down again at the end), ``"auto"`` joins the
    cluster of this node, ``"ray://HOST:PORT"`` a remote one through Ray Client (or any
    address ``ray.init`` takes, e.g. a head's ``HOST:PORT``); a Ray already
    initialized in this process is used as it is. ``workers``: how many (default: one per GPU,
    or one per ``cpus_per_worker`` cores). ``gpus_per_worker``: ``None`` = 1 when the cluster
    has GPUs and the recipe's device is not ``cpu``, else 0. ``cpus_per_worker``: default 1
    with GPUs, else the cluster's cores / ``workers`` (or 4). ``shards``: split each point's
    pass in K shards (:mod:`lossviz_core.run.shards`) for a standard error. ``ship_limit``:
    checkpoints and ``tensors:`` files up to this many bytes travel through the object store
    (0: every file is read from its path, which every node must then see). ``replace``: start
    a new worker for one that died (at most ``max_replacements``, default 2 × workers).
    ``on_status``: called (in the thread driving the generator) with :attr:`workers_status`
    whenever a worker becomes ready, is lost or fails; every yielded :class:`RayChunk` carries
    the same snapshot. ``init``: more keyword arguments for a local ``ray.init``
    (``num_cpus``, ``object_store_memory``, ``runtime_env``, ...); its workers run at normal
    priority (Ray's default nices them to 15, where any other load starves them).
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 gpus_per_worker: float | None = None, cpus_per_worker: float | None = None,
                 shards: int = 1, ship_limit: int = 64 * 2**20, replace: bool = True,
                 max_replacements: int | None = None,
                 on_status: Callable[[tuple[WorkerStatus, ...]], None] | None = None,
                 start_timeout: float = 600.0, **init: Any) -> None:
        import_ray()
        for what, v in (("workers", workers), ("shards", shards)):
            if v is not None and int(v) < 1:
                raise InputError(f"{what} must be >= 1, got {v}")
        self.address, self.workers = address, workers
        self.gpus_per_worker, self.cpus_per_worker = gpus_per_worker, cpus_per_worker
        self.shards, self.ship_limit, self.replace = int(shards), int(ship_limit), replace
        self.max_replacements, self.on_status = max_replacements, on_status
        self.start_timeout = float(start_timeout)
        self.init = {"include_dashboard": False, "log_to_driver": False,
                     "logging_level": logging.ERROR,
                     "_system_config": {"worker_niceness": 0}} | init
        self.resubmitted = 0  # points handed out again after their worker was lost
        self._slots: list[_Slot] = []

    @property
    def workers_status(self) -> tuple[WorkerStatus, ...]:
        """Every worker of the current (or last) run, a snapshot."""
        return tuple(dataclasses.replace(s.status, in_flight=len(s.inflight))
                     for s in self._slots)

    def connect(self) -> bool:
        """Start (``address`` None) or join Ray unless this process is connected already;
        whether it did. A caller that connects first keeps Ray up after :meth:`run` (the
        window does, so a zoom does not wait for Ray again); ``run`` shuts down only a Ray it
        started itself."""
        ray = import_ray()
        if ray.is_initialized():
            return False
        opts = dict(self.init, address=self.address)
        if self.address is not None:  # joining a cluster: its own settings hold
            opts.pop("include_dashboard", None)
            opts.pop("_system_config", None)
        main = threading.current_thread() is threading.main_thread()
        on_term = signal.getsignal(signal.SIGTERM) if main else None
        try:
            ray.init(**opts)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise LossVizError(f"cannot start or reach Ray at {self.address or 'this machine'}"
                               f" ({_first_line(exc)})") from None
        finally:
            if main:  # ray.init makes SIGTERM exit at once; the CLI saves and says how to resume
                signal.signal(signal.SIGTERM, on_term)
        if self.address is None:  # a Ray of our own: it must not outlive this process
            from lossviz_core.run.ray_reaper import start_reaper

            start_reaper()
        return True

    # ---- the generator ---------------------------------------------------------------------
    def run(self, job: Any, store: Any = None) -> Generator[Chunk, None, SurfaceResult]:
        """Compute the job's missing points on the cluster, yielding a :class:`RayChunk` per
        finished tile (already in ``job.result`` and the store); stop iterating to cancel."""
        if job.recipe.directions.seeds:
            raise InputError("several direction seeds (--seeds) are computed on this machine "
                             "(--executor local); on Ray, run one job per seed")
        ray = import_ray()
        started = self.connect()
        try:
            yield from self._drive(ray, job, store)
        except ray.exceptions.RayError as exc:  # Ray itself failed: a lost object, a dead node
            raise LossVizError(f"Ray failed ({_first_line(exc)}); the points computed so far "
                               "are saved: rerun with --resume") from None
        finally:
            self._stop(ray)
            if started:
                ray.shutdown()
                from lossviz_core.run.ray_reaper import stop_reaper

                stop_reaper()
            if store is not None and not job.result.complete:
                store.close()  # stopped early: release the file (a complete one is finished)
        return job.result

    def _drive(self, ray: Any, job: Any, store: Any) -> Generator[Chunk, None, None]:
        result = job.result
        order = point_order(result.shape)
        todo = order[~result.done.reshape(-1)[order]]
        total = int(result.done.size)
        done, computed = total - len(todo), 0
        if not len(todo):
            return
        add_quantities(result, store, sharded_quantities(job.workspace, self.shards))
        book = DecisionBook(read_decisions(store.path) if store is not None and done else None)
        start = time.perf_counter()
        self._launch(ray, job, len(todo))
        tiles, stored = TileQueue(todo, total), result.done.reshape(-1).copy()
        while done < total:
            self._dispatch(result, tiles)
            ref = self._wait(ray)
            slot = None if ref is None else self._flight.pop(ref, None)
            if slot is None:
                if ref is not None:
                    self._setup_done(ray, ref)
                continue
            tile = slot.inflight.pop(ref)
            try:
                values, local_id, local_log, seconds = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                raise _worker_error(exc, slot) from None
            except ray.exceptions.RayError as exc:
                slot.inflight[ref] = tile  # handed out again with the worker's other tiles
                self._lose(ray, slot, exc, tiles)
                continue
            fresh = ~stored[tile]  # never store a point twice, whatever came back
            tile, values = tile[fresh], {q: np.asarray(v)[fresh] for q, v in values.items()}
            if not len(tile):
                continue
            stored[tile] = True
            plan = book.id_of(local_log[local_id], device=slot.status.device, executor="ray")
            result.apply_chunk(tile, values)
            if store is not None:
                store.set_decisions(book.decision_log)
                store.write_chunk(tile, values, plan=plan)
            slot.status.points += len(tile)
            slot.status.seconds += seconds
            slot.chunk_size = tile_size(len(tile), seconds, local_log[local_id])
            done, computed = done + len(tile), computed + len(tile)
            now = time.perf_counter()
            rate_t = now - (self._first_ready or start)  # the rate from when workers computed
            yield RayChunk(indices=tile, values=values, done=done, total=total,
                           elapsed=now - start,
                           points_per_second=computed / rate_t if rate_t > 0 else 0.0,
                           worker=slot.status.name, workers=self.workers_status)

    def _launch(self, ray: Any, job: Any, todo: int) -> None:
        """Put the recipe, the directions and small files in the object store; start workers."""
        n, self._cpus, self._gpus = worker_resources(
            ray.cluster_resources(), job.recipe.compute.device, self.workers,
            self.gpus_per_worker, self.cpus_per_worker)
        files = ship_files(job.recipe, ray.put, self.ship_limit) if self.ship_limit else {}
        self._args = (ray.put(job.recipe), ray.put(portable(job.directions)),
                      getattr(job.evaluator, "pinned", None), files,
                      self._cpus, self._gpus, self.shards, math.ceil(todo / n))
        self._actor = ray.remote(PlaneWorker)
        self._run_id = uuid.uuid4().hex[:6]
        self._spares = 2 * n if self.max_replacements is None else self.max_replacements
        self._slots, self._flight, self._size_next = [], {}, FIRST_TILE
        self._first_ready = self._idle_since = None
        for _ in range(n):
            self._start_worker()

    def _dispatch(self, result: SurfaceResult, tiles: TileQueue) -> None:
        """Keep IN_FLIGHT tiles queued on every ready worker; tiles grow from FIRST_TILE to
        each worker's own chunk size (~0.5 s of its work)."""
        for slot in self._slots:
            while slot.status.state == "ready" and len(slot.inflight) < IN_FLIGHT and tiles.left:
                tile = tiles.take(min(slot.chunk_size, self._size_next))
                self._size_next = min(2 * self._size_next, max(s.chunk_size for s in self._slots))
                ref = slot.handle.evaluate.remote(grid_coords(result, tile))
                slot.inflight[ref] = tile
                self._flight[ref] = slot

    def _wait(self, ray: Any) -> Any:
        """The next finished tile or worker start-up (None after a second of nothing)."""
        waiting = list(self._flight) + [s.setup_ref for s in self._slots
                                        if s.status.state == "starting"]
        if not waiting:
            raise self._all_gone()
        ready, _ = ray.wait(waiting, num_returns=1, timeout=1.0)
        if ready:
            return ready[0]
        now = time.perf_counter()
        if any(s.status.state == "ready" for s in self._slots):
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since > self.start_timeout:
            raise LossVizError(f"no Ray worker started in {self.start_timeout:.0f} s: does the "
                               f"cluster have {self._cpus:g} CPUs and {self._gpus:g} GPUs free "
                               "for one?")
        return None

    # ---- workers ---------------------------------------------------------------------------
    def _start_worker(self) -> None:
        name = f"lossviz-{self._run_id}-w{len(self._slots)}"
        handle = self._actor.options(name=name, num_cpus=self._cpus, num_gpus=self._gpus,
                                     max_restarts=0, max_task_retries=0).remote()
        slot = _Slot(WorkerStatus(name), handle)
        slot.setup_ref = handle.setup.remote(*self._args)
        self._slots.append(slot)

    def _setup_done(self, ray: Any, ref: Any) -> bool:
        """A worker's workspace is built (True), or it could not be."""
        slot = next(s for s in self._slots if s.setup_ref is ref)
        try:
            info = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            slot.status.state, slot.status.error = "failed", _first_line(exc.cause)
            self._kill(ray, slot)
            if not any(s.status.state in ("ready", "starting") for s in self._slots):
                raise _worker_error(exc, slot) from None
            self._notify()
            return False
        except ray.exceptions.RayError as exc:
            self._lose(ray, slot, exc, None)
            return False
        slot.status.state, slot.status.node = "ready", info["node"]
        slot.status.device, slot.status.setup_seconds = info["device"], info["seconds"]
        slot.chunk_size = max(1, int(info["chunk_size"]))
        self._first_ready = self._first_ready or time.perf_counter()
        self._notify()
        return True

    def _lose(self, ray: Any, slot: _Slot, exc: BaseException, tiles: TileQueue | None) -> None:
        """A worker died: its tiles go back to the queue; a new worker takes its place."""
        slot.status.state, slot.status.error = "lost", _first_line(exc)
        for ref, tile in slot.inflight.items():
            self._flight.pop(ref, None)
            if tiles is not None:
                tiles.give_back(tile)
            self.resubmitted += len(tile)
        slot.inflight.clear()
        self._kill(ray, slot)
        if self.replace and self._spares > 0:
            self._spares -= 1
            self._start_worker()
        self._notify()

    def _all_gone(self) -> LossVizError:
        errors = [s.status.error for s in self._slots if s.status.error]
        return LossVizError("every Ray worker was lost" + (f" ({errors[-1]})" if errors else "")
                            + "; the points computed so far are saved: rerun with --resume")

    def _kill(self, ray: Any, slot: _Slot) -> None:
        try:
            ray.kill(slot.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def _stop(self, ray: Any) -> None:
        """Cancel what is in flight and end every worker (a finished, failed or cancelled run)."""
        for ref in list(getattr(self, "_flight", {})):
            try:
                ray.cancel(ref)
            except Exception:  # noqa: BLE001 - its worker is gone already
                pass
        for slot in self._slots:
            if slot.status.state in ("ready", "starting"):
                slot.status.state = "stopped"
            slot.inflight.clear()
            self._kill(ray, slot)
        self._flight, self._args = {}, ()  # the recipe and plane may leave the object store
        self._notify()  # the final states: what each worker computed

    def _notify(self) -> None:
        if self.on_status is not None:
            self.on_status(self.workers_status)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:300]


def _worker_error(exc: Any, slot: _Slot) -> BaseException:
    """A worker's own error: a LossViz one as its one line (saying where), else as it is."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, LossVizError):
        where = slot.status.node or slot.status.name
        try:
            return type(cause)(f"{cause} (on the Ray worker at {where})")
        except TypeError:
            return LossVizError(f"{cause} (on the Ray worker at {where})")
    return exc
