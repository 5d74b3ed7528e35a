"""The tracker on a quadratic whose Hessian is known: λmax at every record equals the
closed form, critical sharpness equals gᵀHg/gᵀg of the step's gradient, and above 2/λmax
gradient descent oscillates along the top eigenvector as the edge-of-stability theory says.

L(w) = mean (xᵢ·w − yᵢ)² (a bias-free linear model, the ``mse`` loss on float targets):
H = (2/n)·XᵀX, ∇L = H·w − (2/n)·Xᵀy, so gradient descent is a linear recursion the test
replays in numpy.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from lossviz_core.errors import InputError
from lossviz_core.track import TRACK_MEASURES, Tracker, read_track

pytestmark = pytest.mark.usefixtures("one_thread")


def quadratic(n: int = 64, d: int = 12, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    x = x * torch.linspace(0.3, 2.0, d, dtype=torch.float64)  # a spread spectrum
    y = torch.randn(n, generator=g, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, d, generator=g, dtype=torch.float64))
    hess = (2.0 / n) * (x.T @ x).numpy()
    return model, x, y, hess


def gradient_descent(model, x, y, lr, steps, tracker):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0, weight_decay=0.0)
    ws = [model.weight.detach().numpy().ravel().copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x).squeeze(1) - y) ** 2).mean()
        loss.backward()
        opt.step()
        tracker.step(loss)
        ws.append(model.weight.detach().numpy().ravel().copy())
    return np.array(ws)


def test_lambda_max_and_critical_sharpness_equal_the_closed_forms(tmp_path):
    model, x, y, hess = quadratic()
    evals, evecs = np.linalg.eigh(hess)
    lr = 1.5 / evals[-1]
    tracker = Tracker(tmp_path / "run", model, (x, y), loss="mse", every=1, tol=1e-10,
                      measures="lambda_max,sharpness,slice,grad_norm", lr=lr)
    ws = gradient_descent(model, x, y, lr, 12, tracker)
    records = read_track(tmp_path / "run")
    assert [r["step"] for r in records] == list(range(1, 13))
    b = (2.0 / len(y)) * (x.T @ y).numpy()
    for r in records:
        s = r["step"]
        assert r["lambda_max"] == pytest.approx(evals[-1], rel=1e-9)
        assert r["lr"] == pytest.approx(lr)
        g = hess @ ws[s - 1] - b  # the gradient the step used
        assert r["sharpness"] == pytest.approx(g @ hess @ g / (g @ g), rel=1e-7)
        assert r["sharpness"] <= r["lambda_max"] * (1 + 1e-9)
        now = hess @ ws[s] - b
        assert r["grad_norm"] == pytest.approx(np.linalg.norm(now), rel=1e-9)
        # the slice is the quadratic along the update: c = 0 before the step, 1 after it
        loss = lambda w: float(np.mean((x.numpy() @ w - y.numpy()) ** 2))  # noqa: E731
        for c, value in zip(r["slice"]["c"], r["slice"]["loss"], strict=True):
            assert value == pytest.approx(loss(ws[s - 1] + c * (ws[s] - ws[s - 1])), rel=1e-10)
    # warm starts after the first record: far fewer products than a cold start
    assert not records[0]["lambda_max_warm"] and all(r["lambda_max_warm"] for r in records[1:])
    assert np.mean([r["lambda_max_hvps"] for r in records[1:]]) < records[0]["lambda_max_hvps"]


@pytest.mark.parametrize("factor", [1.8, 2.2])
def test_above_two_over_lambda_max_gradient_descent_oscillates_and_the_loss_rises(tmp_path,
                                                                                  factor):
    model, x, y, hess = quadratic(seed=1)
    evals, evecs = np.linalg.eigh(hess)
    top = evecs[:, -1]
    lr = factor / evals[-1]
    tracker = Tracker(tmp_path / "run", model, (x, y), loss="mse", every=1, tol=1e-10,
                      measures="lambda_max,sharpness,slice", lr=lr)
    ws = gradient_descent(model, x, y, lr, 40, tracker)
    records = read_track(tmp_path / "run")
    w_star = np.linalg.lstsq(x.numpy(), y.numpy(), rcond=None)[0]
    e = (ws - w_star) @ top  # the error along the top eigenvector
    ratio = e[1:] / e[:-1]
    # theory: e_{t+1} = (1 − lr·λmax)·e_t, a sign flip every step (lr·λmax > 1)
    np.testing.assert_allclose(ratio, 1 - lr * evals[-1], rtol=1e-8)
    losses = np.array([r["loss"] for r in records])  # the loss before each step
    if factor > 2:  # past the edge of stability: the top mode grows and the loss with it
        assert np.all(np.abs(ratio) > 1) and losses[-1] > losses[0]
        assert (losses[-1] / losses[-2]) == pytest.approx((1 - lr * evals[-1]) ** 2, rel=1e-2)
    else:
        assert np.all(np.abs(ratio) < 1) and np.all(np.diff(losses) < 0)
    for r in records:
        assert r["lambda_max"] == pytest.approx(evals[-1], rel=1e-9)
        # a step raises the loss exactly when its rate exceeds 2 / critical sharpness
        before, after = r["slice"]["loss"][1], r["slice"]["loss"][3]  # c = 0 and c = 1
        assert (after > before) == (lr > 2 / r["sharpness"])


def test_records_are_lines_readable_while_training_and_tracking_changes_nothing(tmp_path):
    model, x, y, _ = quadratic(seed=2)
    twin, *_ = quadratic(seed=2)
    tracker = Tracker(tmp_path / "run", model, (x, y), loss="mse", every=3, lr=0.01,
                      total_steps=8, measures=tuple(TRACK_MEASURES))
    ws = gradient_descent(model, x, y, 0.01, 8, tracker)
    untracked = gradient_descent(twin, x, y, 0.01, 8, _NoTracker())
    np.testing.assert_array_equal(ws, untracked)  # bit for bit: the tracker only reads
    lines = (tmp_path / "run" / "track.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == [3, 6, 8]  # every 3, and the last step
    assert all({"step", "epoch", "lambda_max", "sharpness", "slice", "grad_norm",
                "checkpoint"} <= set(r) for r in records)
    # a line being written is not a record yet
    with open(tmp_path / "run" / "track.jsonl", "a") as f:
        f.write('{"step": 9, "lambda')
    assert [r["step"] for r in read_track(tmp_path / "run")] == [3, 6, 8]
    # the checkpoints form a run folder of the tracked steps
    from lossviz_core.runs import read_run
    from lossviz_core.sources.checkpoints import load_state_dict

    run = read_run(tmp_path / "run" / "steps")
    assert [e for e, _ in run.checkpoints] == [3, 6, 8]
    np.testing.assert_array_equal(load_state_dict(run.final_checkpoint)["weight"].numpy().ravel(),
                                  ws[-1])


def test_bad_input_is_one_line(tmp_path):
    model, x, y, _ = quadratic()
    with pytest.raises(InputError, match="unknown tracked measure 'nope'"):
        Tracker(tmp_path / "a", model, (x, y), measures="lambda_max,nope")
    with pytest.raises(InputError, match="probe examples"):
        Tracker(tmp_path / "b", model)
    with pytest.raises(InputError, match="whole number"):
        Tracker(tmp_path / "c", model, (x, y), every=0)
    Tracker(tmp_path / "d", model, (x, y))
    with pytest.raises(InputError, match="already holds track.jsonl"):
        Tracker(tmp_path / "d", model, (x, y))


class _NoTracker:
    def step(self, loss=None):
        return None


def test_the_edge_of_stability_figure_draws_the_records_and_two_over_lr(tmp_path, capsys):
    from lossviz_core.cli import main
    from lossviz_core.export.eos import build_eos_figure

    model, x, y, hess = quadratic(seed=3)
    lam = np.linalg.eigvalsh(hess)[-1]
    opt = torch.optim.SGD(model.parameters(), lr=1.9 / lam, momentum=0.5)
    tracker = Tracker(tmp_path / "run", model, (x, y), loss="mse", every=2, optimizer=opt,
                      measures="lambda_max,sharpness")
    for _ in range(8):
        opt.zero_grad()
        loss = ((model(x).squeeze(1) - y) ** 2).mean()
        loss.backward()
        opt.step()
        tracker.step(loss)
    records = read_track(tmp_path / "run")
    fig = build_eos_figure(records)
    top = fig.axes[0]
    lines = {ln.get_label(): ln for ln in top.get_lines()}
    assert set(lines) >= {"λmax (top Hessian eigenvalue)", "critical sharpness λc", "2/lr",
                          "(2+2β)/lr"}
    np.testing.assert_allclose(lines["λmax (top Hessian eigenvalue)"].get_ydata(), lam,
                               rtol=1e-6)
    np.testing.assert_allclose(lines["2/lr"].get_ydata(), 2 * lam / 1.9)
    np.testing.assert_allclose(lines["(2+2β)/lr"].get_ydata(), 3 * lam / 1.9)
    assert main(["eos", str(tmp_path / "run"), "--out", str(tmp_path / "eos.svg")]) == 0
    assert "2/lr" in (tmp_path / "eos.svg").read_text()
    assert main(["eos", str(tmp_path), "--out", str(tmp_path / "none.png")]) == 2
    assert "has no track.jsonl" in capsys.readouterr().err
