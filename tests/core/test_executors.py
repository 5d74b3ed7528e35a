"""Executors without Ray: sharded evaluation (exact merge, standard error), the tile queue, and
the one line that asks for Ray when it is missing. The Ray executor itself: test_ray.py."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossviz_core import demo
from lossviz_core.cli import main
from lossviz_core.data import load_dataset
from lossviz_core.errors import InputError
from lossviz_core.models import build_model
from lossviz_core.progress import drain
from lossviz_core.recipe.spec import ComputeSpec, DatasetSpec, GridSpec, LossSpec, Range
from lossviz_core.results.quantities import quantity
from lossviz_core.results.store import read_result
from lossviz_core.run.grid import grid_coords
from lossviz_core.run.job import prepare
from lossviz_core.run.ray_worker import worker_resources
from lossviz_core.run.shards import (
    merged_mean,
    shard_bounds,
    shard_workspace,
    standard_error,
)
from lossviz_core.run.tiles import MAX_TILE, DecisionBook, TileQueue, tile_size
from lossviz_core.sources.checkpoints import load_into

FP32 = ComputeSpec(device="cpu", precision="fp32")


def demo_recipe(nx=5, ny=3, **changes):
    return demo.recipe("surface").replace(grid=GridSpec(Range(-1, 1, nx), Range(-0.5, 0.5, ny)),
                                          compute=FP32, **changes)


def per_sample_losses(split="train"):
    """The demo checkpoint's per-example cross-entropy at the centre, in plain PyTorch."""
    model = build_model(demo.DEMO_MODEL)
    load_into(model, demo.recipe("surface").model.checkpoint)
    model.eval()
    s = getattr(load_dataset(DatasetSpec("digits")), split)
    with torch.no_grad():
        return F.cross_entropy(model(s.x), s.y, reduction="none").double().numpy()


def test_shard_partial_sums_merge_exactly_into_the_one_pass_mean():
    losses = per_sample_losses()
    for k in (2, 5, 7):  # 1437 examples: unequal shards for 2 and 5
        bounds = shard_bounds(len(losses), k)
        assert bounds[0][0] == 0 and bounds[-1][1] == len(losses)
        assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1
        means = np.array([losses[a:b].mean() for a, b in bounds])
        counts = np.array([b - a for a, b in bounds])
        assert merged_mean(means, counts) == pytest.approx(losses.mean(), rel=1e-13)


def test_sharded_surface_equals_the_one_pass_surface():
    job = prepare(demo_recipe(loss=LossSpec(split="both")))
    one = drain(job.iter())
    coords = grid_coords(one, np.arange(one.done.size))
    sharded = shard_workspace(job.workspace, 4).evaluate(coords)  # 1437 = 359·3 + 360
    for q in ("train_loss", "train_acc", "test_loss", "test_acc"):
        np.testing.assert_allclose(sharded[q], one.values[q].reshape(-1), rtol=1e-6, atol=1e-9)
    for q in ("train_loss_se", "test_loss_se", "train_acc_se"):
        assert np.isfinite(sharded[q]).all() and (sharded[q] >= 0).all()
    assert sharded["train_loss_se"].max() > 0


def test_standard_error_is_zero_when_every_shard_is_the_whole_data(tmp_path):
    data = load_dataset(DatasetSpec("digits")).train
    k = 3
    np.savez(tmp_path / "copies.npz", x=torch.cat([data.x] * k).numpy(),
             y=torch.cat([data.y] * k).numpy())
    recipe = demo_recipe(dataset=DatasetSpec(f"tensors:{tmp_path / 'copies.npz'}"))
    job = prepare(recipe)
    coords = grid_coords(job.result, np.arange(job.result.done.size))
    out = shard_workspace(job.workspace, k).evaluate(coords)
    assert (out["train_loss_se"] == 0).all() and (out["train_acc_se"] == 0).all()
    one = drain(prepare(demo_recipe()).iter())  # the data once: the same losses
    np.testing.assert_allclose(out["train_loss"], one.values["train_loss"].reshape(-1),
                               rtol=1e-6)


def test_standard_error_matches_numpy_on_a_known_split():
    losses = per_sample_losses()
    k = 3  # 1437 = 3 · 479: equal shards
    means = np.array([losses[a:b].mean() for a, b in shard_bounds(len(losses), k)])
    expect = np.std(means, ddof=1) / np.sqrt(k)
    job = prepare(demo_recipe())
    out = shard_workspace(job.workspace, k).evaluate(np.zeros((1, 2)))
    assert out["train_loss_se"][0] == pytest.approx(expect, rel=1e-5)
    assert out["train_loss"][0] == pytest.approx(losses.mean(), rel=1e-6)


def test_weighted_standard_error_for_unequal_shards():
    rng = np.random.default_rng(0)
    means, counts = rng.normal(size=(6, 4)), np.array([10, 30, 25, 5])
    w = counts / counts.sum()
    m = (w * means).sum(1, keepdims=True)
    expect = np.sqrt(4 / 3 * (w**2 * (means - m) ** 2).sum(1))
    np.testing.assert_allclose(standard_error(means, counts), expect, rtol=1e-12)
    equal = np.full(4, 7)  # equal shards: numpy's standard error of the mean
    np.testing.assert_allclose(standard_error(means, equal),
                               np.std(means, axis=1, ddof=1) / 2, rtol=1e-12)
    assert np.isnan(standard_error(means[:, :1], counts[:1])).all()
    with pytest.raises(InputError, match="shards"):
        shard_bounds(3, 4)


def test_shards_flag_stores_the_standard_error(tmp_path, capsys):
    out = tmp_path / "se.h5"
    code = main(["surface", "--demo", "--x=-1:1:5", "--y=-1:1:3", "--shards", "3",
                 "--precision", "fp32", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    r = read_result(out)
    assert r.done.all() and np.isfinite(r.values["train_loss_se"]).all()
    assert quantity("train_loss_se").label == "train loss standard error"
    assert quantity("train_acc_se").unit == "%"
    main(["info", str(out)])
    assert "train_loss_se (train loss standard error)" in capsys.readouterr().out


def test_tiles_go_out_in_plan_order_and_lost_ones_come_back_first():
    q = TileQueue(np.array([4, 0, 8, 2, 6]), 9)
    a, b = q.take(2), q.take(2)
    np.testing.assert_array_equal(a, [4, 0])
    q.give_back(b)
    q.give_back(a)
    np.testing.assert_array_equal(q.take(10), [4, 0])  # earliest in the plan first
    np.testing.assert_array_equal(q.take(10), [8, 2])
    np.testing.assert_array_equal(q.take(10), [6])
    assert not q.left
    book = DecisionBook([{"mode": "single"}])
    assert book.id_of({"mode": "single"}) == 0
    assert book.id_of({"mode": "multi"}, device="cpu") == 1
    assert book.id_of({"mode": "multi"}, device="cpu") == 1


def test_workers_one_per_gpu_or_per_group_of_cores_and_tiles_of_half_a_second():
    gpus = {"CPU": 64, "GPU": 8}
    assert worker_resources(gpus, "auto") == (8, 1.0, 1.0)
    assert worker_resources(gpus, "auto", workers=3, cpus=4) == (3, 4.0, 1.0)
    assert worker_resources(gpus, "cpu") == (16, 4.0, 0.0)  # groups of 4 cores
    assert worker_resources({"CPU": 2}, "auto", workers=2) == (2, 1.0, 0.0)
    assert worker_resources({"CPU": 2}, "auto") == (1, 2.0, 0.0)
    with pytest.raises(InputError, match="needs --gpus-per-worker"):
        worker_resources({"CPU": 2}, "cuda")
    with pytest.raises(InputError, match="the cluster has 2 CPUs and 0 GPUs"):
        worker_resources({"CPU": 2}, "auto", gpus=1)
    assert tile_size(4, 0.02, {}) == 100  # 5 ms a point: 0.5 s is 100 points
    assert tile_size(4, 0.02, {"multi_k": 8}) == 104  # whole multi-point groups
    assert tile_size(2, 4.0, {}) == 1 and tile_size(4, 0.0, {}) == MAX_TILE


def test_without_ray_asking_for_it_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    from lossviz_core.run.ray_executor import RayExecutor

    with pytest.raises(InputError) as err:
        RayExecutor()
    assert str(err.value) == "the Ray executor needs ray: pip install 'lossviz[ray]'"
    with pytest.raises(SystemExit) as stop:
        main(["surface", "--demo", "--executor", "ray", "--out", str(tmp_path / "r.h5")])
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "pip install 'lossviz[ray]'" in lines[0]
    assert not (tmp_path / "r.h5").exists()
    code = main(["surface", "--demo", "--workers", "2", "--out", str(tmp_path / "r.h5")])
    assert code == 2 and "--workers needs --executor ray" in capsys.readouterr().err
