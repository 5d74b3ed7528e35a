"""Recipe.landscape_key / workspace_key: one definition of "the same landscape" and "the same
loaded model, data and directions", equal exactly when the recipes' parts are."""

from __future__ import annotations

from lossviz_core import demo
from lossviz_core.recipe.spec import ComputeSpec, GridSpec, LossSpec, Range, Recipe


def test_the_landscape_ignores_how_it_is_computed_and_nothing_else():
    r = demo.recipe("surface")
    assert r.replace(compute=ComputeSpec(device="cpu", precision="fp32", batch_size=64,
                                         compile="off", multi="off")).landscape_key() \
        == r.landscape_key()
    for other in (r.replace(grid=GridSpec(Range(-1, 1, 9), Range(-1, 1, 5))),
                  r.replace(loss=LossSpec(split="test")),
                  r.replace(directions=r.directions.replace(seed=1)),
                  r.replace(measures=("loss", "curvature"))):
        assert other.landscape_key() != r.landscape_key()
    # stored and read back (JSON): the same key; 5 and 5.0 are one number
    assert Recipe.from_json(r.to_json()).landscape_key() == r.landscape_key()
    same = r.replace(grid=GridSpec(Range(-1, 1, 7), Range(-1, 1, 5)))
    floats = r.replace(grid=GridSpec(Range(-1.0, 1.0, 7.0), Range(-1.0, 1.0, 5)))
    assert same.landscape_key() == floats.landscape_key()


def test_fitted_ranges_count_by_their_point_counts():
    r = demo.recipe("pca")
    a = r.replace(grid=GridSpec(Range(-1, 1, 9), Range(-1, 1, 7), fit=True))
    b = r.replace(grid=GridSpec(Range(-8, 0, 9), Range(0, 3, 7), fit=True))
    c = r.replace(grid=GridSpec(Range(-8, 0, 9), Range(0, 3, 7), fit=False))
    assert a.landscape_key() == b.landscape_key() != c.landscape_key()
    assert a.replace(grid=GridSpec(Range(-1, 1, 11), Range(-1, 1, 7), fit=True)
                     ).landscape_key() != a.landscape_key()


def test_a_workspace_serves_other_ranges_losses_and_precisions_on_its_device():
    r = demo.recipe("surface")
    zoom = r.replace(grid=GridSpec(Range(-0.5, 0.5, 7), Range(0, 1, 5)),
                     loss=LossSpec(split="both"),
                     compute=r.compute.replace(precision="fp32"))
    assert zoom.workspace_key() == r.workspace_key()
    for other in (r.replace(compute=r.compute.replace(device="cpu" if r.compute.device != "cpu"
                                                      else "cuda")),
                  r.replace(grid=GridSpec(Range(-1, 1, 7), None)),
                  r.replace(directions=r.directions.replace(seed=3))):
        assert other.workspace_key() != r.workspace_key()
