"""The Ray executor on a local Ray (2 CPU workers): the same surface as the local executor,
for a zoo model and a user's model file; a worker killed mid-run; a driver killed mid-run
then resumed; cancelling. One Ray session serves the whole module."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import Counter

import numpy as np
import pytest

from lossviz_core import demo
from lossviz_core.cli import main
from lossviz_core.progress import drain
from lossviz_core.recipe.spec import ComputeSpec, GridSpec, Range
from lossviz_core.results.store import SurfaceStore, read_decisions, read_result
from lossviz_core.run.job import prepare
from lossviz_core.run.ray_executor import RayExecutor

ray = pytest.importorskip("ray")

FP32 = ComputeSpec(device="cpu", precision="fp32")


def demo_recipe(nx, ny):
    return demo.recipe("surface").replace(grid=GridSpec(Range(-1, 1, nx), Range(-0.5, 0.5, ny)),
                                          compute=FP32)


@pytest.fixture(scope="module")
def local_15x9():
    return drain(prepare(demo_recipe(15, 9)).iter()).values["train_loss"]


def count_writes(monkeypatch) -> Counter:
    """Every grid index the store writes, counted (a point must be stored exactly once)."""
    writes: Counter = Counter()
    real = SurfaceStore.write_chunk

    def counting(self, indices, values, plan=0):
        writes.update(int(i) for i in indices)
        return real(self, indices, values, plan)

    monkeypatch.setattr(SurfaceStore, "write_chunk", counting)
    return writes


def test_ray_surface_equals_the_local_one_for_a_zoo_model(cluster, tmp_path, capsys):
    grid = ["--demo", "--x=-1:1:7", "--y=-1:1:5", "--precision", "fp32", "--device", "cpu"]
    assert main(["surface", *grid, "--out", str(tmp_path / "local.h5")]) == 0
    code = main(["surface", *grid, "--executor", "ray", "--workers", "2",
                 "--out", str(tmp_path / "ray.h5")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "ray: " in err and "worker" in err  # the progress line says who computes
    a, b = read_result(tmp_path / "local.h5"), read_result(tmp_path / "ray.h5")
    assert b.shape == (5, 7) and b.done.all()
    for q in ("train_loss", "train_acc"):
        np.testing.assert_allclose(b.values[q], a.values[q], rtol=1e-6, atol=1e-9)
    plans = read_decisions(tmp_path / "ray.h5")
    assert plans and all(p["executor"] == "ray" and p["precision"] == "fp32" for p in plans)


MODEL_PY = '''
import torch
from torch import nn


def make(num_classes=3):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.Tanh(),
                         nn.Linear(16, num_classes))
'''

DATA_PY = '''
import torch


def points(split):
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    x = torch.randn(300, 6, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
'''


def test_ray_surface_of_a_user_model_file_equals_the_local_one_with_shards(cluster, tmp_path):
    (tmp_path / "net.py").write_text(MODEL_PY)
    (tmp_path / "pts.py").write_text(DATA_PY)
    from lossviz_core.resolve import resolve

    recipe = resolve({"model": f"{tmp_path / 'net.py'}:make", "dataset":
                      f"{tmp_path / 'pts.py'}:points", "x": Range(-1, 1, 6),
                      "y": Range(-1, 1, 4), "precision": "fp32", "device": "cpu"})
    local = drain(prepare(recipe).iter())
    job = prepare(recipe)
    sharded = drain(job.iter(out=tmp_path / "s.h5", executor=RayExecutor(workers=2, shards=3)))
    np.testing.assert_allclose(sharded.values["train_loss"], local.values["train_loss"],
                               rtol=1e-6)
    np.testing.assert_allclose(sharded.values["train_acc"], local.values["train_acc"],
                               atol=1e-9)
    se = read_result(tmp_path / "s.h5").values["train_loss_se"]
    assert se.shape == (4, 6) and np.isfinite(se).all() and (se > 0).all()


def test_a_worker_killed_mid_run_has_its_tiles_computed_by_another(cluster, tmp_path,
                                                                    monkeypatch, local_15x9):
    writes = count_writes(monkeypatch)
    job = prepare(demo_recipe(15, 9))
    executor = RayExecutor(workers=2)
    seen: Counter = Counter()
    killed = None
    for chunk in job.iter(out=tmp_path / "k.h5", executor=executor):
        seen.update(int(i) for i in chunk.indices)
        if killed is None:
            killed = chunk.worker
            ray.kill(ray.get_actor(killed))  # as a lost node or an out-of-memory kill
    result = job.result
    assert result.done.all()
    np.testing.assert_allclose(result.values["train_loss"], local_15x9, rtol=1e-6)
    assert set(writes.values()) == {1} and len(writes) == result.done.size
    assert set(seen.values()) == {1} and len(seen) == result.done.size
    status = {w.name: w for w in executor.workers_status}
    assert status[killed].state == "lost"
    assert executor.resubmitted > 0  # its tiles went to the other worker
    assert len(status) == 3  # and a replacement was started
    np.testing.assert_allclose(read_result(tmp_path / "k.h5").values["train_loss"],
                               local_15x9, rtol=1e-6)


DRIVER = '''
import logging, os, signal, sys
import ray
from lossviz_core.recipe.spec import Recipe
from lossviz_core.run.job import prepare
from lossviz_core.run.ray_executor import RayExecutor

address, out, recipe = sys.argv[1], sys.argv[2], Recipe.from_json(sys.argv[3])
ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
job = prepare(recipe)
for chunk in job.iter(out=out, executor=RayExecutor(workers=1)):
    if chunk.done >= 40:
        os.kill(os.getpid(), signal.SIGKILL)  # the driver dies: no cleanup, no finally
'''


def test_a_driver_killed_mid_run_leaves_a_file_that_resume_completes(cluster, tmp_path, capsys,
                                                                      local_15x9):
    out = tmp_path / "cut.h5"
    address = ray.get_runtime_context().gcs_address
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(DRIVER), address, str(out),
                          demo_recipe(15, 9).to_json()], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == -9, run.stderr[-2000:]
    cut = read_result(out)
    assert 40 <= cut.done.sum() < cut.done.size
    code = main(["surface", "--resume", "--out", str(out), "--executor", "ray",
                 "--workers", "1"])
    assert code == 0, capsys.readouterr().err
    done = read_result(out)
    assert done.done.all()
    np.testing.assert_array_equal(done.values["train_loss"][cut.done],
                                  cut.values["train_loss"][cut.done])
    np.testing.assert_allclose(done.values["train_loss"], local_15x9, rtol=1e-6)


def test_cancelling_stops_the_workers_and_keeps_a_resumable_file(cluster, tmp_path,
                                                                 monkeypatch, local_15x9):
    writes = count_writes(monkeypatch)
    job = prepare(demo_recipe(15, 9))
    executor = RayExecutor(workers=1)
    gen = job.iter(out=tmp_path / "c.h5", executor=executor)
    next(gen)
    gen.close()  # what the GUI's Stop and the CLI's Ctrl-C do
    name = executor.workers_status[0].name
    assert executor.workers_status[0].state == "stopped"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the actor's name is released when it is gone
        try:
            ray.get_actor(name)
        except ValueError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"{name} still alive after the run was cancelled")
    cut = read_result(tmp_path / "c.h5")
    assert 0 < cut.done.sum() < cut.done.size
    job = prepare(demo_recipe(15, 9))
    resumed = drain(job.iter(out=tmp_path / "c.h5", resume=True))  # the local executor
    assert resumed.done.all() and set(writes.values()) == {1}
    np.testing.assert_allclose(resumed.values["train_loss"], local_15x9, rtol=1e-6)
