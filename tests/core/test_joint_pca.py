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


def test_run_labels_and_point_names_read_back_and_other_text_is_refused(tmp_path):
    """The joint plane's run labels (and the three-model plane's names) are byte strings in
    the file; the reader takes them there, and refuses text anywhere else."""
    import h5py

    from lossviz_core.errors import LossVizError
    from lossviz_core.results.result import SurfaceResult, Trajectory
    from lossviz_core.results.store import save_result

    traj = Trajectory(epochs=np.array([0, 1, 0, 1]), x=np.array([0.5, 0.0, -0.5, 0.1]),
                      y=np.array([0.2, 0.0, 0.3, 0.0]), off_plane=np.zeros(4),
                      loss=np.array([2.0, 0.5, 2.0, 0.6]), run=np.array([0, 0, 1, 1]),
                      runs=("sgd, lr 0.1, batch 64", "adam, lr 0.001, batch 64"),
                      labels=("A", "B", "C", "D"))
    r = SurfaceResult.empty(np.linspace(-1, 1, 3), np.linspace(-1, 1, 3), ("train_loss",))
    r.trajectory = traj
    path = save_result(r, tmp_path / "runs.h5")
    back = read_result(path).trajectory
    assert back.runs == traj.runs and back.labels == traj.labels
    assert [list(i) for _, i in back.paths()] == [[0, 1], [2, 3]]
    with h5py.File(path, "r+") as f:
        del f["lossviz/trajectory/loss"]
        f["lossviz/trajectory/loss"] = np.array([b"2", b"1", b"2", b"1"])
    with pytest.raises(LossVizError, match="loss holds"):
        read_result(path)


def test_a_joint_plane_of_the_chosen_parameters_only(tmp_path, capsys):
    """--only on a joint plane: the directions move the chosen tensors alone, and in their
    subspace the plane holds the shared start and both runs' ends."""
    runs = []
    for name, opt in (("sgd", ["--optimizer", "sgd", "--lr", "0.1"]),
                      ("adam", ["--optimizer", "adam", "--lr", "0.01"])):
        runs.append(tmp_path / name)
        assert main(["train", "--model", "digits_mlp", "--epochs", "1", "--seed", "0", *opt,
                     "--out", str(runs[-1])]) == 0, capsys.readouterr().err
    job = prepare(resolve({"pca": str(runs[0]), "pca_with": str(runs[1]), "xignore": "none",
                           "only": "fc2.*", "x": "-1:1:3", "y": "-1:1:3"}))
    dirs = job.workspace.directions
    for name, d1, d2 in zip(dirs.names, dirs.x, dirs.y, strict=True):
        moved = name.startswith("fc2.")
        assert bool(d1.any()) == moved and bool(d2.any()) == moved, name
    assert dirs.info["only"] == ["fc2.*"]

    def fc2(path) -> np.ndarray:
        state = torch.load(path, weights_only=True)["state_dict"]
        return torch.cat([state["fc2.weight"].reshape(-1), state["fc2.bias"]]).double().numpy()

    a, b = read_run(runs[0]), read_run(runs[1])
    end_a = fc2(a.checkpoints[-1][1])
    diffs = np.stack([fc2(b.checkpoints[-1][1]) - end_a, fc2(a.checkpoints[0][1]) - end_a], 1)
    basis = np.stack([torch.cat([d[-2].reshape(-1), d[-1]]).double().numpy()
                      for d in (dirs.x, dirs.y)], 1)
    coef, *_ = np.linalg.lstsq(basis, diffs, rcond=None)
    np.testing.assert_allclose(basis @ coef, diffs, atol=1e-6 * np.abs(diffs).max())
    traj = job.result.trajectory
    assert list(traj.run) == [0, 0, 1, 1]

    def fc1(path) -> np.ndarray:
        state = torch.load(path, weights_only=True)["state_dict"]
        return torch.cat([state["fc1.weight"].reshape(-1), state["fc1.bias"]]).double().numpy()

    # off the plane by exactly what it leaves out: the other tensors' distance from the centre
    ckpts = [p for _, p in a.checkpoints] + [p for _, p in b.checkpoints]
    away = [np.linalg.norm(fc1(p) - fc1(a.checkpoints[-1][1])) for p in ckpts]
    np.testing.assert_allclose(traj.off_plane, away, rtol=1e-5, atol=1e-6)
    assert traj.off_plane[1] == 0.0 and min(traj.off_plane[[0, 2, 3]]) > 0.1
