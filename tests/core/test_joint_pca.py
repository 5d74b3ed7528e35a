"""Several runs on one PCA plane: two runs from one initialization (SGD and Adam), each with
two checkpoints (the shared start and its own end), on a plane fitted to both. Three points
make a plane, so every checkpoint lies on it: the plane holds both final points, and the
surface at each checkpoint's projected point is that checkpoint's own loss, computed here by
plain PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossviz_core.cli import main
from lossviz_core.data import load_dataset
from lossviz_core.directions.trajectory import joint_pca_plane
from lossviz_core.models import build_model
from lossviz_core.recipe.spec import DatasetSpec
from lossviz_core.resolve import resolve
from lossviz_core.results.store import read_result
from lossviz_core.run.job import prepare
from lossviz_core.runs import read_run
from lossviz_core.sources.checkpoints import load_into

pytestmark = pytest.mark.usefixtures("one_thread")


def plain_loss(checkpoint) -> float:
    """Mean cross-entropy of the checkpoint on the digits training split, plain PyTorch."""
    model = build_model("digits_mlp")
    load_into(model, checkpoint)
    train = load_dataset(DatasetSpec("digits")).train
    with torch.no_grad():
        return float(F.cross_entropy(model.eval()(train.x), train.y, reduction="mean"))


def test_a_joint_plane_holds_both_runs_and_reproduces_their_losses(tmp_path, capsys):
    runs = {}
    for name, opt in (("sgd", ["--optimizer", "sgd", "--lr", "0.1"]),
                      ("adam", ["--optimizer", "adam", "--lr", "0.01"])):
        runs[name] = tmp_path / name
        assert main(["train", "--model", "digits_mlp", "--epochs", "1", "--seed", "0", *opt,
                     "--out", str(runs[name])]) == 0, capsys.readouterr().err
    a, b = read_run(runs["sgd"]), read_run(runs["adam"])
    start_a = torch.load(a.checkpoints[0][1], weights_only=True)["state_dict"]
    start_b = torch.load(b.checkpoints[0][1], weights_only=True)["state_dict"]
    assert all(torch.equal(start_a[k], start_b[k]) for k in start_a)  # one initialization
    out = tmp_path / "joint.h5"
    code = main(["surface", "--pca", str(runs["sgd"]), "--pca-with", str(runs["adam"]),
                 "--xignore", "none", "--x=-1:1:5", "--y=-1:1:5", "--fit-ranges",
                 "--out", str(out), "--plot", str(tmp_path / "joint.png")])
    assert code == 0, capsys.readouterr().err
    result = read_result(out)
    traj = result.trajectory
    assert traj.runs == ("SGD, lr 0.1, batch 128", "ADAM, lr 0.01, batch 128")
    assert list(traj.run) == [0, 0, 1, 1] and list(traj.epochs) == [0, 1, 0, 1]
    # both final points (and the shared start) lie on the plane
    scale = max(np.hypot(traj.x, traj.y))
    assert np.all(traj.off_plane <= 1e-6 * scale)
    assert (traj.x[1], traj.y[1]) == pytest.approx((0.0, 0.0), abs=1e-9)  # the centre: A's end
    # the trajectory's losses are the checkpoints' own, by plain PyTorch
    ckpts = [p for _, p in a.checkpoints] + [p for _, p in b.checkpoints]
    want = [plain_loss(p) for p in ckpts]
    np.testing.assert_allclose(traj.loss, want, rtol=1e-5)
    # and the plane, evaluated at each projected point, gives the same losses
    job = prepare(resolve({"pca": str(runs["sgd"]), "pca_with": str(runs["adam"]),
                           "xignore": "none", "x": "-1:1:3", "y": "-1:1:3"}))
    on_plane = job.workspace.evaluate(np.stack([traj.x, traj.y], axis=1))["train_loss"]
    np.testing.assert_allclose(on_plane, want, rtol=1e-4)
    assert (tmp_path / "joint.png").stat().st_size > 5000


def test_joint_plane_math_contains_each_final_and_first_fit_projects():
    rng = np.random.default_rng(0)
    start = rng.normal(size=50)
    runs = [np.cumsum(rng.normal(size=(6, 50)), axis=0) + start for _ in range(2)]
    thetas = [t for r in runs for t in r]
    index = np.repeat([0, 1], 6)
    joint = joint_pca_plane(thetas, index)
    finals = [5, 11]
    assert np.all(joint.off_plane[finals] <= 1e-9 * np.linalg.norm(thetas[11] - thetas[5]))
    assert abs(joint.pc1 @ joint.pc2) < 1e-12
    assert joint.explained_variance[0] >= joint.explained_variance[1] > 0
    first = joint_pca_plane(thetas, index, fit="first")
    assert first.off_plane[5] == pytest.approx(0, abs=1e-9)  # its centre
    assert first.off_plane[11] > 1e-3  # the other run's end is off the first's plane
