"""The Ray executor against the local one: ``python -m benchmarks.ray``.

One run, side by side, on one machine: the local executor and the Ray executor with one
worker holding the same cores, alternately, twice (so a load change on a shared machine hits
both), for the overhead with start-up kept apart; then Ray with one worker per core
(throughput). A Ray run also reports its workers' own evaluating time, so what the executor
itself adds (dispatch, transfer, idle gaps) shows apart from the machine's load.
ResNet-20 (random init, BatchNorm statistics calibrated as in :mod:`benchmarks.cases`) on
random CIFAR-shaped images, fp32, a filter-normalized random plane; the checkpoint and the
images go to the workers as files through Ray's object store, as a small user job's would.
Every figure carries the load average it was measured under. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lossviz_core.device import threads_for_load
from lossviz_core.models import build_model
from lossviz_core.progress import drain
from lossviz_core.recipe.spec import (
    ComputeSpec,
    DatasetSpec,
    DirectionSpec,
    GridSpec,
    ModelSpec,
    Range,
    Recipe,
)
from lossviz_core.run.job import prepare

from .cases import CALIBRATION_IMAGES, calibrate_bn
from .reference_loop import CIFAR_NORM, cifar_like, normalized_split


def workload(folder: Path, model: str, n: int, grid: int) -> Recipe:
    """A checkpoint and a ``tensors:`` file of ``n`` normalized images, and their recipe."""
    images, labels = cifar_like(n, seed=0)
    split = normalized_split(images, labels, *CIFAR_NORM)
    torch.manual_seed(0)
    net = calibrate_bn(build_model(model), split.x[:CALIBRATION_IMAGES], torch.device("cpu"))
    torch.save(net.state_dict(), folder / f"{model}.pt")
    np.savez(folder / "images.npz", x=split.x.numpy(), y=split.y.numpy())
    return Recipe(model=ModelSpec(model, checkpoint=str(folder / f"{model}.pt")),
                  dataset=DatasetSpec(f"tensors:{folder / 'images.npz'}"),
                  directions=DirectionSpec(seed=0),
                  grid=GridSpec(Range(-1, 1, grid), Range(-1, 1, grid)),
                  compute=ComputeSpec(device="cpu", precision="fp32", compile="off"))


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def time_local(job, label: str, cores: int) -> dict:
    """The local executor on the prepared job's own workspace (its probe ran in prepare),
    with the threads the load leaves free of ``cores``, as the CLI and a Ray worker pick."""
    threads, _ = threads_for_load(cores)
    job = job.with_recipe(job.recipe)  # a fresh result, the same workspace
    before, t0 = load(), time.perf_counter()
    result = drain(job.iter())
    seconds = time.perf_counter() - t0
    return {"run": label, "workers": f"1 process, {cores} cores: {threads} threads",
            "points": int(result.done.sum()), "startup_s": 0.0, "compute_s": seconds,
            "points_per_s": result.done.sum() / seconds, "load_before": before,
            "load_after": load(), "train_loss": result.values["train_loss"]}


def time_ray(job, label: str, workers: int, cpus: int) -> dict:
    """The Ray executor: start-up (until every worker is ready) apart from computing."""
    from lossviz_core.run.ray_executor import RayExecutor

    ready: list[float] = []

    def on_status(statuses) -> None:
        if len(ready) < 1 and all(s.state == "ready" for s in statuses):
            ready.append(time.perf_counter())

    job = job.with_recipe(job.recipe)
    executor = RayExecutor(workers=workers, cpus_per_worker=cpus, on_status=on_status)
    before, t0 = load(), time.perf_counter()
    after_ready = 0
    for chunk in job.iter(executor=executor):
        if ready and time.perf_counter() >= ready[0]:
            after_ready += len(chunk.indices)
    end = time.perf_counter()
    t_ready = ready[0] if ready else t0
    compute = end - t_ready
    threads = ", ".join(s.device.removeprefix("CPU ") for s in executor.workers_status)
    return {"run": label, "workers": f"{workers} × {cpus} cores: {threads}",
            "points": int(job.result.done.sum()), "startup_s": t_ready - t0,
            "compute_s": compute, "points_per_s": after_ready / compute if compute > 0 else 0.0,
            "load_before": before, "load_after": load(),
            "train_loss": job.result.values["train_loss"],
            "busy_s": sum(s.seconds for s in executor.workers_status) / workers,
            "worker_points": [s.points for s in executor.workers_status]}


def markdown(rows: list[dict], meta: dict) -> str:
    local = [r for r in rows if r["run"] == "local"]
    base = float(np.mean([r["compute_s"] for r in local]))
    lines = [f"Ray executor vs local: {meta['model']}, {meta['images']} CIFAR-shaped images, "
             f"{meta['grid']}×{meta['grid']} grid, fp32 CPU, {meta['cores']} cores; ray.init "
             f"{meta['ray_init_s']:.1f} s (load {meta['ray_init_load']}).", "",
             "| run | workers | points | start-up (s) | compute (s) | points/s | compute vs "
             "local | executor's own share | load avg before → after (1, 5, 15 min) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ray_run = r["run"] != "local"
        vs = f"{100 * (r['compute_s'] / base - 1):+.1f} %" if ray_run else ""
        one = ray_run and r["workers"].startswith("1 ×")  # with more, start-ups overlap work
        own = f"{100 * (r['compute_s'] / r['busy_s'] - 1):+.1f} %" if one else ""
        lines.append(f"| {r['run']} | {r['workers']} | {r['points']} | {r['startup_s']:.1f} | "
                     f"{r['compute_s']:.2f} | {r['points_per_s']:.2f} | {vs} | {own} | "
                     f"{r['load_before']} → {r['load_after']} |")
    ray1 = [r for r in rows if r["run"] == "ray" and r["workers"].startswith("1 ×")]
    overhead = np.median([r["compute_s"] for r in ray1]) / np.median(
        [r["compute_s"] for r in local]) - 1
    lines += ["", f"Overhead of the Ray executor with one worker (median compute time against "
              f"the local executor's, start-up excluded): {100 * overhead:+.1f} %. 'compute vs "
              "local': against the mean of the local runs; 'executor's own share': the "
              "wall-clock compute time over the workers' own evaluating time (dispatch, "
              "transfer and idle gaps; the machine's load does not enter it); points/s of a "
              "Ray run counts the points finished after every worker was ready. Largest "
              "relative difference of any surface from the first local one: "
              f"{meta['max_rel_diff']:.1e}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ray", description=__doc__)
    p.add_argument("--model", default="resnet20")
    p.add_argument("--n-images", type=int, default=512)
    p.add_argument("--grid", type=int, default=5, help="points per axis")
    p.add_argument("--rounds", type=int, default=2, help="local / Ray alternations")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    p.add_argument("--out", help="also write the figures as JSON")
    a = p.parse_args(argv)
    import ray

    threads_for_load(a.cores)  # the probe in prepare runs with the threads the load leaves
    with tempfile.TemporaryDirectory(prefix="lossviz-bench-ray-") as tmp:
        job = prepare(workload(Path(tmp), a.model, a.n_images, a.grid))
        rows = []
        t0, init_load = time.perf_counter(), load()
        # workers at the local executor's priority (Ray's default nices them to 15)
        ray.init(num_cpus=a.cores, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR, _system_config={"worker_niceness": 0})
        meta = {"model": a.model, "images": a.n_images, "grid": a.grid, "cores": a.cores,
                "ray_init_s": time.perf_counter() - t0, "ray_init_load": init_load}
        try:
            for _ in range(a.rounds):
                rows.append(time_local(job, "local", a.cores))
                rows.append(time_ray(job, "ray", 1, a.cores))
            rows.append(time_ray(job, "ray", a.cores, 1))
        finally:
            ray.shutdown()
    ref = rows[0]["train_loss"]
    meta["max_rel_diff"] = float(max(np.max(np.abs(r["train_loss"] - ref) / np.abs(ref))
                                     for r in rows))
    print(markdown(rows, meta))
    if a.out:
        for r in rows:
            r.pop("train_loss")
        Path(a.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1,
                                          default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
