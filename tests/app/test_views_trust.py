"""What a user can trust in the views: the camera, the colour bar, partial and diverged
points, the trajectory's words, the 1-D axes and names, checked on rendered pixels."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BOWL_X, BOWL_Y, _line, bowl
from lossviz.views import DisplaySettings
from lossviz.views.colorbar import paint_colorbar
from lossviz.views.colormaps import get_colormap
from lossviz.views.contour2d import NON_FINITE_RGBA, VEIL_RGBA, ContourView2D
from lossviz.views.coverage import EMPTY_MESSAGE, PREPARING_MESSAGE
from lossviz.views.line1d import LineView1D, endpoint_labels
from lossviz.views.surface3d import SurfaceView3D
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QSplitter, QVBoxLayout, QWidget

from lossviz_core.results.result import SurfaceResult, Trajectory


def _show(qtbot, widget, w=480, h=360):
    qtbot.addWidget(widget)
    widget.resize(w, h)
    widget.move(0, 0)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    arr = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.width(), 4)
    return arr.astype(float).copy()


def _screen(widget: QWidget) -> np.ndarray:
    """What the screen shows where ``widget`` is (composited GL included)."""
    QApplication.processEvents()
    p = widget.mapToGlobal(QPoint(0, 0))
    shot = QGuiApplication.primaryScreen().grabWindow(
        0, p.x(), p.y(), widget.width(), widget.height()
    )
    return _rgb(shot.toImage())


def _settled_grab(widget: QWidget) -> np.ndarray:
    """The widget's pixels once its layout (a title row that appeared) has settled."""
    QApplication.processEvents()
    before = _rgb(widget.grab().toImage())
    for _ in range(10):  # a banner row, then the colour bar's axis width: a few passes
        QApplication.processEvents()
        after = _rgb(widget.grab().toImage())
        if np.array_equal(before, after):
            return after
        before = after
    raise AssertionError("the layout never settled")


def _drawn(arr: np.ndarray) -> np.ndarray:
    """Pixels that are not the white background."""
    return (arr[..., :3] < 235).any(axis=-1)


def _send(widget, kind, pos, button=Qt.MouseButton.NoButton, buttons=Qt.MouseButton.NoButton):
    ev = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(widget.mapToGlobal(QPoint(int(pos.x()), int(pos.y())))),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, ev)


def _wheel(widget, steps: int) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    ev = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, ev)


def _camera(view: SurfaceView3D) -> tuple:
    o = view.gl.opts
    c = o["center"]
    return (
        round(o["distance"], 6),
        round(o["elevation"], 6),
        round(o["azimuth"], 6),
        round(c.x(), 6),
        round(c.y(), 6),
        round(c.z(), 6),
    )


def _trajectory(n: int = 6) -> Trajectory:
    k = np.arange(n)
    s = np.exp(-k / (n / 6))
    x, y = 0.9 * s * np.cos(k / 6), 0.8 * s * np.sin(k / 6 + 0.3)
    return Trajectory(
        epochs=5 * k,
        x=x,
        y=y,
        off_plane=0.01 + 0.002 * k,
        loss=bowl(x, y) + 0.01,
        explained_variance=(0.8, 0.15),
    )


# --- 3-D camera -------------------------------------------------------------------------
def test_reset_restores_the_fitted_camera_after_rotate_and_zoom(qtbot, closed_form_surface):
    view = _show(qtbot, SurfaceView3D(DisplaySettings()))
    view.set_result(closed_form_surface)
    fitted = _camera(view)
    assert view.camera_is_fitted()
    gl, left = view.gl, Qt.MouseButton.LeftButton
    _send(gl, QEvent.Type.MouseButtonPress, QPointF(200, 150), left, left)
    for k in range(1, 6):
        _send(gl, QEvent.Type.MouseMove, QPointF(200 + 12 * k, 150 + 5 * k), buttons=left)
    _send(gl, QEvent.Type.MouseButtonRelease, QPointF(260, 175), left)
    _wheel(gl, 3)
    assert _camera(view) != fitted and not view.camera_is_fitted()
    qtbot.keyClick(gl, Qt.Key.Key_Home)
    assert _camera(view) == fitted
    view.gl.orbit(40, -10)
    _send(gl, QEvent.Type.MouseButtonDblClick, QPointF(100, 100), left, left)
    assert _camera(view) == fitted
    view.gl.orbit(40, -10)
    view.reset_camera()
    assert _camera(view) == fitted
    view.gl.orbit(25, 15)  # the button on the view
    assert view.reset_button.isVisible() and _camera(view) != fitted
    qtbot.mouseClick(view.reset_button, left)
    assert _camera(view) == fitted


def test_fitted_camera_shows_the_whole_box_and_labels(qtbot, make_surface):
    view = _show(qtbot, SurfaceView3D(DisplaySettings()), 420, 380)
    view.set_result(make_surface())
    w, h = view.gl.width(), view.gl.height()
    extent = view.overlay.extent(w, h, view.gl.mvp_for(w, h), 1.0)
    assert extent.left() >= 0 and extent.top() >= 0 and extent.right() <= w
    assert extent.bottom() <= h
    # it fills the view: the limiting side is within the margin of the edges
    assert min(extent.left(), w - extent.right()) < 12 or extent.bottom() > h - 12


def test_a_new_landscape_refits_the_camera_a_refresh_keeps_it(qtbot, make_surface):
    view = _show(qtbot, SurfaceView3D(DisplaySettings()))
    first = make_surface(done_fraction=0.5)
    view.set_result(first)
    view.gl.orbit(50, 15)
    view.gl.setCameraParams(distance=2.5)
    moved = _camera(view)
    first.apply_chunk(
        np.flatnonzero(~first.done.reshape(-1)), {"train_loss": np.ones(int((~first.done).sum()))}
    )
    view.refresh()
    assert _camera(view) == moved  # the same result got more points: the camera stays
    view.set_result(make_surface(done_fraction=0.5))  # same grid and recipe, a new object
    assert _camera(view) == moved
    other = make_surface(x=np.linspace(-3, 3, 9), y=np.linspace(-0.2, 0.2, 4))
    view.set_result(other)
    refit = _camera(view)
    assert refit != moved and view.camera_is_fitted()
    view.reset_camera()
    assert _camera(view) == refit  # exactly the fitted camera for the new grid
    view.gl.orbit(30, 0)
    view.set_result(make_surface(specs={"directions": {"method": "random", "seed": 7}}))
    assert view.camera_is_fitted()  # another recipe on the first grid: refitted too


def test_colour_bar_never_overlaps_the_surface(qtbot, bumpy_surface):
    view = _show(qtbot, SurfaceView3D(DisplaySettings()), 520, 380)
    view.set_result(bumpy_surface)
    _wheel(view.gl, 6)  # zoom far in: the surface fills the scene to its right edge
    bar, scene = view.colorbar.geometry(), view.gl.geometry()
    assert not bar.intersects(scene) and bar.left() >= scene.right()
    qtbot.waitUntil(lambda: _drawn(_screen(view))[:, scene.right() - 3].mean() > 0.5)
    screen = _screen(view)
    own = _rgb(view.colorbar.grab().toImage())
    strip = screen[bar.top() : bar.bottom() + 1, bar.left() : bar.right() + 1]
    assert np.abs(strip[..., :3] - own[: strip.shape[0], : strip.shape[1], :3]).max() < 3
    # the export too: its right strip is the bar alone, the surface ends where it starts
    img = _rgb(view.grab_image(800, 500))
    gl_w, bar_w, scale = view.export_layout(800, 500)
    alone = QImage(bar_w, 500, QImage.Format.Format_ARGB32_Premultiplied)
    alone.fill(Qt.GlobalColor.white)
    painter = QPainter(alone)
    paint_colorbar(painter, QRectF(0, 0, bar_w, 500), *view.colorbar.bar, scale)
    painter.end()
    assert np.abs(img[:, gl_w:, :3] - _rgb(alone)[..., :3]).max() < 3
    assert _drawn(img[:, gl_w - 4 : gl_w]).mean() > 0.5  # the surface reaches the strip


@pytest.mark.parametrize("size", [(1400, 400), (360, 900), (900, 900)])
def test_export_at_another_aspect_contains_the_whole_surface(qtbot, bumpy_surface, size):
    view = _show(qtbot, SurfaceView3D(DisplaySettings()), 480, 360)
    view.set_result(bumpy_surface)
    for moved in (False, True):
        if moved:  # the user zoomed out: the export keeps the screen's framing, widened
            _wheel(view.gl, -2)
            assert not view.camera_is_fitted()
        w, h = size
        arr = _rgb(view.grab_image(w, h))
        ys, xs = np.nonzero(_drawn(arr))
        margin = 3
        assert xs.min() >= margin and ys.min() >= margin
        assert xs.max() <= w - 1 - margin and ys.max() <= h - 1 - margin
        assert _drawn(arr).mean() > 0.04  # and it is not a stamp in a corner


def test_the_3d_view_keeps_drawing_while_a_dialog_is_open(qtbot, bumpy_surface):
    window = QWidget()
    lay = QVBoxLayout(window)
    view = SurfaceView3D(DisplaySettings())
    lay.addWidget(view)
    _show(qtbot, window, 600, 450)
    view.set_result(bumpy_surface)
    qtbot.waitUntil(lambda: _drawn(_screen(view.gl)).mean() > 0.1)
    for modal in (False, True):
        dialog = QDialog(window)
        QVBoxLayout(dialog).addWidget(QLabel("training …"))
        dialog.resize(200, 100)
        dialog.move(window.mapToGlobal(QPoint(380, 320)))
        if modal:
            dialog.open()  # window-modal, as a sheet: the event loop keeps running
        else:
            dialog.show()
        qtbot.waitExposed(dialog)
        view.refresh()
        view.gl.orbit(5, 0)
        qtbot.waitUntil(lambda: _drawn(_screen(view.gl)[:, :300]).mean() > 0.1)
        dialog.close()


# --- partial, preparing, empty, non-finite ------------------------------------------
def _known_grid(make_surface) -> SurfaceResult:
    r = make_surface(done_fraction=0.6)  # 21 of 35 computed (C order)
    r.values["train_loss"][0, 1] = np.nan
    r.values["train_loss"][1, 4] = np.inf
    r.values["train_loss"][2, 0] = np.nan
    return r


def test_counts_of_computed_interpolated_and_non_finite_points(qtbot, make_surface):
    r = _known_grid(make_surface)
    for cls in (SurfaceView3D, ContourView2D):
        view = _show(qtbot, cls(DisplaySettings()))
        with qtbot.waitSignal(view.countsChanged) as blocker:
            view.set_result(r)
        c = view.point_counts()
        assert (c.computed, c.interpolated, c.non_finite) == (18, 14, 3)
        assert blocker.args[0] == c and c.total == 35 and view.state() == "partial"
        assert "3 non-finite" in c.describe() and "Partial: 21/35 computed" in c.banner()
    line = _line()
    line.done[20:] = False
    line.values["train_loss"][20:] = np.nan
    line.values["test_loss"][3] = np.nan
    view = _show(qtbot, LineView1D(DisplaySettings()))
    view.set_result(line)
    c = view.point_counts()
    assert (c.computed, c.interpolated, c.non_finite) == (19, 11, 1)


def test_partial_2d_computed_and_interpolated_cells_look_different(qtbot, make_surface):
    settings = DisplaySettings()
    settings.levels = 1
    view = _show(qtbot, ContourView2D(settings), 560, 420)
    r = _known_grid(make_surface)
    view.set_result(r)
    shot = _settled_grab(view.plot_widget)
    lo, hi = view.colorbar.levels()
    cmap = view.colorbar.colorMap()
    px = view.viewbox.viewPixelSize()

    def pixel(i, j):  # a patch a quarter cell off the centre: no marker dot there
        p = view.plot_widget.mapFromScene(
            view.viewbox.mapViewToScene(
                QPointF(BOWL_X[i] + 0.25 * (BOWL_X[1] - BOWL_X[0]), BOWL_Y[j])
            )
        )
        return np.median(shot[p.y() - 1 : p.y() + 2, p.x() - 1 : p.x() + 2, :3], axis=(0, 1))

    def colour(v):
        c = cmap.map((v - lo) / (hi - lo), mode="float")
        return 255 * np.asarray(c[:3], float)

    assert px[0] < 0.05  # cells are many pixels wide
    computed = pixel(3, 0)  # done, finite
    np.testing.assert_allclose(computed, colour(bowl(BOWL_X[3], BOWL_Y[0])), atol=12)
    under = colour(view.image.image[4, 3])  # not computed: its interpolated preview value
    a = VEIL_RGBA[3] / 255
    pale = pixel(3, 4)
    np.testing.assert_allclose(pale, (1 - a) * under + a * 255, atol=12)
    assert np.abs(pale - under).max() > 40  # visibly not the colour of a computed cell
    grey = pixel(0, 2)  # computed, diverged
    np.testing.assert_allclose(grey, NON_FINITE_RGBA[:3], atol=30)
    assert view.plot.titleLabel.text.startswith("Partial: 21/35 computed")
    xs, _ys = view.computed_marks.getData()
    assert len(xs) == 18  # computed points are marked while the grid is partial
    view.set_result(make_surface())
    assert len(view.computed_marks.getData()[0]) == 0 and not view.plot.titleLabel.isVisible()


def test_preparing_and_empty_states_say_so(qtbot, make_surface):
    view3d = _show(qtbot, SurfaceView3D(DisplaySettings()))
    view2d = _show(qtbot, ContourView2D(DisplaySettings()))
    view1d = _show(qtbot, LineView1D(DisplaySettings()))
    for v in (view3d, view2d, view1d):
        assert v.state() == "empty" and v.message() == EMPTY_MESSAGE and v.point_counts() is None
    assert view2d.placeholder.isVisible() and EMPTY_MESSAGE in view2d.placeholder.text()
    empty = make_surface(done_fraction=0.0)
    for v in (view3d, view2d):
        v.set_result(empty)
        assert v.state() == "preparing" and v.message() == PREPARING_MESSAGE
    line = _line()
    line.done[:] = False
    view1d.set_result(line)
    assert view1d.state() == "preparing" and view1d.message() == PREPARING_MESSAGE
    assert view3d.colorbar.bar is None and not view3d.box.visible()  # no 0..1 bar, no axes
    np.testing.assert_allclose(view3d.surface._colors[:, :3], 1.0)  # background: not shown
    assert view2d.image.image is None and not view2d.colorbar.isVisible()
    arr = _rgb(view3d.grab_image(400, 300))
    assert _drawn(arr).mean() < 0.05  # words, no flat surface
    view3d.show_message("Preparing …")
    assert view3d.state() == "message" and view3d.message() == "Preparing …"
    view3d.set_result(None)
    assert view3d.state() == "empty"


def test_diverged_points_are_grey_in_3d(qtbot, make_surface):
    r = make_surface()
    r.values["train_loss"][2, 3] = np.nan
    view = _show(qtbot, SurfaceView3D(DisplaySettings()))
    view.set_result(r)
    colors = view.surface._colors.reshape(len(BOWL_X), len(BOWL_Y), 4)
    np.testing.assert_allclose(colors[3, 2, :3], 0.6)
    assert "1 non-finite" in view.overlay.banner


def test_the_3d_banner_is_never_under_reset_view_and_a_longer_title_stays_in_view(
        qtbot, make_surface):
    from lossviz.views.gl3d import Overlay3D

    r = make_surface(done_fraction=0.6)
    r.values["eig_ratio"] = np.where(r.done, 0.3, np.nan)  # the convexity map: a long title
    settings = DisplaySettings()
    view = _show(qtbot, SurfaceView3D(settings), 420, 360)
    view.set_result(r)
    assert view.overlay.banner.startswith("Partial")
    assert view.reset_button.geometry().top() >= Overlay3D.banner_height(1.0)
    settings.quantity = "eig_ratio"
    w, h = view.gl.width(), view.gl.height()
    extent = view.overlay.extent(w, h, view.mvp(w, h), 1.0)
    titles = [t for *_, t, _ in view.overlay.labels(w, h, view.mvp(w, h), 1.0)]
    assert "convexity |λmin/λmax|" in titles
    assert extent.left() >= 0 and extent.right() <= w and extent.top() >= 0
    view.set_result(make_surface())  # complete: no banner, the button back in the corner
    assert not view.overlay.banner and view.reset_button.geometry().top() < Overlay3D.banner_height(1.0)


# --- the trajectory ---------------------------------------------------------------------
def _pca(make_surface, n=6) -> SurfaceResult:
    return make_surface(trajectory=_trajectory(n), specs={"directions": {"method": "pca"}})


def test_hovering_a_checkpoint_names_its_epoch_loss_and_off_plane_distance(qtbot, make_surface):
    r = _pca(make_surface)
    t = r.trajectory
    view = _show(qtbot, ContourView2D(DisplaySettings()), 600, 450)
    view.set_result(r)
    k = 1
    p = view.plot_widget.mapFromScene(view.viewbox.mapViewToScene(QPointF(t.x[k], t.y[k])))
    with qtbot.waitSignal(view.trajectoryHovered) as hovered:
        _send(view.plot_widget.viewport(), QEvent.Type.MouseMove, QPointF(p + QPoint(2, 1)))
    index, text = hovered.args
    assert index == k
    for part in (
        f"epoch {t.epochs[k]}",
        f"loss {t.loss[k]:.4g}",
        f"off-plane distance {t.off_plane[k]:.4g}",
    ):
        assert part in text
    assert view.traj.hover_box.isVisible() and f"epoch {t.epochs[k]}" in (
        view.traj.hover_box.toPlainText()
    )
    view3d = _show(qtbot, SurfaceView3D(DisplaySettings()), 600, 450)
    view3d.set_result(r)
    w, h = view3d.gl.width(), view3d.gl.height()
    from PySide6.QtGui import QVector3D

    pos = view3d.traj_line.pos[k]
    ndc = view3d.gl.mvp_for(w, h).map(QVector3D(*map(float, pos)))
    at = QPointF((ndc.x() + 1) / 2 * w, (1 - ndc.y()) / 2 * h)
    with qtbot.waitSignal(view3d.cursorInfo) as info:
        _send(view3d.gl, QEvent.Type.MouseMove, at)
    assert f"epoch {t.epochs[k]}" in info.args[0] and "off-plane distance" in info.args[0]


@pytest.mark.parametrize("size", [(480, 360), (900, 700)])
def test_epoch_labels_never_overlap_first_and_last_always_shown(qtbot, make_surface, size):
    r = _pca(make_surface, n=40)  # steps shrink towards the minimum: labels would pile up
    view = _show(qtbot, ContourView2D(DisplaySettings()), *size)
    view.set_result(r)
    view.plot_widget.grab()  # paint once: text items take their scene transform

    def check(least: int):
        shown = view.traj.visible_labels()
        rects = [lab.sceneBoundingRect() for lab in shown]
        for a in range(len(rects)):
            for b in range(a + 1, len(rects)):
                assert not rects[a].intersects(rects[b]), (
                    shown[a].toPlainText(),
                    shown[b].toPlainText(),
                )
        labels = view.epoch_labels
        assert labels[0].isVisible() and labels[-1].isVisible()
        assert least <= len(shown) < len(labels)

    check(least=5)
    view.viewbox.scaleBy((2.0, 2.0))  # zoomed out: fewer labels fit, still none overlap
    view.plot_widget.grab()
    check(least=2)


# --- 1-D --------------------------------------------------------------------------------
def test_line_log_scale_keeps_accuracy_linear_in_0_100(qtbot, line_result):
    settings = DisplaySettings()
    view = _show(qtbot, LineView1D(settings))
    view.set_result(line_result)
    settings.log_scale = True
    right = view.plot.getAxis("right")
    assert view.plot.getAxis("left").logMode and not right.logMode
    qtbot.waitUntil(lambda: view.acc_box.viewRange()[1][1] > 50)  # auto range, on paint
    view.plot_widget.grab()
    lo, hi = view.acc_box.viewRange()[1]
    assert -25 <= lo <= 5 and 95 <= hi <= 115  # (the fixture's test accuracy dips to -10)
    ticks = [v for level in right.tickValues(lo, hi, 300) for v in level[1]]
    assert ticks and max(ticks) <= 110 and min(ticks) >= -20
    assert np.allclose(np.diff(sorted(set(ticks)))[:3], np.diff(sorted(set(ticks)))[0])  # linear
    _x, acc = view.curves["train_acc"].getData()
    np.testing.assert_allclose(acc, line_result.values["train_acc"])  # drawn as it is
    view.plot.ctrl.logYCheck.setChecked(False)  # pyqtgraph's own menu: the same
    view.plot.ctrl.logYCheck.setChecked(True)
    assert not right.logMode


def test_line_cursor_readout(qtbot, line_result):
    view = _show(qtbot, LineView1D(DisplaySettings()), 600, 420)
    view.set_result(line_result)
    i = 15  # α = 0.5
    p = view.plot_widget.mapFromScene(view.plot.vb.mapViewToScene(QPointF(0.5, 0.2)))
    with qtbot.waitSignal(view.cursorInfo) as info:
        _send(view.plot_widget.viewport(), QEvent.Type.MouseMove, QPointF(p))
    text = info.args[0]
    assert text.startswith("α = 0.5:")
    for q, label in (("train_loss", "train loss"), ("test_loss", "test loss")):
        assert f"{label} = {line_result.values[q][i]:.4g}" in text
    assert f"train accuracy = {line_result.values['train_acc'][i]:.4g} %" in text
    assert view.hover_line.isVisible() and view.hover_line.value() == pytest.approx(0.5)


def test_endpoint_labels_tell_two_model_5_apart(qtbot):
    assert endpoint_labels("/r/x/batch_16/model_5.pt", "/r/x/batch_1024/model_5.pt") == (
        "batch_16/model_5.pt",
        "batch_1024/model_5.pt",
    )
    assert endpoint_labels("/r/a.pt", "/r/b.pt") == ("a.pt", "b.pt")
    assert endpoint_labels("/s/run/ckpt/m.pt", "/t/run/ckpt/m.pt") == (
        "s/run/ckpt/m.pt",
        "t/run/ckpt/m.pt",
    )
    r = _line()
    r.specs["model"]["checkpoint"] = "/runs/pair/batch_16/model_5.pt"
    r.specs["directions"]["target_checkpoint"] = "/runs/pair/batch_1024/model_5.pt"
    view = _show(qtbot, LineView1D(DisplaySettings()), 420, 320)
    view.set_result(r)
    assert [m.label.format for m in view.markers] == [
        "batch_16/model_5.pt",
        "batch_1024/model_5.pt",
    ]
    view.plot_widget.grab()
    a, b = (m.label.sceneBoundingRect() for m in view.markers)
    assert not a.intersects(b)
    # the legend has its own row: it covers no curve
    legend = view.legend.mapRectToScene(view.legend.boundingRect())
    assert legend.top() >= view.plot.vb.sceneBoundingRect().bottom()
    assert legend.width() > 100


def test_no_accuracy_where_the_loss_is_not_finite(qtbot, line_result):
    line_result.values["train_loss"][10] = np.nan
    line_result.values["train_acc"][10] = 10.0  # chance, as the evaluator reports there
    view = _show(qtbot, LineView1D(DisplaySettings()))
    view.set_result(line_result)
    _x, train_acc = view.curves["train_acc"].getData()
    _x, test_acc = view.curves["test_acc"].getData()
    assert np.isnan(train_acc[10]) and np.isfinite(np.delete(train_acc, 10)).all()
    assert np.isfinite(test_acc).all()  # the test loss is finite there
    assert len(view.non_finite_regions) == 1
    (a, b) = view.non_finite_regions[0].getRegion()
    assert a < line_result.x[10] < b
    assert view.point_counts().non_finite == 1
    assert "— (loss diverged)" in view.describe_point(float(line_result.x[10]))


# --- colour maps, sizes ---------------------------------------------------------------
def test_auto_colormap_follows_the_quantity_and_centres_signed_ones(qtbot, make_surface):
    settings = DisplaySettings()
    assert settings.colormap == "auto"
    view2d = _show(qtbot, ContourView2D(settings))
    view3d = _show(qtbot, SurfaceView3D(settings))
    r = make_surface()
    for v in (view2d, view3d):
        v.set_result(r)
    assert view2d.colorbar.colorMap().name == get_colormap("viridis").name
    settings.quantity = "train_acc"
    assert view2d.colorbar.colorMap().name == get_colormap("magma").name
    assert view3d.colorbar.bar[0].name == get_colormap("magma").name
    signed = SurfaceResult.empty(BOWL_X, BOWL_Y, ("train_loss", "min_eig"))
    xx, yy = np.meshgrid(BOWL_X, BOWL_Y)
    signed.apply_chunk(
        np.arange(35), {"train_loss": bowl(xx, yy).ravel(), "min_eig": (3 * xx - 1).ravel()}
    )
    settings.quantity = "min_eig"
    for v in (view2d, view3d):
        v.set_result(signed)
    assert view3d.vrange == pytest.approx((-4.0, 4.0))  # values -4..2, 0 in the middle
    assert tuple(view2d.colorbar.levels()) == pytest.approx((-4.0, 4.0))
    settings.update(quantity="train_acc", log_scale=True)
    view3d.set_result(r)
    assert view3d.colorbar.bar[2] == "train accuracy"  # accuracy is never drawn in log


def test_views_stay_usable_in_a_small_window(qtbot, closed_form_surface, line_result):
    settings = DisplaySettings()
    split = QSplitter()
    views = (SurfaceView3D(settings), ContourView2D(settings))
    for v in views:
        split.addWidget(v)
    line = LineView1D(settings)
    for v in (*views, line):
        assert v.minimumSizeHint().width() <= 300
    _show(qtbot, split, 600, 500)  # the view area of a 1024 × 700 window
    split.setSizes([300, 300])
    for v in views:
        v.set_result(closed_form_surface)
    assert split.width() <= 610 and all(v.width() >= 250 for v in views)
    gl = views[0].gl
    assert gl.width() >= 150
    qtbot.waitUntil(lambda: _drawn(_screen(gl)).mean() > 0.05)
    _show(qtbot, line, 320, 300)
    line.set_result(line_result)
    assert line.width() <= 330


def test_a_pane_can_drop_its_colour_bar(qtbot, closed_form_surface):
    view = _show(qtbot, SurfaceView3D(DisplaySettings()), 400, 300)
    view.set_result(closed_form_surface)
    assert view.export_layout(800, 600)[1] > 0
    view.set_colorbar_visible(False)
    assert not view.colorbar.isVisible() and view.export_layout(800, 600)[:2] == (800, 0)
    qtbot.waitUntil(lambda: view.gl.width() == view.width())  # the scene takes the strip
