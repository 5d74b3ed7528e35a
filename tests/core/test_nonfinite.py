"""Why a point is not finite: the interpolated BatchNorm variance below zero (checked against
plain PyTorch on the demo pair), or a diverged loss; files without the record still open."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from lossviz_core import demo
from lossviz_core.recipe.spec import DirectionSpec, GridSpec, Range, Recipe
from lossviz_core.results.nonfinite import bn_record, explain, non_finite_mask
from lossviz_core.results.result import SurfaceResult
from lossviz_core.results.store import read_result, save_result
from lossviz_core.run.job import prepare
from lossviz_core.sources.checkpoints import load_state_dict


@pytest.fixture(scope="module")
def demo_line(tmp_path_factory):
    """The demo interpolation (states) over -0.5:1.5:9, written and read back."""
    out = tmp_path_factory.mktemp("line") / "line.h5"
    recipe = demo.recipe("line").replace(grid=GridSpec(Range(-0.5, 1.5, 9), None))
    job = prepare(recipe)
    for _ in job.iter(out=out):
        pass
    return job.result, read_result(out)


def plain_min_variance(alpha: float) -> dict[str, float]:
    """min over channels of (1 − α)·var_A + α·var_B + eps per BN layer, in plain PyTorch."""
    small, large = (load_state_dict(p) for p in demo.pair())
    out = {}
    for name, va in small.items():
        if name.endswith("running_var"):
            v = (1 - alpha) * va.double() + alpha * large[name].double()
            out[name.removesuffix(".running_var")] = float(v.min()) + 1e-5  # BatchNorm2d eps
    return out


def test_the_demo_line_names_the_layer_whose_variance_is_negative(demo_line):
    live, read = demo_line
    for r in (live, read):  # the record travels with the file
        why = explain(r)
        bad = np.nonzero(why.mask)[0]
        assert len(bad) >= 2  # both ends of the demo line leave the BN-valid interval
        for i in range(len(r.x)):
            minima = plain_min_variance(float(r.x[i]))
            negative = [layer for layer, m in minima.items() if m < 0]
            if i in bad:
                assert negative, r.x[i]
                assert why.layers[why.layer[i]] == negative[0]  # the first in model order
                assert why.at(i) == f"BatchNorm running variance < 0 in {negative[0]}"
            else:
                assert not negative and np.isfinite(r.values["train_loss"][i])
        text = why.describe()
        assert text.startswith(f"{len(bad)} non-finite: BatchNorm running variance < 0 (")
        assert "diverged" not in text
        assert "α ≥ 1.5" in text and "α ≤ −0.25" in text


def test_a_file_without_the_record_still_opens_and_says_so(demo_line, tmp_path):
    live, _ = demo_line
    path = tmp_path / "old.h5"
    save_result(live, path)
    with h5py.File(path, "r+") as f:  # as a file written before the record existed
        specs = json.loads(f["lossviz"].attrs["specs"])
        del specs["evaluator"]["non_finite"]
        f["lossviz"].attrs["specs"] = json.dumps(specs)
    old = read_result(path)
    why = explain(old)
    assert why.count == explain(live).count and (why.layer == -1).all()
    assert why.describe() == f"{why.count} non-finite loss (cause not recorded)"
    # perturbing weights never moves the running statistics: a NaN there diverged
    weights = old.recipe.replace(directions=old.recipe.directions.replace(dir_type="weights"))
    old.specs = {"recipe": weights.to_dict()}
    assert explain(old).describe() == f"{why.count} non-finite loss (diverged)"


def test_only_binding_constraints_are_kept_and_they_decide_alike():
    rng = np.random.default_rng(0)
    c = rng.uniform(0.05, 2.0, 400)
    a, b = rng.normal(size=400), rng.normal(size=400)
    rows = np.asarray(bn_record([("bn", c, a, b)])["bn_running_var"]["bn"])
    assert 3 <= len(rows) < 40
    pts = rng.uniform(-3, 3, size=(20000, 2))
    full = (c[None] + pts[:, :1] * a[None] + pts[:, 1:] * b[None] < 0).any(axis=1)
    kept = (rows[:, 0][None] + pts[:, :1] * rows[:, 1][None] + pts[:, 1:] * rows[:, 2][None]
            < 0).any(axis=1)
    np.testing.assert_array_equal(kept, full)
    line = bn_record([("bn", c, a, np.zeros(400))])["bn_running_var"]["bn"]
    assert len(line) == 2  # on a line: the nearest bound on each side
    assert bn_record([("bn", c, np.zeros(400), np.zeros(400))]) == {}  # never moves


def test_a_surface_names_points_per_layer_and_other_points_diverged():
    x, y = np.linspace(-1, 1, 5), np.linspace(0, 1, 3)
    recipe = Recipe(directions=DirectionSpec(dir_type="states"),
                    grid=GridSpec(Range(-1, 1, 5), Range(0, 1, 3)))
    specs = {"recipe": recipe.to_dict(), "evaluator": {"non_finite": bn_record(
        [("layer1.bn", np.array([1.0]), np.array([2.0]), np.array([0.0]))])}}
    r = SurfaceResult.empty(x, y, ("train_loss",), specs=specs)
    z = np.ones((3, 5))
    z[:, 0] = np.nan  # α = −1: var 1 + 2·(−1) < 0
    z[2, 4] = np.inf  # α = 1, β = 1: the variance is fine, the loss diverged
    r.apply_chunk(np.arange(15), {"train_loss": z.ravel()})
    why = explain(r, non_finite_mask(r))
    assert why.describe() == ("4 non-finite: 3 BatchNorm running variance < 0 (layer1.bn), "
                              "1 loss diverged")
    assert why.at((2, 4)) == "loss diverged"
    assert why.at((1, 0)) == "BatchNorm running variance < 0 in layer1.bn"


def test_plain_torch_batchnorm_is_nan_below_minus_eps():
    """What the record assumes: eval BatchNorm is NaN exactly where var + eps < 0."""
    bn = torch.nn.BatchNorm1d(2).eval()
    bn.running_var[:] = torch.tensor([-2e-5, -5e-6])
    out = bn(torch.ones(3, 2))
    assert torch.isnan(out[:, 0]).all() and torch.isfinite(out[:, 1]).all()
