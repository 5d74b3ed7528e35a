"""The bundled digits-connectivity study (its quick profile) end to end, and the study keys
of the geometry methods: model_c, seeds, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from lossviz_core.cli import main
from lossviz_core.connect.method import CACHE_ENV
from lossviz_core.results.store import read_result
from lossviz_core.results.summary import path_barriers
from lossviz_core.studies import load_study, make_plan, parse_study, read_figure_specs
from lossviz_core.studies.runner import grid_recipe
from lossviz_core.studies.toml_text import StudyError


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """``lossviz study run digits-connectivity --quick``, once."""
    root = tmp_path_factory.mktemp("connectivity")
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(root / "curves"))
        assert main(["study", "run", "digits-connectivity", "--quick", "--out", str(out)]) == 0
    plan = make_plan(load_study("digits-connectivity", "quick"), out)
    return {(u.kind, u.name): u.path for u in plan.units}, plan


def test_the_study_makes_every_result(quick):
    units, plan = quick
    paths = {name: p for (kind, name), p in units.items() if kind == "grid"}
    plane = read_result(paths["plane-mlp"])
    assert plane.trajectory.labels == ("A", "B", "C") and np.isfinite(plane.trajectory.loss).all()
    r = grid_recipe(plan, plan.find("grid", "plane-mlp"))
    assert r.directions.method == "plane3" and r.model.checkpoint.endswith("model_3.pt")
    assert "mlp-2" in r.directions.param("checkpoint") and "mlp-3" in r.directions.param(
        "checkpoint_c")
    curve = read_result(paths["curve-mlp"])
    assert {"train_loss", "line_train_loss", "line_test_acc"} <= set(curve.values)
    assert set(path_barriers(curve)) >= {"train_loss", "line_train_loss"}
    before = read_result(paths["line-mlp"]).values["train_loss"]
    after = read_result(paths["aligned-mlp"]).values["train_loss"]
    assert after[0] == pytest.approx(before[0]) and after[-1] == pytest.approx(before[-1])
    assert after.max() < before.max()  # alignment lowers the straight line's barrier
    seeds = read_result(paths["random-mlp"])
    assert seeds.recipe.directions.seeds == (1, 2, 3, 4, 5)
    stacked = np.stack([seeds.values[f"train_loss_seed{s}"] for s in range(1, 6)])
    np.testing.assert_array_equal(seeds.values["train_loss_std"], np.std(stacked, axis=0))


def test_the_figures_carry_the_study(quick):
    units, _ = quick
    for name in ("planes", "curve-mlp", "alignment-mlp", "seeds"):
        png = units["figure", name].with_name(f"{name}.png")
        assert png.read_bytes()[:4] == b"\x89PNG"
        specs = read_figure_specs(png)
        assert specs["study"]["name"] == "digits-connectivity"


STUDY = """
[study]
name = "t"
[models.a]
model = "digits_mlp"
epochs = 1
[models.b]
model = "digits_mlp"
epochs = 1
seed = 1
[results.plane]
model = "a"
model_b = "b"
method = "plane3"
{extra}
"""


def test_a_plane_needs_model_c():
    with pytest.raises(StudyError, match="needs model_c"):
        parse_study(STUDY.format(extra=""))
    with pytest.raises(StudyError, match="model_c names a model of this study"):
        parse_study(STUDY.format(extra='model_c = "nope"'))
    s = parse_study(STUDY.format(extra='model_c = "b"'))
    assert s.results["plane"].others == ("b", "b")
    keys = make_plan(s, "/tmp/x").find("grid", "plane")
    assert set(keys.spec["runs"]) == {"model", "model_b", "model_c"}


def test_model_c_and_seeds_are_checked_where_they_are_written():
    text = STUDY.replace('method = "plane3"', 'method = "target"')
    with pytest.raises(StudyError, match="model_c is another model's checkpoint"):
        parse_study(text.format(extra='model_c = "b"'))
    bad = STUDY.replace('model_b = "b"\nmethod = "plane3"', 'method = "random"')
    with pytest.raises(StudyError, match="results.plane.seeds"):
        parse_study(bad.format(extra='seeds = "x:y"'))
