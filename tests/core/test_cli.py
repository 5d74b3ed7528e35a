"""The command line: real runs on the demo, and one-line errors for bad input."""

import h5py
import numpy as np
import pytest
import torch

from lossviz_core import demo
from lossviz_core.cli import main
from lossviz_core.results.store import read_result


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, needle):
    assert code != 0
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("lossviz: error")]
    assert len(lines) == 1, err
    assert needle.lower() in lines[0].lower(), err


def test_models_lists_the_zoo(capsys):
    code, out, _ = run_cli(capsys, "models")
    assert code == 0
    for name in ("resnet56", "resnet56_noshort", "resnet110", "vgg9", "digits_cnn"):
        assert name in out


def test_demo_surface_plot_and_info(tmp_path, capsys):
    out = tmp_path / "demo.h5"
    code, _, err = run_cli(capsys, "surface", "--demo", "--x=-1:1:5", "--y=-1:1:4",
                           "--out", str(out))
    assert code == 0, err
    r = read_result(out)
    assert r.shape == (4, 5) and r.done.all()
    loss = r.values["train_loss"]
    assert np.isfinite(loss).all()
    # The centre column/row is not on this grid; the minimum is near the middle, not the corners.
    assert loss.min() < loss[[0, 0, -1, -1], [0, -1, 0, -1]].min()
    fig = tmp_path / "demo.png"
    code, _, err = run_cli(capsys, "plot", str(out), "--out", str(fig))
    assert code == 0, err
    assert fig.stat().st_size > 1000 and fig.read_bytes()[:4] == b"\x89PNG"
    code, text, _ = run_cli(capsys, "info", str(out))
    assert code == 0 and "surface, 4x5 points (20 computed)" in text


def test_demo_line_is_interpolation_between_the_pair(tmp_path, capsys):
    out = tmp_path / "line.h5"
    code, _, err = run_cli(capsys, "line", "--demo", "--x=0:1:3", "--out", str(out))
    assert code == 0, err
    r = read_result(out)
    assert r.is_line and r.recipe.directions.method == "target"
    assert {"train_loss", "test_loss"} <= set(r.values)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["surface", "--model", "nosuchnet", "--checkpoint", "{ckpt}", "--out", "{out}"], "nosuchnet"),
        (["surface", "--demo", "--x", "1:2", "--out", "{out}"], "MIN:MAX:NUM"),
        (["surface", "--demo", "--x", "1:0:5", "--out", "{out}"], "greater"),
        (["surface", "--model", "digits_cnn", "--checkpoint", "{tmp}/missing.pt", "--out", "{out}"], "not found"),
        (["surface", "--model", "digits_cnn", "--checkpoint", "{garbage}", "--out", "{out}"], "garbage.pt"),
        (["surface", "--model", "digits_cnn", "--checkpoint", "{wrong}", "--out", "{out}"], "missing"),
        (["surface", "--demo", "--dataset", "cifar10", "--data-root", "{tmp}/none", "--out", "{out}"], "cifar"),
        (["plot", "{garbage}", "--out", "{tmp}/x.png"], "cannot open"),
        (["info", "{tmp}/missing.h5"], "no such file"),
        (["plot", "{h5}", "--out", "{tmp}/x.bmp"], "bmp"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path, capsys, argv, needle):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00 this is not a checkpoint")
    wrong = tmp_path / "wrong.pt"
    torch.save({"state_dict": {"foo.weight": torch.zeros(3)}}, wrong)
    h5 = tmp_path / "ok.h5"
    with h5py.File(h5, "w") as f:
        f["xcoordinates"] = np.linspace(-1, 1, 3)
        f["train_loss"] = np.ones(3)
    subs = {"{ckpt}": str(demo.final_checkpoint()), "{out}": str(tmp_path / "o.h5"),
            "{tmp}": str(tmp_path), "{garbage}": str(garbage), "{wrong}": str(wrong),
            "{h5}": str(h5)}
    args = []
    for a in argv:
        for k, v in subs.items():
            a = a.replace(k, v)
        args.append(a)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse errors exit directly, with one line
        code = exc.code
    err = capsys.readouterr().err
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "o.h5").exists()  # nothing half-written


def test_existing_output_is_kept_unless_resume(tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert run_cli(capsys, "surface", "--demo", "--x=-1:1:3", "--y=-1:1:3", "--out", str(out))[0] == 0
    before = read_result(out).values["train_loss"].copy()
    code, _, err = run_cli(capsys, "surface", "--demo", "--x=-1:1:3", "--y=-1:1:3", "--out", str(out))
    assert_one_line_error(code, err, "already exists")
    np.testing.assert_array_equal(read_result(out).values["train_loss"], before)
    code, _, err = run_cli(capsys, "surface", "--demo", "--x=-1:1:3", "--y=-1:1:3", "--out",
                           str(out), "--resume")
    assert code == 0, err


def test_non_finite_losses_are_stored_and_reported(tmp_path, capsys):
    out = tmp_path / "far.h5"
    code, _, err = run_cli(capsys, "surface", "--demo", "--x=-1e30:1e30:3", "--y=-1e30:1e30:3",
                           "--out", str(out), "--precision", "fp32")
    assert code == 0, err
    r = read_result(out)
    assert r.done.all()  # computed, even where the loss overflowed
    loss = r.values["train_loss"]
    assert np.isfinite(loss[1, 1])  # the centre is the trained model
    assert (~np.isfinite(loss)).sum() == 8
    assert "8 points have a non-finite loss" in err


def test_ctrl_c_leaves_a_resumable_file(tmp_path, capsys, monkeypatch):
    """Ctrl-C mid-surface: exit 130, the finished chunks saved, --resume completes the rest."""
    from lossviz_core.run import grid as surface

    real = surface.iter_surface
    out = tmp_path / "cut.h5"

    def interrupted(*args, **kwargs):
        gen = real(*args, **kwargs)
        yield next(gen)
        yield next(gen)
        raise KeyboardInterrupt

    monkeypatch.setattr("lossviz_core.run.executor.iter_surface", interrupted)
    args = ("surface", "--demo", "--x=-1:1:7", "--y=-1:1:5", "--out", str(out))
    code, _, err = run_cli(capsys, *args)
    assert code == 130 and "--resume" in err and "Traceback" not in err
    cut = read_result(out)
    assert 0 < cut.done.sum() < 35
    monkeypatch.setattr("lossviz_core.run.executor.iter_surface", real)
    code, _, err = run_cli(capsys, *args, "--resume")
    assert code == 0, err
    again = read_result(out)
    assert again.done.all()
    np.testing.assert_array_equal(again.values["train_loss"][cut.done],
                                  cut.values["train_loss"][cut.done])
