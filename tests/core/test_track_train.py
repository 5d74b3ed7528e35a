"""`lossviz train --track`: the records a digits run writes, against `lossviz curvature` on
the checkpoint the run saved; the transformers callback in a real `Trainer`."""

from __future__ import annotations

import json

import pytest

from lossviz_core.cli import main
from lossviz_core.results.store import read_result
from lossviz_core.runs import read_run
from lossviz_core.track import read_track

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_last_tracked_lambda_max_equals_lossviz_curvature_on_the_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--model", "digits_cnn", "--epochs", "2", "--batch-size", "128",
                 "--lr", "0.05", "--track", "lambda_max,sharpness,slice,grad_norm,checkpoints",
                 "--track-every", "5", "--track-examples", "300", "--out", str(run)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "λmax" in err and "2/lr 40" in err  # a line per record while training
    records = read_track(run)
    steps_per_epoch = 1437 // 128 + 1  # the digits training split, 1,437 images
    last = 2 * steps_per_epoch
    assert [r["step"] for r in records] == [*range(5, last, 5), last]
    assert [r["epoch"] for r in records][-1] == 2
    assert all(r["lambda_max_converged"] for r in records)
    # `lossviz curvature` on the final checkpoint, the same 300 examples (seed 0) and the
    # same parameters (all): its top eigenvalue is the last record's
    out = tmp_path / "c.json"
    code = main(["curvature", "--model", "digits_cnn", "--checkpoint",
                 str(read_run(run).final_checkpoint), "--dataset", "digits",
                 "--hessian-params", "all", "--hessian-subsample", "300", "--top-k", "1",
                 "--no-per-layer", "--no-sharpness", "--trace-hvps", "3",
                 "--density-steps", "3", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report["examples"] == 300
    assert records[-1]["lambda_max"] == pytest.approx(report["eigenvalues"][0], rel=1e-3)
    # the tracked checkpoints are a run folder of their own, one per record
    steps = read_run(run / "steps")
    assert [e for e, _ in steps.checkpoints] == [r["step"] for r in records]
    assert steps.model_name == "digits_cnn"
    # a PCA plane of them counts steps, in the file and in every label drawn from it
    plane = tmp_path / "steps.h5"
    assert main(["surface", "--pca", str(run / "steps"), "--x=-1:1:3", "--y=-1:1:3",
                 "--out", str(plane)]) == 0, capsys.readouterr().err
    traj = read_result(plane).trajectory
    assert traj.unit == "step" and list(traj.epochs) == [r["step"] for r in records]
    assert traj.point_label(0) == f"step {records[0]['step']}"
    # bad input: one line, nothing trained
    assert main(["train", "--model", "digits_cnn", "--track", "lambda_max,wrong",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "unknown tracked measure 'wrong'" in capsys.readouterr().err
