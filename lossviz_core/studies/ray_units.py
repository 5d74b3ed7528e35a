"""A study's training runs as Ray tasks: every ready run at once, one per worker.

With ``--executor ray`` the runner hands each training unit here. The first call starts
every training unit of the study that is ready (its shared initialization written) as a
Ray task, so the runs train side by side on the cluster's GPUs (one each, or
``--gpus-per-worker``) while the driver waits for them in the plan's order; grids then go
through the Ray executor, which spreads each grid's points over the workers. A task trains
into a temporary folder on its node, streams its epochs back, then returns the run
folder's files, which the driver writes into the study folder: nodes need no shared file
system (each loads the dataset itself, so CIFAR-10 must be on every node, or downloadable).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from lossviz_core.errors import LossVizError
from lossviz_core.studies.events import UnitProgress
from lossviz_core.studies.outputs import mark_trained
from lossviz_core.studies.plan import Plan, Unit


def _train_task(spec: dict, init: bytes | None, threads: int | None) -> Generator[Any, None, None]:
    """On a worker: train ``spec`` in a temporary folder, yield each EpochReport, then the
    run folder as ``{relative path: bytes}``."""
    import tempfile

    import torch

    from lossviz_core.train.loop import TrainSpec, iter_training

    if threads:
        torch.set_num_threads(int(threads))
    with tempfile.TemporaryDirectory(prefix="lossviz-run-") as tmp:
        folder = Path(tmp) / "run"
        if init is not None:
            (Path(tmp) / "init.pt").write_bytes(init)
            spec = {**spec, "init_checkpoint": str(Path(tmp) / "init.pt")}
        yield from iter_training(TrainSpec.from_dict(spec), folder)
        yield {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
               if p.is_file()}


class RayTraining:
    """Training units on Ray (see the module docstring); ``close()`` cancels what runs."""

    def __init__(self, executor: Any) -> None:
        from lossviz_core.run.ray_executor import import_ray

        self.ray = import_ray()
        self.executor = executor
        self.started = False
        self.flight: dict[str, Any] = {}  # unit key -> the task's stream of results
        self._task = None

    def run(self, plan: Plan, unit: Unit, todo: list[Unit]) -> Generator[Any, None, int]:
        """Train ``unit`` (starting every other ready training unit of ``todo`` too), yielding
        its epochs; returns the epochs trained."""
        from lossviz_core.studies.runner import train_spec

        self._start()
        ready = [u for u in todo if u.kind == "train" and u.key not in self.flight
                 and all(plan.unit(d).path.is_file() for d in u.deps)]
        for u in [unit] + [u for u in ready if u.key != unit.key]:
            if u.key not in self.flight:
                spec = train_spec(plan, u)
                init = Path(spec.init_checkpoint).read_bytes() if u.deps else None
                data = spec.replace(init_checkpoint=None).to_dict()
                self.flight[u.key] = self._task.remote(data, init, self._threads())
        stream = self.flight[unit.key]
        epochs = 0
        try:
            for ref in stream:
                item = self.ray.get(ref)
                if isinstance(item, dict):
                    _write_folder(unit.path, item)
                else:
                    epochs += 1
                    yield UnitProgress(unit, item)
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, LossVizError):
                raise cause from None
            raise LossVizError(f"the Ray task training {unit.name} failed: "
                               f"{str(cause or exc).strip().splitlines()[-1]}") from None
        except self.ray.exceptions.RayError as exc:
            raise LossVizError(f"the Ray worker training {unit.name} was lost "
                               f"({str(exc).strip().splitlines()[0]}); run the study again") \
                from None
        finally:
            self.flight.pop(unit.key, None)
        mark_trained(unit)
        return epochs

    def close(self) -> None:
        """Cancel the training tasks still running; stop a Ray this object started."""
        for stream in self.flight.values():
            try:
                self.ray.cancel(stream, force=True)
            except Exception:  # noqa: BLE001 - finished or gone already
                pass
        self.flight.clear()
        if self.started:
            self.ray.shutdown()
            self.started = False

    def _start(self) -> None:
        ray, ex = self.ray, self.executor
        if not ray.is_initialized():
            opts = dict(getattr(ex, "init", {}), address=getattr(ex, "address", None))
            if opts["address"] is not None:  # joining a cluster: its own settings hold
                opts.pop("include_dashboard", None)
            try:
                ray.init(**opts)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise LossVizError(f"cannot start or reach Ray ({exc})") from None
            self.started = True
        if self._task is None:
            gpus = getattr(ex, "gpus_per_worker", None)
            if gpus is None:
                gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
            cpus = getattr(ex, "cpus_per_worker", None) or 1
            self._task = ray.remote(num_returns="streaming", num_gpus=gpus,
                                    num_cpus=cpus, max_retries=0)(_train_task)

    def _threads(self) -> int | None:
        cpus = getattr(self.executor, "cpus_per_worker", None)
        return int(cpus) if cpus else 1


def _write_folder(path: Path, files: dict[str, bytes]) -> None:
    """The run folder's files written into ``path`` (replacing an interrupted run's)."""
    import shutil

    from lossviz_core.atomic import atomic_path

    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    for name, data in sorted(files.items(), key=lambda kv: kv[0] == "run.json"):
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target, "run file") as tmp:  # run.json last: it lists the others
            tmp.write_bytes(data)
