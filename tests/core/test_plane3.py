"""The plane through three models: each model's own loss (plain PyTorch) at its coordinates,
on a user's model file with BatchNorm; BatchNorm re-estimated at every point; refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from geometry_helpers import digits_train, plain_loss
from test_cli import assert_one_line_error, run_cli

from lossviz_core.connect.bn import recompute_bn
from lossviz_core.results.store import read_result
from lossviz_core.sources.checkpoints import save_checkpoint

MODEL = '''
import torch
from torch import nn

def make(num_classes=10):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(),
                         nn.Linear(32, num_classes))
'''


@pytest.fixture
def three_models(tmp_path):
    """A user's model file and three differently trained checkpoints of it."""
    code = tmp_path / "net.py"
    code.write_text(MODEL)
    namespace: dict = {}
    exec(MODEL, namespace)  # the same module a user's file defines
    x, y = digits_train()
    paths = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        model = namespace["make"]()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(10 * seed):  # different amounts of training: three different losses
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        paths.append(tmp_path / f"m{seed}.pt")
        save_checkpoint(model, paths[-1])
    return code, paths, namespace["make"], (x, y)


def test_each_model_has_its_own_loss_at_its_coordinates(three_models, tmp_path, capsys):
    code, paths, make, (x, y) = three_models
    out = tmp_path / "plane.h5"
    rc, _, err = run_cli(capsys, "surface", "--model", f"{code}:make", "--dataset", "digits",
                         "--plane", ",".join(map(str, paths)), "--x=-0.5:1.5:5",
                         "--y=-0.5:1.5:5", "--out", str(out))
    assert rc == 0, err
    r = read_result(out)
    own = [plain_loss(make(), torch.load(p, weights_only=True)["state_dict"], x, y)
           for p in paths]
    t = r.trajectory
    assert t.labels == ("A", "B", "C")
    assert (t.x[0], t.y[0], t.x[1], t.y[1], t.y[2]) == (0, 0, 1, 0, 1)
    assert t.loss == pytest.approx(own, rel=1e-5)
    # A and B are grid points: the map holds their own losses there too
    assert r.values["train_loss"][1, 1] == pytest.approx(own[0], rel=1e-5)
    assert r.values["train_loss"][1, 3] == pytest.approx(own[1], rel=1e-5)
    # C's first coordinate: its projection on d₁ = θ_B − θ_A
    sa, sb, sc = (torch.load(p, weights_only=True)["state_dict"] for p in paths)
    dot = lambda u, v: sum(float((u[k].double() * v[k].double()).sum())  # noqa: E731
                           for k in sa if sa[k].is_floating_point())
    d1 = {k: sb[k] - sa[k] for k in sa}
    v = {k: sc[k] - sa[k] for k in sa}
    assert t.x[2] == pytest.approx(dot(v, d1) / dot(d1, d1), rel=1e-6)
    models = r.specs["directions_info"]["models"]
    assert [m["label"] for m in models] == ["A", "B", "C"]
    assert "A at (0, 0)" in err and "C at (" in err
    code_, text, _ = run_cli(capsys, "info", str(out))
    assert "the models on the plane" in text


def test_recompute_bn_reestimates_statistics_at_every_point(three_models, tmp_path, capsys):
    code, paths, make, (x, y) = three_models
    out = tmp_path / "plane.h5"
    rc, _, err = run_cli(capsys, "surface", "--model", f"{code}:make", "--dataset", "digits",
                         "--plane", ",".join(map(str, paths)), "--recompute-bn",
                         "--x=0:1:3", "--y=0:1:2", "--out", str(out))
    assert rc == 0, err
    r = read_result(out)
    assert r.recipe.directions.param("recompute_bn") is True
    # plain PyTorch at (0.5, 0): the midpoint of A and B, statistics from the training data
    sa, sb = (torch.load(p, weights_only=True)["state_dict"] for p in paths[:2])
    mid = {k: (sa[k] + sb[k]) / 2 if sa[k].is_floating_point() else sa[k] for k in sa}
    model = make()
    model.load_state_dict(mid)
    bn = model[2]
    bn.reset_running_stats()
    model.train()
    with torch.no_grad():  # Garipov et al.'s update_bn: batches of 256 weighted by size
        for s in range(0, len(x), 256):
            xb = x[s:s + 256]
            bn.momentum = len(xb) / (s + len(xb))
            model(xb)
    expected = plain_loss(model, model.state_dict(), x, y)
    assert r.values["train_loss"][0, 1] == pytest.approx(expected, rel=1e-5)


def test_recompute_bn_gives_the_data_mean():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    x = torch.randn(300, 1, 8, 8)

    class S:  # a split of tensors
        pass

    split = S()
    split.x = x
    assert recompute_bn(net, split, batch_size=64)
    h = net[0](x).detach()
    # batch means weighted by batch sizes: the mean over all the data
    assert torch.allclose(net[1].running_mean, h.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(net[1].running_var, h.var((0, 2, 3)), rtol=0.05)
    assert not net.training and net[1].momentum == 0.1


def test_three_models_on_one_line_are_refused(three_models, tmp_path, capsys):
    code, paths, make, _ = three_models
    rc, _, err = run_cli(capsys, "surface", "--model", f"{code}:make", "--dataset", "digits",
                         "--plane", f"{paths[0]},{paths[1]},{paths[1]}", "--x=0:1:2",
                         "--y=0:1:2", "--out", str(tmp_path / "p.h5"))
    assert_one_line_error(rc, err, "lies on the line through A and B")
    rc, _, err = run_cli(capsys, "surface", "--model", f"{code}:make", "--dataset", "digits",
                         "--plane", f"{paths[0]},{paths[1]}", "--out", str(tmp_path / "p.h5"))
    assert_one_line_error(rc, err, "three models")


def test_plane_resumes_from_its_file_alone(three_models, tmp_path, capsys, cut_after_one_chunk,
                                          monkeypatch):
    code, paths, _, _ = three_models
    out, full = tmp_path / "plane.h5", tmp_path / "full.h5"
    args = ("surface", "--model", f"{code}:make", "--dataset", "digits", "--plane",
            ",".join(map(str, paths)), "--x=-0.5:1.5:5", "--y=-0.5:1.5:4")
    assert run_cli(capsys, *args, "--out", str(full))[0] == 0
    cut_after_one_chunk()
    assert run_cli(capsys, *args, "--out", str(out))[0] == 130
    assert not read_result(out).complete
    monkeypatch.undo()  # Ctrl-C no more
    rc, _, err = run_cli(capsys, "surface", "--resume", "--out", str(out), "--allow-code")
    assert rc == 0, err
    a, b = read_result(out), read_result(full)
    for q in b.values:
        np.testing.assert_array_equal(a.values[q], b.values[q])
    np.testing.assert_array_equal(a.trajectory.loss, b.trajectory.loss)


def test_runs_stand_for_their_trained_models(digits_mlps, tmp_path, capsys):
    from lossviz_core.resolve import resolve

    a, b, c = (str(r.path) for r in digits_mlps)
    final = str(digits_mlps[0].final_checkpoint)
    recipe = resolve({"model": "digits_mlp", "checkpoint": a, "checkpoint2": b,
                      "checkpoint3": c, "x": "0:1:2", "y": "0:1:2"})
    assert recipe.model.checkpoint == final and recipe.directions.method == "plane3"
    out = tmp_path / "p.h5"  # no --model: A's run folder gives the model and the data
    code, _, err = run_cli(capsys, "surface", "--plane", f"{a},{b},{c}", "--x=0:1:2",
                           "--y=0:1:2", "--out", str(out))
    assert code == 0, err
    r = read_result(out)
    assert r.recipe.model.checkpoint == final
    assert r.specs["directions_info"]["models"][2]["checkpoint"] == str(
        digits_mlps[2].final_checkpoint)
