"""``--executor local|ray`` and its options for ``lossviz surface`` / ``lossviz line``."""

from __future__ import annotations

import argparse
from typing import Any

from lossviz_core.errors import InputError

EXECUTORS = ("local", "ray")


def _executor(text: str) -> str:
    """Refuse ``ray`` while parsing when Ray is not installed: one line, before any work."""
    if text not in EXECUTORS:
        raise argparse.ArgumentTypeError(f"choose {' or '.join(EXECUTORS)}, not {text!r}")
    if text == "ray":
        from lossviz_core.run.ray_executor import import_ray

        try:
            import_ray()
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """The executor's argument group (see docs/cluster.md)."""
    g = p.add_argument_group("executor (docs/cluster.md)")
    g.add_argument("--executor", type=_executor, default="local", metavar="local|ray",
                   help="where points are computed: this process, or Ray workers")
    g.add_argument("--ray-address", metavar="auto|ray://HOST:PORT",
                   help="the Ray cluster to join (default: start a local Ray)")
    # the DataLoader's decoding workers are --data-workers
    g.add_argument("--workers", dest="ray_workers", type=_positive, metavar="N",
                   help="Ray workers (default: one per GPU, or per group of CPU cores)")
    g.add_argument("--gpus-per-worker", type=float, metavar="G",
                   help="GPUs per Ray worker (default: 1 when the cluster has GPUs)")
    g.add_argument("--cpus-per-worker", type=float, metavar="C",
                   help="CPU cores per Ray worker (default: 1 with GPUs, else all / workers)")
    g.add_argument("--shards", type=_positive, default=1, metavar="K",
                   help="split each point's pass over the data in K shards: the same loss, "
                   "and its standard error ({split}_loss_se)")


def executor_from_args(a: argparse.Namespace) -> Any:
    """The executor the arguments ask for; None for the plain local executor."""
    kind = getattr(a, "executor", "local")
    if kind == "local":
        flags = {"ray_address": "--ray-address", "ray_workers": "--workers",
                 "gpus_per_worker": "--gpus-per-worker", "cpus_per_worker": "--cpus-per-worker"}
        ray_only = [flag for k, flag in flags.items() if getattr(a, k, None) is not None]
        if ray_only:
            raise InputError(f"{ray_only[0]} needs --executor ray")
        if getattr(a, "shards", 1) > 1:
            from lossviz_core.run.shards import ShardedExecutor

            return ShardedExecutor(a.shards)
        return None
    from lossviz_core.run.ray_executor import RayExecutor

    return RayExecutor(address=a.ray_address, workers=a.ray_workers,
                       gpus_per_worker=a.gpus_per_worker, cpus_per_worker=a.cpus_per_worker,
                       shards=a.shards)


def workers_note(chunk: Any) -> str:
    """What a progress line says about the workers (nothing for the local executor)."""
    return getattr(chunk, "workers_text", "")
