"""`lossviz curvature` and `lossviz surface --measure curvature` on the demo."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lossviz_core import demo
from lossviz_core.cli import main
from lossviz_core.curvature import HessianOperator, examples_of, top_eigenpairs
from lossviz_core.data import load_dataset
from lossviz_core.models import build_model
from lossviz_core.recipe.spec import DatasetSpec
from lossviz_core.results.store import read_result
from lossviz_core.sources.checkpoints import load_into

QUICK = ["--no-sharpness", "--trace-hvps", "12", "--density-steps", "12", "--subsample", "300"]


def test_the_report_has_every_key_and_the_right_spectrum(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["curvature", "--demo", "--top-k", "3", "--hessian-params", "all", *QUICK,
                 "--out", str(out), "--plot", str(tmp_path / "r.png")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Hessian-vector products" in err and "ETA" in err
    r = json.loads(out.read_text())
    for key in ("eigenvalues", "lambda_min", "trace", "trace_stderr", "per_layer", "sharpness",
                "density", "converged", "examples"):
        assert key in r, key
    assert r["examples"] == 300 and len(r["eigenvalues"]) == 3
    assert r["eigenvalues"] == sorted(r["eigenvalues"], reverse=True)
    assert {"grid", "values"} <= set(r["density"])
    # the same Hessian built here, by hand: its top eigenvalue
    model = build_model(demo.DEMO_MODEL)
    load_into(model, demo.final_checkpoint())
    data = load_dataset(DatasetSpec("digits", subsample=300))
    op = HessianOperator.from_model(model.eval(), examples_of(data), "ce", params="all")
    want = top_eigenpairs(op, k=1, tol=1e-6, vectors=False).values[0]
    assert r["eigenvalues"][0] == pytest.approx(want, rel=1e-3)
    assert r["lambda_min"] <= r["eigenvalues"][-1]
    assert (tmp_path / "r.png").stat().st_size > 5000
    assert main(["curvature", "--demo", *QUICK, "--out", str(out)]) == 2  # never replaced
    assert "already exists" in capsys.readouterr().err


def test_plain_lossviz_curvature_demo_writes_curvature_json_here(tmp_path, monkeypatch,
                                                                 capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["curvature", "--demo", "--top-k", "1", "--no-per-layer", *QUICK])
    assert code == 0, capsys.readouterr().err
    r = json.loads((tmp_path / "curvature.json").read_text())
    assert len(r["eigenvalues"]) == 1 and r["eigenvalues"][0] > 0 and r["examples"] == 300


def test_a_surface_with_the_convexity_map(tmp_path, capsys):
    out = tmp_path / "c.h5"
    code = main(["surface", "--demo", "--measure", "curvature", "--subsample", "200",
                 "--x=-0.5:0.5:3", "--y=-0.5:0.5:2", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Hessian-vector products per point" in err
    r = read_result(out)
    assert {"train_loss", "train_acc", "max_eig", "min_eig", "eig_ratio"} <= set(r.values)
    assert r.done.all() and np.isfinite(r.values["max_eig"]).all()
    np.testing.assert_allclose(r.values["eig_ratio"],
                               np.abs(r.values["min_eig"] / r.values["max_eig"]))
    assert r.recipe.measures == ("loss", "curvature")
    assert main(["info", str(out)]) == 0
    assert "convexity |λmin/λmax|" in capsys.readouterr().out


@pytest.mark.parametrize(("flags", "says"), [
    (["--density-steps", "0"], "--density-steps must be at least 2, got 0"),
    (["--maxiter", "0"], "--maxiter must be at least 1, got 0"),
    (["--trace-hvps", "1"], "--trace-hvps must be at least 3, got 1"),
    (["--tol", "-1"], "--tol must be 0 or more, got -1.0"),
    (["--epsilon", "nan"], "--epsilon must be positive, got nan"),
])
def test_options_no_solver_can_use_are_one_line_before_any_work(tmp_path, capsys, flags, says):
    out = tmp_path / "c.json"
    assert main(["curvature", "--demo", *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == f"lossviz: error: {says}"
    assert "Traceback" not in err and "products" not in err and not out.exists()
