"""Geometry across models in the window: the plane through three checkpoints with the models
marked, a curve beside its straight line with both barriers, alignment as a checkbox and the
mean over direction seeds with its band."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import COMPUTE_MS
from lossviz import schema
from lossviz.state import choices_from_state, state_from_recipe
from lossviz.views import DisplaySettings
from lossviz.views.line1d import LineView1D
from PySide6.QtCore import Qt

from lossviz_core.connect.method import CACHE_ENV
from lossviz_core.models import build_model
from lossviz_core.recipe.spec import DirectionSpec, GridSpec, ModelSpec, Range, Recipe
from lossviz_core.resolve import resolve
from lossviz_core.results.result import SurfaceResult
from lossviz_core.sources.checkpoints import save_checkpoint


@pytest.fixture
def three(tmp_path):
    """Three digits MLPs, a few steps of training apart."""
    from lossviz_core.data import load_dataset
    from lossviz_core.recipe.spec import DatasetSpec

    data = load_dataset(DatasetSpec("digits"), torch.device("cpu"))
    paths = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        m = build_model("digits_mlp")
        opt = torch.optim.SGD(m.parameters(), lr=0.2)
        for _ in range(30):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(data.train.x), data.train.y).backward()
            opt.step()
        paths.append(tmp_path / f"m{seed}.pt")
        save_checkpoint(m, paths[-1])
    return paths


def wait_idle(qtbot, w, timeout=COMPUTE_MS):
    qtbot.waitUntil(lambda: not w.computing, timeout=timeout)


def test_the_plane_through_three_models_marks_them(qtbot, make_window, errors, three):
    w = make_window(autostart=False)
    assert "plane3" in schema.window_methods() and "curve" in schema.window_methods()
    w.state.update(source="zoo", model="digits_mlp", checkpoint=str(three[0]),
                   method="plane3", checkpoint2=str(three[1]), checkpoint3=str(three[2]),
                   align=True, xmin=-0.5, xmax=1.5, xnum=5, ymin=-0.5, ymax=1.5, ynum=5)
    rows = w.directions_panel
    assert rows.param_checkpoint3.isVisibleTo(w) and rows.param_align.isVisibleTo(w)
    assert not rows.seeds.isEnabled()  # no random directions to draw again
    w.compute()
    wait_idle(qtbot, w)
    assert errors == []
    t = w.result.trajectory
    assert t.labels == ("A", "B", "C") and np.isfinite(t.loss).all()
    view = w.view2d
    assert [lab.toPlainText() for lab in view.epoch_labels] == ["A", "B", "C"]
    assert view.trajectory.opts["pen"].style() == Qt.PenStyle.NoPen  # markers, no path
    assert w.result.specs["directions_info"]["models"][1]["align"]["units"] == 64


def test_a_curve_beside_its_straight_line_with_both_barriers(qtbot, make_window, errors, three,
                                                              tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "curves"))
    w = make_window(autostart=False)
    assert "straight" not in [m.name for m in schema.window_measures()]  # comes with a curve
    w.state.update(source="zoo", model="digits_mlp", checkpoint=str(three[0]), method="curve",
                   checkpoint2=str(three[1]), curve_epochs=2, xmin=0.0, xmax=1.0, xnum=5)
    w.compute()
    wait_idle(qtbot, w, 4 * COMPUTE_MS)
    assert errors == []
    view = w.view1d

    def legend() -> list[str]:
        return [label.text for _, label in view.legend.items]

    # the barriers are written into the legend once the whole path is drawn
    qtbot.waitUntil(lambda: any("barrier" in s for s in legend()), timeout=COMPUTE_MS)
    labels = legend()
    assert any("curve (barrier" in s for s in labels), labels
    assert any("straight line (barrier" in s for s in labels), labels
    pen = view.curves["line_train_loss"].opts["pen"]
    assert pen.style() == Qt.PenStyle.DashLine
    assert [m.value() for m in view.markers] == [0.0, 1.0]


def _seeded_line() -> SurfaceResult:
    x = np.linspace(-1, 1, 5)
    per = {s: (1 + 0.1 * s) * x**2 for s in (1, 2, 3)}
    stacked = np.stack(list(per.values()))
    values = {"train_loss": stacked.mean(0), "train_loss_std": stacked.std(0),
              **{f"train_loss_seed{s}": v for s, v in per.items()}}
    recipe = Recipe(model=ModelSpec("digits_mlp"), grid=GridSpec(x=Range(-1, 1, 5), y=None),
                    directions=DirectionSpec(seed=1, seeds=(1, 2, 3)))
    return SurfaceResult(x, None, values, np.ones(5, bool), {"recipe": recipe.to_dict()})


def test_the_mean_over_seeds_with_its_band(qtbot):
    view = LineView1D(DisplaySettings())
    qtbot.addWidget(view)
    view.resize(480, 360)
    view.show()
    r = _seeded_line()
    view.set_result(r)
    assert list(view.curves) == ["train_loss"]  # not each seed, not the spread
    band = view.bands["train_loss"]
    lo, hi = band.lo.getData()[1], band.hi.getData()[1]
    np.testing.assert_allclose(lo, r.values["train_loss"] - r.values["train_loss_std"])
    np.testing.assert_allclose(hi, r.values["train_loss"] + r.values["train_loss_std"])
    qtbot.waitUntil(lambda: band.fill.boundingRect().height() > 0, timeout=2000)  # painted
    rect = band.fill.boundingRect()
    assert rect.top() == pytest.approx(0.0) and rect.height() == pytest.approx(hi.max())
    assert "± std" in view.legend.items[0][1].text


def test_seeds_travel_between_the_panels_and_the_recipe():
    v = {**schema.defaults(), "seed": 4, "seeds": 3, "xnum": 5, "ynum": 5}
    recipe = resolve(choices_from_state(v))
    assert recipe.directions.seeds == (4, 5, 6)
    back = state_from_recipe(recipe)
    assert (back["seed"], back["seeds"]) == (4, 3)
    one = resolve(choices_from_state({**v, "seeds": 1}))
    assert one.directions.seeds == () and one.directions.seed == 4


def test_compare_overlays_bands_and_a_curves_straight_line(qtbot):
    from lossviz.views.compare import CompareView

    view = CompareView(DisplaySettings())
    qtbot.addWidget(view)
    view.resize(600, 360)
    view.show()
    seeded = _seeded_line()
    curve = _seeded_line()
    curve.values = {"train_loss": np.linspace(0, 1, 5), "line_train_loss": np.ones(5)}
    view.set_results([seeded, curve], ["seeds", "curve"])
    labels = [label.text for _, label in view.legend.items]
    assert labels == ["seeds", "curve", "curve, straight line"]
    fills = [i for i in view.plot.items if type(i).__name__ == "FillBetweenItem"]
    assert len(fills) == 1
