"""Whole jobs on the bundled demo: centre = the checkpoint's own loss, precision, PCA plane."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossviz_core import demo
from lossviz_core.data import load_dataset
from lossviz_core.models import build_model
from lossviz_core.progress import drain
from lossviz_core.recipe.spec import ComputeSpec, GridSpec, LossSpec, Range
from lossviz_core.results.store import read_result
from lossviz_core.run.job import prepare
from lossviz_core.runs import read_run
from lossviz_core.sources.checkpoints import load_into


def plain_loss(checkpoint, split="train"):
    """The checkpoint's own loss, computed the plain way with no LossViz machinery."""
    model = build_model(demo.DEMO_MODEL)
    load_into(model, checkpoint)
    model.eval()
    data = load_dataset(demo.recipe("surface").dataset)
    s = getattr(data, split)
    with torch.no_grad():
        out = model(s.x)
    return F.cross_entropy(out, s.y).item(), (out.argmax(1) == s.y).float().mean().item() * 100


def test_centre_of_non_square_surface_is_the_checkpoints_own_loss(tmp_path):
    r = demo.recipe("surface")
    r = r.replace(grid=GridSpec(Range(-0.5, 0.5, 5), Range(-1, 1, 3)), loss=LossSpec(split="both"))
    job = prepare(r)
    result = drain(job.iter(out=tmp_path / "c.h5"))
    assert result.shape == (3, 5)
    for split in ("train", "test"):
        loss, acc = plain_loss(r.model.checkpoint, split)
        assert result.values[f"{split}_loss"][1, 2] == pytest.approx(loss, rel=1e-4, abs=1e-6)
        assert result.values[f"{split}_acc"][1, 2] == pytest.approx(acc, abs=1e-6)
    # Off-centre points are worse than the trained minimum.
    assert (result.values["train_loss"] >= result.values["train_loss"][1, 2] - 1e-6).all()
    back = read_result(tmp_path / "c.h5")
    np.testing.assert_array_equal(back.values["test_loss"], result.values["test_loss"])


def test_bf16_and_fp32_demo_surfaces_agree_within_one_percent():
    r = demo.recipe("surface").replace(grid=GridSpec(Range(-0.5, 0.5, 3), Range(-0.5, 0.5, 3)))
    fp32 = drain(prepare(r.replace(compute=ComputeSpec(precision="fp32"))).iter())
    bf16 = drain(prepare(r.replace(compute=ComputeSpec(precision="bf16"))).iter())
    a, b = fp32.values["train_loss"], bf16.values["train_loss"]
    rel = np.abs(a - b) / np.abs(a)
    assert rel.max() < 0.01
    assert not np.array_equal(a, b)  # bf16 really ran


def test_pca_plane_stores_trajectory_with_losses_and_variance(tmp_path):
    r = demo.recipe("pca")
    g = r.grid
    r = r.replace(grid=GridSpec(Range(g.x.min, g.x.max, 4), Range(g.y.min, g.y.max, 3)))
    job = prepare(r)
    drain(job.iter(out=tmp_path / "pca.h5"))
    back = read_result(tmp_path / "pca.h5")
    traj = back.trajectory
    assert traj is not None
    ev = demo.describe()["trajectory"]["pca"]["explained_variance"]
    np.testing.assert_allclose(traj.explained_variance, ev, rtol=1e-6)
    assert back.axis_labels()[0].startswith("PC1: ")
    # The final checkpoint sits at the origin of the plane, on it.
    assert traj.x[-1] == pytest.approx(0, abs=1e-6) and traj.off_plane[-1] == pytest.approx(0, abs=1e-6)
    # Every checkpoint's stored loss is its own loss.
    ckpts = dict(read_run(r.directions.param("run")).checkpoints)
    for k in (0, len(traj.epochs) - 1):
        expect, _ = plain_loss(ckpts[int(traj.epochs[k])])
        assert traj.loss[k] == pytest.approx(expect, rel=1e-4)


def test_with_recipe_zooms_without_reloading():
    r = demo.recipe("surface")
    job = prepare(r.replace(grid=GridSpec(Range(-1, 1, 3), Range(-1, 1, 3))))
    zoom = job.with_recipe(r.replace(grid=GridSpec(Range(0, 0.5, 2), Range(-0.25, 0.25, 3))))
    assert zoom.model is job.model and zoom.directions is job.directions
    zoomed = drain(zoom.iter())
    np.testing.assert_allclose(zoomed.x, [0, 0.5])
    np.testing.assert_allclose(zoomed.y, [-0.25, 0, 0.25])
    loss, _ = plain_loss(job.recipe.model.checkpoint)
    assert zoomed.values["train_loss"][1, 0] == pytest.approx(loss, rel=1e-4)


def test_model_trained_on_three_classes_is_plotted_with_three_outputs(tmp_path):
    from lossviz_core.recipe.spec import DatasetSpec, ModelSpec, Recipe
    from lossviz_core.train import TrainSpec, iter_training

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 1, 8, 8)).astype(np.float32)
    y = np.arange(60) % 3
    np.savez(tmp_path / "three.npz", x=x, y=y)
    ds = DatasetSpec(name=f"tensors:{tmp_path / 'three.npz'}")
    drain(iter_training(TrainSpec(model="digits_mlp", dataset=ds, epochs=1, batch_size=30),
                      tmp_path / "run"))
    job = prepare(Recipe(model=ModelSpec("digits_mlp", str(tmp_path / "run" / "model_1.pt")),
                         dataset=ds, grid=GridSpec(Range(-1, 1, 3), Range(-1, 1, 3))))
    assert job.model(torch.zeros(1, 1, 8, 8)).shape == (1, 3)
    assert np.isfinite(drain(job.iter()).values["train_loss"]).all()


def test_zoom_with_new_precision_gets_a_new_evaluator():
    r = demo.recipe("surface")
    fp32, bf16 = ComputeSpec(precision="fp32"), ComputeSpec(precision="bf16")
    job = prepare(r.replace(grid=GridSpec(Range(-1, 1, 3), Range(-1, 1, 3)), compute=fp32))
    zoomed = GridSpec(Range(0, 1, 3), Range(0, 1, 3))
    same = job.with_recipe(r.replace(grid=zoomed, compute=fp32))
    assert same.evaluator is job.evaluator
    other = job.with_recipe(r.replace(grid=zoomed, compute=bf16))
    assert other.evaluator is not job.evaluator and other.evaluator.info["precision"] == "bf16"
    assert other.specs()["recipe"]["compute"]["precision"] == "bf16"


def test_pca_ranges_fit_the_whole_trajectory_with_a_margin(tmp_path, capsys):
    from lossviz_core.cli import main
    from lossviz_core.results.store import read_result

    out = tmp_path / "fit.h5"
    assert main(["surface", "--pca", str(demo.run_dir()), "--x=0:1:7", "--y=0:1:5",
                 "--fit-ranges", "--out", str(out)]) == 0
    r = read_result(out)
    t = r.trajectory
    assert r.shape == (5, 7)  # the point counts kept
    for v, axis in ((t.x, r.x), (t.y, r.y)):
        lo, hi = min(v.min(), 0), max(v.max(), 0)
        assert axis[0] < lo and hi < axis[-1]  # every checkpoint and the centre inside
        assert axis[-1] - axis[0] < 1.5 * (hi - lo)  # a margin, not a wasteland
    assert not r.recipe.grid.fit  # the file records the grid it has
    # without ranges the PCA plane is fitted by default
    out2 = tmp_path / "default.h5"
    assert main(["surface", "--pca", str(demo.run_dir()), "--out", str(out2)]) == 0
    np.testing.assert_allclose(read_result(out2).x[[0, -1]], r.x[[0, -1]])
