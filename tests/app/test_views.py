"""The views draw what the closed form says: orientation, colours, isolines, zoom, links."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BOWL_X, BOWL_Y, bowl
from lossviz.views import DisplaySettings
from lossviz.views.colormaps import bilinear, display_values, fill_missing, nice_ticks
from lossviz.views.compare import CompareView
from lossviz.views.contour2d import ContourView2D
from lossviz.views.line1d import LineView1D
from lossviz.views.surface3d import SurfaceView3D
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication


def _show(qtbot, widget, w=480, h=360):
    qtbot.addWidget(widget)
    widget.resize(w, h)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    arr = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.width(), 4)
    return arr.astype(float).copy()


def _mouse(widget, kind, pos: QPoint, button, buttons) -> None:
    ev = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, ev)


# --- pure helpers -----------------------------------------------------------------------
def test_display_values_clip_then_log_and_interpolated_fill():
    v = np.array([[0.1, 10.0, np.nan], [1000.0, 1.0, -1.0]])
    out = display_values(v, log=True, clip_max=100.0)
    np.testing.assert_allclose(out[0, :2], [-1.0, 1.0])
    assert out[1, 0] == pytest.approx(2.0) and np.isnan(out[0, 2]) and np.isnan(out[1, 2])
    filled, known = fill_missing(np.array([[1.0, np.nan, np.nan, 4.0]]))
    np.testing.assert_allclose(filled, [[1.0, 2.0, 3.0, 4.0]])  # corners known: interpolated
    np.testing.assert_array_equal(known, [[True, False, False, True]])
    assert nice_ticks(-1.0, 1.0, 4) == [-1.0, -0.5, 0.0, 0.5, 1.0]


def test_bilinear_is_exact_for_bilinear_functions():
    x, y = np.linspace(-1, 1, 5), np.linspace(0, 2, 4)
    xx, yy = np.meshgrid(x, y)
    z = 2 * xx - yy + 0.5 * xx * yy
    px, py = np.array([-0.9, 0.3, 1.0]), np.array([0.1, 1.7, 2.0])
    np.testing.assert_allclose(bilinear(x, y, z, px, py), 2 * px - py + 0.5 * px * py)


# --- 3-D --------------------------------------------------------------------------------
def test_surface3d_renders_the_closed_form_in_colour(qtbot, closed_form_surface):
    view = _show(qtbot, SurfaceView3D(DisplaySettings()))
    view.set_result(closed_form_surface)
    # the mesh holds z[x, y]: the transposed (ny, nx) grid, scaled into the box
    z = view.surface._z
    assert z.shape == (7, 5)
    expected = bowl(BOWL_X[:, None], BOWL_Y[None, :])
    lo, hi = expected.min(), expected.max()  # the value range spans the box height
    np.testing.assert_allclose(z / z.max(), (expected - lo) / (hi - lo), atol=1e-6)
    arr = _rgb(view.grab_image(320, 240))
    assert arr.shape == (240, 320, 4) and arr[..., :3].std() > 10
    not_white = (arr[..., :3] < 235).any(axis=-1)
    assert not_white.mean() > 0.08
    # viridis ends: dark purple at the minimum and yellow at the maximum are both drawn
    purple = (arr[..., 0] < 90) & (arr[..., 1] < 60) & (arr[..., 2] > 70)
    yellow = (arr[..., 0] > 180) & (arr[..., 1] > 180) & (arr[..., 2] < 120)
    assert purple.sum() > 5 and yellow.sum() > 5


def test_surface3d_partial_grid_draws_and_refresh_changes_the_image(qtbot, make_surface):
    view = _show(qtbot, SurfaceView3D(DisplaySettings()))
    empty = make_surface(done_fraction=0.0)
    view.set_result(empty)  # nothing known yet: a flat placeholder, no error
    assert np.all(view.surface._z == 0)
    partial = make_surface(done_fraction=0.4)
    view.set_result(partial)
    before = _rgb(view.grab_image(240, 180))
    full = make_surface()
    rest = np.flatnonzero(~partial.done.reshape(-1))
    partial.apply_chunk(rest, {q: full.values[q].reshape(-1)[rest] for q in full.values})
    view.refresh()
    after = _rgb(view.grab_image(240, 180))
    assert np.abs(after - before).mean() > 1.0
    np.testing.assert_allclose(view.display_grid(), full.values["train_loss"])


def test_surface3d_exports_above_window_size_and_transparent(qtbot, closed_form_surface):
    view = _show(qtbot, SurfaceView3D(DisplaySettings()), 300, 200)
    view.set_result(closed_form_surface)
    img = view.grab_image(1000, 700, transparent=True)
    assert (img.width(), img.height()) == (1000, 700)
    arr = _rgb(img)
    assert arr[0, 0, 3] == 0 and arr[..., 3].max() == 255  # background clear, surface opaque


def test_surface3d_trajectory_lies_on_the_surface(qtbot, trajectory_result):
    view = _show(qtbot, SurfaceView3D(DisplaySettings()))
    view.set_result(trajectory_result)
    t = trajectory_result.trajectory
    pos = view.traj_line.pos
    assert view.traj_line.visible() and pos.shape == (len(t.x), 3)
    np.testing.assert_allclose(pos[:, 0], view.box_x(t.x), atol=1e-6)
    z_grid = bilinear(BOWL_X, BOWL_Y, trajectory_result.values["train_loss"], t.x, t.y)
    lift = pos[:, 2] - view.box_z(z_grid)
    assert np.allclose(lift, lift[0]) and 0 <= lift[0] < 0.05


def test_surface3d_settings_scale_log_and_wireframe(qtbot, closed_form_surface):
    settings = DisplaySettings()
    view = _show(qtbot, SurfaceView3D(settings))
    view.set_result(closed_form_surface)
    top = view.surface._z.max()
    settings.z_scale = 2.0
    assert view.surface._z.max() == pytest.approx(2 * top)
    settings.update(log_scale=True, wireframe=True)
    assert view.vrange[1] == pytest.approx(np.log10(4.0))
    assert view.surface.lineplot.visible()


# --- 2-D --------------------------------------------------------------------------------
def test_contour2d_image_orientation_and_pixels(qtbot, closed_form_surface):
    settings = DisplaySettings()
    settings.levels = 1
    view = _show(qtbot, ContourView2D(settings))
    view.set_result(closed_form_surface)
    img = view.image.image
    assert img.shape == (5, 7)
    for j, y in enumerate(BOWL_Y):
        for i, x in enumerate(BOWL_X):
            assert img[j, i] == pytest.approx(bowl(x, y))
    # the image's rectangle puts pixel centres on the grid coordinates (y up)
    rect = view.image.mapRectToParent(view.image.boundingRect())
    dx, dy = 2 / 6, 1.5 / 4
    assert rect.left() == pytest.approx(-1 - dx / 2) and rect.right() == pytest.approx(1 + dx / 2)
    assert rect.top() == pytest.approx(-0.5 - dy / 2) and rect.bottom() == pytest.approx(1 + dy / 2)
    shot = _rgb(view.plot_widget.grab().toImage())

    def lum(x, y):
        p = view.plot_widget.mapFromScene(view.viewbox.mapViewToScene(QPointF(x, y)))
        patch = shot[p.y() - 1 : p.y() + 2, p.x() - 1 : p.x() + 2, :3]
        return float(patch.mean())

    # viridis brightens with the value: f(1, 1) = 4 > f(-1, -0.5) = 1.75 > f(0, 0) = 0
    assert lum(1.0, 1.0) > lum(-1.0, -0.5) + 40 > lum(0.0, 0.0) + 80


def test_contour2d_isolines_lie_on_their_levels(qtbot, closed_form_surface):
    settings = DisplaySettings()
    settings.levels = 5
    view = _show(qtbot, ContourView2D(settings))
    view.set_result(closed_form_surface)
    assert len(view.levels_shown) == 5
    xs, ys = view.isolines.getData()
    ok = np.isfinite(xs)
    assert ok.sum() > 20
    vals = bilinear(BOWL_X, BOWL_Y, closed_form_surface.values["train_loss"], xs[ok], ys[ok])
    dist = np.abs(vals[:, None] - view.levels_shown[None, :]).min(axis=1)
    assert dist.max() < 1e-9  # points lie on grid edges, where the interpolation is exact
    settings.levels = 9
    assert len(view.levels_shown) == 9


def test_contour2d_rectangle_drag_emits_zoom(qtbot, closed_form_surface):
    view = _show(qtbot, ContourView2D(DisplaySettings()), 600, 450)
    view.set_result(closed_form_surface)
    vp = view.plot_widget.viewport()

    def pixel(x, y):
        return view.plot_widget.mapFromScene(view.viewbox.mapViewToScene(QPointF(x, y)))

    a, b = pixel(-0.5, 0.75), pixel(0.5, 0.0)
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    with qtbot.waitSignal(view.zoomRequested, timeout=2000) as blocker:
        _mouse(vp, QEvent.Type.MouseButtonPress, a, left, left)
        for k in range(1, 6):
            _mouse(vp, QEvent.Type.MouseMove, a + (b - a) * (k / 5), none, left)
        _mouse(vp, QEvent.Type.MouseButtonRelease, b, left, none)
    xmin, xmax, ymin, ymax = blocker.args
    px = view.viewbox.viewPixelSize()
    assert abs(xmin + 0.5) < 1.5 * px[0] and abs(xmax - 0.5) < 1.5 * px[0]
    assert abs(ymin - 0.0) < 1.5 * px[1] and abs(ymax - 0.75) < 1.5 * px[1]
    assert not view.viewbox.rbScaleBox.isVisible()


def test_contour2d_cursor_readout_and_trajectory(qtbot, trajectory_result):
    view = _show(qtbot, ContourView2D(DisplaySettings()))
    view.set_result(trajectory_result)
    assert view.plot.getAxis("bottom").labelText == "PC1: 80.0 %"
    text = view.describe_point(1.0, 1.0)
    assert text.startswith("PC1 = 1, PC2 = 1") and "train loss = 4" in text
    t = trajectory_result.trajectory
    tx, ty = view.trajectory.getData()
    np.testing.assert_allclose(tx, t.x)
    np.testing.assert_allclose(ty, t.y)
    assert [lab.toPlainText() for lab in view.epoch_labels] == [str(e) for e in t.epochs]
    p = view.plot_widget.mapFromScene(view.viewbox.mapViewToScene(QPointF(-1.0, -0.5)))
    with qtbot.waitSignal(view.cursorInfo, timeout=2000) as blocker:
        _mouse(
            view.plot_widget.viewport(),
            QEvent.Type.MouseMove,
            p,
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
        )
    assert "train loss = 1.75" in blocker.args[0]


# --- 1-D --------------------------------------------------------------------------------
def test_line1d_two_curves_per_split_and_checkpoint_markers(qtbot, line_result):
    settings = DisplaySettings()
    view = _show(qtbot, LineView1D(settings))
    view.set_result(line_result)
    for q in ("train_loss", "test_loss", "train_acc", "test_acc"):
        x, y = view.curves[q].getData()
        np.testing.assert_allclose(x, line_result.x)
        np.testing.assert_allclose(y, line_result.values[q])
    assert view.curves["train_loss"].opts["pen"].style() == Qt.PenStyle.SolidLine
    assert view.curves["test_loss"].opts["pen"].style() == Qt.PenStyle.DotLine
    assert view.curves["train_acc"] in view.acc_box.addedItems  # accuracy on the right axis
    assert [(m.value(), m.label.format) for m in view.markers] == [(0.0, "a.pt"), (1.0, "b.pt")]
    assert len(view.legend.items) == 4
    settings.log_scale = True
    assert view.plot.ctrl.logYCheck.isChecked()


# --- compare ----------------------------------------------------------------------------
def test_compare_shares_scale_and_links_cameras(qtbot, make_surface):
    view = _show(qtbot, CompareView(DisplaySettings()), 700, 320)
    a = make_surface()
    b = make_surface(lambda x, y: 2 * bowl(x, y) + 1)
    view.set_results(a, b, "small batch", "large batch")
    lo = a.values["train_loss"].min()  # 3 · 0.125², the bowl's lowest grid point
    assert view.left.vrange == view.right.vrange == pytest.approx((lo, 9.0))
    view.left.gl.orbit(25, 10)
    assert view.right.gl.opts["azimuth"] == pytest.approx(view.left.gl.opts["azimuth"])
    assert view.right.gl.opts["elevation"] == pytest.approx(view.left.gl.opts["elevation"])
    view.right.gl.setCameraParams(distance=7.5)
    assert view.left.gl.opts["distance"] == pytest.approx(7.5)
    view.left.gl.pan(3, 0, 0)
    assert view.right.gl.opts["center"] == view.left.gl.opts["center"]
    img = view.grab_image(800, 400)
    assert (img.width(), img.height()) == (800, 400)
    assert _rgb(img)[..., :3].std() > 10


def test_diverged_points_are_not_painted_as_landscape(qtbot, make_surface):
    """A computed point whose loss is NaN is a gap in 2-D and grey at the top in 3-D."""
    r = make_surface()
    r.values["train_loss"][2, 3] = np.nan  # computed (done) but diverged
    view2d = _show(qtbot, ContourView2D(DisplaySettings()))
    view2d.set_result(r)
    assert np.isnan(view2d.image.image[2, 3])
    assert np.isfinite(np.delete(view2d.image.image.ravel(), 2 * 7 + 3)).all()
    assert "diverged" in view2d.describe_point(BOWL_X[3], BOWL_Y[2])
    view3d = _show(qtbot, SurfaceView3D(DisplaySettings()))
    view3d.set_result(r)
    z = view3d.surface._z  # z[x, y]
    assert z[3, 2] == pytest.approx(z.max())
    pending = make_surface(done_fraction=0.5)
    view2d.set_result(pending)
    j, i = np.argwhere(~pending.done)[0]
    assert "not computed yet" in view2d.describe_point(BOWL_X[i], BOWL_Y[j])


def test_show_offers_only_the_quantities_of_the_result(qtbot):
    from lossviz.panels.display import DisplayPanel

    settings = DisplaySettings()
    panel = DisplayPanel(settings)
    qtbot.addWidget(panel)
    settings.quantity = "test_acc"
    panel.set_quantities(("train_loss", "train_acc", "mystery_metric"))
    items = [panel.quantity.itemData(i) for i in range(panel.quantity.count())]
    assert items == ["auto", "train_loss", "train_acc", "mystery_metric"]
    assert panel.quantity.itemText(3) == "mystery metric"
    assert settings.quantity == "auto"  # test accuracy is not in this result
    panel.quantity.setCurrentIndex(2)
    assert settings.quantity == "train_acc"
