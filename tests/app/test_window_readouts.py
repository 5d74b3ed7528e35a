"""Read-outs that stay true: the cursor's values follow new points, another result and the
tab; a double-click analyses the grid point under it; the convexity map keeps one colour
scale; the interpolation says why it perturbs what it does; Hessian planes and the convexity
map computed on the demo in the window."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import BOWL_X, BOWL_Y, COMPUTE_MS, bowl
from PySide6.QtCore import QPointF

from lossviz_core import demo
from lossviz_core.progress import drain
from lossviz_core.run.job import prepare


def _hover(view, alpha, beta):
    scene = view.viewbox.mapViewToScene(QPointF(alpha, beta))
    view._on_mouse_moved(scene)


def test_the_cursor_read_out_follows_new_points_results_and_tabs(qtbot, make_window, errors,
                                                                 make_surface):
    w = make_window(autostart=False)
    half = make_surface(done_fraction=0.4)  # the first rows computed, the rest not yet
    w.set_result(half)
    w._repaint(every=True)
    i, j = 3, 4  # a point of the last row: not computed in `half`
    assert not half.done[j, i]
    _hover(w.view2d, BOWL_X[i], BOWL_Y[j])
    before = w.cursor_label.text()
    assert "not computed" in before
    # the same grid, computed: the read-out shows the value, not the old "not computed"
    full = make_surface()
    w.set_result(full)
    after = w.cursor_label.text()
    assert after != before and f"{bowl(BOWL_X[i], BOWL_Y[j]):.4g}" in after
    # points arriving in the shown result update it too, as the views redraw them
    w.set_result(half)
    assert "not computed" in w.cursor_label.text()
    half.apply_chunk(np.arange(half.done.size), {q: full.values[q].reshape(-1)
                                                 for q in full.values})
    w._dirty = True
    for _ in w._views_for(half):  # one view per tick, as while computing
        w._repaint()
    assert f"{bowl(BOWL_X[i], BOWL_Y[j]):.4g}" in w.cursor_label.text()
    # another tab: no read-out of a view that is not in sight
    w.tabs.setCurrentWidget(w.compare)
    assert w.cursor_label.text() == ""


def test_a_double_click_analyses_the_grid_point_under_it(qtbot, make_window, errors,
                                                         make_surface, monkeypatch):
    w = make_window(autostart=False)
    w.set_result(make_surface())
    tab = w.curvature_tab
    analysed = []
    monkeypatch.setattr(tab, "compute", lambda: analysed.append(
        (tab.alpha.value(), tab.beta.value())))
    vb = w.view2d.plot.vb

    def double_click(alpha, beta):
        scene = vb.mapViewToScene(QPointF(alpha, beta))
        w._map_clicked(SimpleNamespace(double=lambda: True, scenePos=lambda: scene))

    double_click(0.37, 0.41)  # between grid points: the nearest one (α 1/3, β 0.25)
    assert analysed == [pytest.approx((BOWL_X[4], BOWL_Y[2]), abs=1e-4)]
    assert w.tabs.currentWidget() is tab
    double_click(5.0, 0.0)  # far outside the grid: nothing analysed, a hint instead
    assert len(analysed) == 1 and "inside the grid" in w.progress_label.text()


def test_the_convexity_map_has_one_colour_scale(qtbot, make_window, errors, make_surface):
    w = make_window(autostart=False)
    r = make_surface()
    for scale in (0.05, 3.0):  # nearly convex everywhere; strongly non-convex
        r.values["eig_ratio"] = np.full_like(r.values["train_loss"], scale) * np.linspace(
            0.5, 1.0, r.values["train_loss"].size).reshape(r.values["train_loss"].shape)
        w.set_result(r)
        w.display.quantity = "eig_ratio"
        w._repaint(every=True)
        assert w.view2d._value_range(w.view2d.display_grid()) == (0.0, 1.0)
        assert w.view3d.vrange == (0.0, 1.0)
    w.display.quantity = "train_loss"  # other quantities keep their own range
    w._repaint(every=True)
    z = r.values["train_loss"]
    assert w.view2d._value_range(w.view2d.display_grid()) == pytest.approx(
        (float(z.min()), float(z.max())))


def test_the_interpolation_says_why_states_or_weights(qtbot, make_window, errors):
    w = make_window(autostart=False)
    note = w.directions_panel.note
    a, b = demo.pair()
    w.state.update(source="zoo", model="digits_cnn", checkpoint=str(a), method="target",
                   target_checkpoint=str(b), dir_type="auto")
    qtbot.waitUntil(lambda: not note.isHidden(), timeout=5000)
    assert "whole state_dict" in note.text() and "exactly models A and B" in note.text()
    w.state.set("dir_type", "weights")
    qtbot.waitUntil(lambda: "parameters only" in note.text(), timeout=5000)
    w.state.set("method", "random")
    qtbot.waitUntil(lambda: note.isHidden(), timeout=5000)


def test_hessian_planes_and_the_convexity_map_on_the_demo(qtbot, make_window, errors):
    w = make_window(autostart=False)
    w.state.update(method="hessian", subsample=200, xmin=-0.5, xmax=0.5, xnum=3,
                   ymin=-0.5, ymax=0.5, ynum=3, curvature_map=True, device="cpu",
                   precision="fp32")
    w.compute()
    qtbot.waitUntil(lambda: not w.computing, timeout=6 * COMPUTE_MS)
    assert errors == []
    r = w.result
    assert r.done.all() and {"max_eig", "min_eig", "eig_ratio"} <= set(r.values)
    shown = [w.display_panel.quantity.itemData(k)
             for k in range(w.display_panel.quantity.count())]
    assert "eig_ratio" in shown  # the Show list offers the map
    np.testing.assert_allclose(r.values["eig_ratio"],
                               np.abs(r.values["min_eig"] / r.values["max_eig"]))
    # d1, d2 are the top two eigenvectors: the curvature along d1 at θ is λ1 > 0, and the
    # centre of the plane is θ itself, the same loss as the random plane's centre
    assert (r.values["max_eig"] > 0).all()
    centre = r.values["train_loss"][1, 1]
    plain = drain(prepare(demo.recipe("surface").replace(
        dataset=r.recipe.dataset, grid=r.recipe.grid, compute=r.recipe.compute)).iter())
    assert centre == pytest.approx(plain.values["train_loss"][1, 1], rel=1e-6)
    w.display.quantity = "eig_ratio"
    w._repaint(every=True)
    assert w.view2d.colorbar.levels() == pytest.approx((0.0, 1.0))
