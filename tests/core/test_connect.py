"""Mode-connecting curves (Garipov et al. 2018): a trained bend lowers the barrier, the saved
bend reproduces the file in plain PyTorch, training and evaluation resume where they stopped."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from geometry_helpers import digits_train, plain_loss, state_of
from test_cli import assert_one_line_error, run_cli

from lossviz_core.connect.bend import BendSpec, iter_train_bend
from lossviz_core.connect.curves import bend_directions, coordinates, curve_point
from lossviz_core.connect.method import CACHE_ENV
from lossviz_core.losses import resolve_loss
from lossviz_core.models import build_model
from lossviz_core.results.store import read_result
from lossviz_core.results.summary import path_barriers


@pytest.fixture(scope="module", autouse=True)
def curve_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("curves")))
        yield


@pytest.fixture(scope="module")
def connected(digits_mlps, tmp_path_factory):
    """``lossviz connect`` between two independently trained MLPs (run folders)."""
    folder = tmp_path_factory.mktemp("connect")
    out, bend = folder / "curve.h5", folder / "bend.pt"
    from lossviz_core.cli import main

    code = main(["connect", str(digits_mlps[0].path), str(digits_mlps[1].path), "--x=0:1:11",
                 "--split", "both", "--save-curve", str(bend), "--out", str(out)])
    assert code == 0
    return read_result(out), bend


def test_the_curve_lowers_the_barrier_to_at_most_half(connected):
    r, _ = connected
    b = path_barriers(r)
    assert b["line_train_loss"] > 0.1  # two independent MLPs: a real barrier between them
    assert b["train_loss"] <= 0.5 * b["line_train_loss"]
    assert b["test_loss"] < b["line_test_loss"]
    assert r.recipe.directions.method == "curve" and r.recipe.measures == ("loss", "straight")


def test_the_saved_bend_reproduces_the_file_at_t_half(connected, digits_mlps):
    r, bend_file = connected
    x, y = digits_train()
    a = state_of(digits_mlps[0].final_checkpoint)
    b = state_of(digits_mlps[1].final_checkpoint)
    bend = state_of(bend_file)
    mid = {k: 0.25 * a[k] + 0.5 * bend[k] + 0.25 * b[k] for k in a}  # Bezier, t = 1/2
    assert r.x[5] == 0.5
    assert r.values["train_loss"][5] == pytest.approx(plain_loss(build_model("digits_mlp"),
                                                                 mid, x, y), rel=1e-6)
    line = {k: 0.5 * a[k] + 0.5 * b[k] for k in a}
    assert r.values["line_train_loss"][5] == pytest.approx(
        plain_loss(build_model("digits_mlp"), line, x, y), rel=1e-6)
    # the ends are the two models
    assert r.values["train_loss"][0] == pytest.approx(plain_loss(build_model("digits_mlp"), a,
                                                                 x, y), rel=1e-6)
    assert r.values["train_loss"][-1] == pytest.approx(plain_loss(build_model("digits_mlp"), b,
                                                                  x, y), rel=1e-6)


@pytest.mark.parametrize("kind", ["bezier", "polychain"])
def test_a_curve_is_a_path_in_the_plane_of_its_bend(kind):
    torch.manual_seed(0)
    a, bend, b = torch.randn(3, 5, 4).unbind(0)
    d1, d2 = bend_directions(kind, a, bend, b)
    for t in (0.0, 0.2, 0.5, 0.7, 1.0):
        alpha, beta = coordinates(kind, t)
        assert torch.allclose(a + alpha * d1 + beta * d2, curve_point(kind, t, a, bend, b),
                              atol=1e-6)
    assert torch.allclose(curve_point(kind, 1.0, a, bend, b), b)
    if kind == "polychain":
        assert torch.allclose(curve_point(kind, 0.5, a, bend, b), bend)


def test_training_continues_exactly_where_it_stopped(digits_mlps, tmp_path):
    from lossviz_core.data.base import Split

    x, y = digits_train()
    split = Split(x, y)
    model = build_model("digits_mlp")
    a = state_of(digits_mlps[0].final_checkpoint)
    b = state_of(digits_mlps[1].final_checkpoint)
    model.load_state_dict(a)
    spec = BendSpec(epochs=4, batch_size=256)
    loss = resolve_loss("ce")
    whole = tmp_path / "whole.pt"
    for _ in iter_train_bend(model, a, b, split, loss, spec, whole):
        pass
    cut = tmp_path / "cut.pt"
    gen = iter_train_bend(model, a, b, split, loss, spec, cut)
    next(gen), next(gen)  # two epochs, then stopped
    gen.close()
    assert state_of(cut) != {} and torch.load(cut, weights_only=True)["epoch"] == 2
    steps = list(iter_train_bend(model, a, b, split, loss, spec, cut))
    assert len(steps) == 2  # epochs 3 and 4 only
    w, c = state_of(whole), state_of(cut)
    assert all(torch.equal(w[k], c[k]) for k in w)
    assert all(torch.equal(model.state_dict()[k], a[k]) for k in a)  # the model holds A still


def test_connect_resumes_from_its_file_alone(digits_mlps, tmp_path, capsys,
                                             cut_after_one_chunk, monkeypatch):
    args = ("connect", str(digits_mlps[0].path), str(digits_mlps[2].path), "--epochs", "3",
            "--curve", "polychain", "--x=0:1:9")
    whole, cut = tmp_path / "whole.h5", tmp_path / "cut.h5"
    assert run_cli(capsys, *args, "--out", str(whole))[0] == 0
    cut_after_one_chunk()
    assert run_cli(capsys, *args, "--out", str(cut))[0] == 130
    monkeypatch.undo()  # Ctrl-C no more
    code, _, err = run_cli(capsys, "connect", "--resume", "--out", str(cut))
    assert code == 0, err
    assert "epoch 1/" not in err  # the bend was trained already: read, not trained again
    a, b = read_result(whole), read_result(cut)
    for q in a.values:
        np.testing.assert_array_equal(a.values[q], b.values[q])


def test_connect_needs_two_models(digits_mlps, tmp_path, capsys):
    code, _, err = run_cli(capsys, "connect", str(digits_mlps[0].path), "--out",
                           str(tmp_path / "c.h5"))
    assert_one_line_error(code, err, "two models")
    with pytest.raises(SystemExit) as e:  # argparse's one line, exit 2
        run_cli(capsys, "connect", str(digits_mlps[0].path), str(digits_mlps[1].path),
                "--curve", "spline", "--out", str(tmp_path / "c.h5"))
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err and "spline" in err
