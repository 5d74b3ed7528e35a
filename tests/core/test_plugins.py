"""A third-party plugin (tests/plugin/lossviz_testplugin.py) adds a model source, a data
kind, a loss, a direction method and a measure, each in one module, without editing LossViz:
each appears in `lossviz surface --help`, `lossviz info`, study keys and titles, computes
the right values, resumes and runs on Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossviz_core.cli import main
from lossviz_core.results.store import read_result

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugin"
CLI = [sys.executable, "-m", "lossviz_core.cli"]
ARGS = ["--model", "affine:4", "--dataset", "blobs:64", "--blob-dims", "4", "--loss", "hinge",
        "--hinge-margin", "0.5", "--method", "radial", "--radial-scale", "0.5",
        "--measure", "weight_norm", "--x=-1:1:5", "--y=-1:1:3", "--device", "cpu",
        "--multi", "off"]


def _run(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PLUGIN_DIR)}  # "installed": its entry point is seen
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, **kw)


@pytest.fixture
def plugin():
    """The plugin registered in this process through the registration API."""
    sys.path.insert(0, str(PLUGIN_DIR))
    import lossviz_testplugin

    lossviz_testplugin.register()
    yield lossviz_testplugin
    lossviz_testplugin.unregister()
    sys.path.remove(str(PLUGIN_DIR))


def _expected(values: dict, x: np.ndarray, y: np.ndarray, plugin) -> None:
    """The file's values against plain PyTorch: the hinge loss of the affine model on the blobs
    at the centre, and ‖θ + α·d₁ + β·d₂‖ with d₁ = 0.5·θ in closed form along β = 0."""
    model = plugin.make_affine(4)
    xs, ys = plugin.blobs(64, 4, 0)
    with torch.no_grad():
        want = F.multi_margin_loss(model(xs), ys, margin=0.5).item()
    j0, i0 = list(y).index(0.0), list(x).index(0.0)
    assert values["train_loss"][j0, i0] == pytest.approx(want, rel=1e-6)
    norm = float(torch.sqrt(sum((p.detach().double() ** 2).sum() for p in model.parameters())))
    np.testing.assert_allclose(values["weight_norm"][j0], np.abs(1 + 0.5 * x) * norm, rtol=1e-6)


def test_the_plugin_appears_in_help_and_info():
    help_text = _run("surface", "--help").stdout
    for flag in ("--radial-scale", "--blob-dims", "--hinge-margin", "affine:N", "blobs:N",
                 "hinge", "weight_norm"):
        assert flag in help_text, flag
    info = _run("info").stdout
    for line in ("affine:N", "Gaussian blobs (test plugin)  [--blob-dims]",
                 "multi-class hinge (test plugin)  [--hinge-margin]",
                 "Radial (test plugin)  [--radial-scale]", "weight norm (test plugin)"):
        assert line in info, line
    line_help = _run("line", "--help").stdout  # a method's flags where it applies
    assert "--radial-scale" in line_help and "--pca" not in line_help


def test_the_plugin_computes_from_the_command_line(tmp_path, plugin):
    out = tmp_path / "p.h5"
    done = _run("surface", *ARGS, "--out", str(out))
    assert done.returncode == 0, done.stderr
    r = read_result(out)
    _expected(r.values, r.x, r.y, plugin)
    assert r.recipe.directions.params == {"scale": 0.5}
    assert r.recipe.dataset.options == {"dims": 4} and r.recipe.loss.params == {"margin": 0.5}
    info = _run("info", str(out)).stdout
    assert "radial: Radial (test plugin)" in info and "weight_norm (weight norm" in info
    from lossviz_core.export.titles import recipe_title

    assert "radial ×0.5" in recipe_title(r)


def test_the_plugin_resumes_from_its_file(tmp_path, plugin, cut_after_one_chunk, monkeypatch):
    whole, cut = tmp_path / "whole.h5", tmp_path / "cut.h5"
    assert main(["surface", *ARGS, "--out", str(whole)]) == 0
    cut_after_one_chunk()
    assert main(["surface", *ARGS, "--out", str(cut)]) == 130
    assert not read_result(cut).done.all()
    monkeypatch.undo()  # Ctrl-C no more
    assert main(["surface", "--resume", "--out", str(cut)]) == 0
    a, b = read_result(whole), read_result(cut)
    assert b.done.all()
    for q in a.values:
        np.testing.assert_array_equal(a.values[q], b.values[q])


def test_the_plugin_keys_in_a_study(tmp_path, plugin):
    from lossviz_core.studies import make_plan, parse_study
    from lossviz_core.studies.runner import grid_recipe

    s = parse_study("""
[study]
name = "plugin"

[results.radial]
model = "affine:4"
dataset = "blobs:64"
blob_dims = 3
loss = "hinge"
hinge_margin = 0.25
method = "radial"
radial_scale = 2.0
measure = "weight_norm"
x = "-1:1:3"
y = "-1:1:3"
""")
    plan = make_plan(s, tmp_path)
    r = grid_recipe(plan, plan.find("grid", "radial"))
    assert (r.directions.method, r.directions.params) == ("radial", {"scale": 2.0})
    assert r.dataset.options == {"dims": 3} and r.loss.params == {"margin": 0.25}
    assert r.measures == ("loss", "weight_norm")
    from lossviz_core.studies import StudyError

    with pytest.raises(StudyError, match="radial_scale"):
        parse_study('[study]\nname = "x"\n[results.r]\nmodel = "affine:4"\n'
                    'dataset = "blobs:9"\nmethod = "radial"\nradial_scale = "big"\n')


def test_a_stray_parameter_is_one_line(plugin, capsys):
    assert main(["surface", "--demo", "--radial-scale", "2", "--out", "unused.h5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--radial-scale belongs to the direction method" in err[0]


def test_the_plugin_runs_on_ray(tmp_path, plugin, cluster):
    """The session's Ray workers see the plugin as a cluster with it installed would
    (conftest puts its folder on their path); the driver registered it through the API."""
    from lossviz_core.results.store import read_decisions

    local, ray = tmp_path / "local.h5", tmp_path / "ray.h5"
    assert main(["surface", *ARGS, "--out", str(local)]) == 0
    assert main(["surface", *ARGS, "--executor", "ray", "--workers", "1", "--out", str(ray)]) == 0
    a, b = read_result(local), read_result(ray)
    assert b.done.all() and all(p["executor"] == "ray" for p in read_decisions(ray))
    _expected(b.values, b.x, b.y, plugin)
    for q in a.values:
        np.testing.assert_allclose(b.values[q], a.values[q], rtol=1e-6)
