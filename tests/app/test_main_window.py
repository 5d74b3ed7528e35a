"""The main window, end to end on the bundled demo (real engine, real views, small grids).

Every test uses a temporary QSettings location (``QSettings.setPath``) holding a 7 × 5 grid,
so the demo computes in a few seconds and the user's own settings are never touched.
"""

from __future__ import annotations

import itertools
import os
import time

import numpy as np
from conftest import COMPUTE_MS
from lossviz.main_window import MainWindow
from lossviz.worker import running_threads
from PySide6.QtCore import QTimer


def wait_idle(qtbot, w: MainWindow, timeout: int = COMPUTE_MS) -> None:
    qtbot.waitUntil(lambda: not w.computing, timeout=timeout)


def assert_complete(result, x, y) -> None:
    assert result.done.all()
    assert result.values["train_loss"].shape == (len(y), len(x))
    assert np.isfinite(result.values["train_loss"]).all()
    np.testing.assert_allclose(result.x, x)
    np.testing.assert_allclose(result.y, y)


def test_opens_on_the_demo_and_computes_it(qtbot, make_window, errors):
    w = make_window()
    wait_idle(qtbot, w)
    assert errors == []
    assert_complete(w.result, np.linspace(-1, 1, 7), np.linspace(-1, 1, 5))
    loss = w.result.values["train_loss"]
    # the centre is the trained demo checkpoint: its loss is the lowest of the grid
    assert loss[2, 3] == loss.min() and loss.max() > 2 * loss[2, 3]
    assert w.result.recipe.model.name == "digits_cnn"
    assert w.progress.value() == 35
    assert "35 points" in w.progress_label.text()
    assert w.tabs.currentWidget() is w.surface_split


def test_rectangle_zoom_recomputes_inside_the_rectangle(qtbot, make_window, errors, monkeypatch):
    w = make_window()
    wait_idle(qtbot, w)
    first = w.result
    import lossviz_core.run.job as job_module

    prepared = []
    real = job_module.iter_prepare
    monkeypatch.setattr(job_module, "iter_prepare", lambda *a: prepared.append(a) or real(*a))
    # the rectangle's sides move to the nearest grid points (steps 1/3 and 1/2)
    w.view2d.zoomRequested.emit(-0.45, 0.3, -0.3, 0.6)
    assert w.ranges_panel.range_text() == "α -0.3333:0.3333:7, β -0.5:0.5:5"
    wait_idle(qtbot, w)
    assert errors == []
    assert w.result is not first
    parent = np.linspace(-1, 1, 7)  # the zoom's ends are two of its points
    assert_complete(w.result, np.linspace(parent[2], parent[4], 7), np.linspace(-0.5, 0.5, 5))
    assert prepared == [], "a zoom reuses the loaded model and directions (Job.with_recipe)"
    assert w.compute_panel.back.isEnabled()
    # every third α and every other β of the zoom is a point of the first grid: the same
    # model at the same (α, β), the same value
    np.testing.assert_allclose(w.result.x[::3], first.x[2:5], atol=1e-12)
    np.testing.assert_allclose(w.result.y[::2], first.y[1:4], atol=1e-12)
    np.testing.assert_allclose(w.result.values["train_loss"][::2, ::3],
                               first.values["train_loss"][1:4, 2:5], rtol=1e-4, atol=1e-5)

    w.view2d.zoomRequested.emit(-0.25, 0.0, 0.0, 0.4)
    wait_idle(qtbot, w)
    assert w.ranges_panel.range_text() == "α -0.2222:0:7, β 0:0.5:5"
    w.compute_panel.back.click()
    assert w.ranges_panel.range_text() == "α -0.3333:0.3333:7, β -0.5:0.5:5"
    wait_idle(qtbot, w)
    w.compute_panel.reset.click()
    assert w.ranges_panel.range_text() == "α -1:1:7, β -1:1:5"
    wait_idle(qtbot, w)
    assert_complete(w.result, np.linspace(-1, 1, 7), np.linspace(-1, 1, 5))
    np.testing.assert_allclose(w.result.values["train_loss"], first.values["train_loss"],
                               rtol=1e-4, atol=1e-5)
    assert not w.compute_panel.back.isEnabled()


def test_cancel_keeps_the_computed_points(qtbot, make_window, errors):
    w = make_window(autostart=False)
    w.state.update(xnum=41, ynum=41)
    w.compute()
    qtbot.waitUntil(lambda: w.result is not None and w.result.done.any(), timeout=COMPUTE_MS)
    w.compute_panel.cancel.click()
    wait_idle(qtbot, w, 10_000)
    r = w.result
    n = int(r.done.sum())
    assert 0 < n < r.done.size
    loss = r.values["train_loss"]
    assert np.isfinite(loss[r.done]).all() and np.isnan(loss[~r.done]).all()
    assert w.progress_label.text() == f"Cancelled: {n}/{41 * 41} points kept."
    assert errors == []
    w.state.update(xnum=7, ynum=5)
    w.compute()
    wait_idle(qtbot, w)
    assert_complete(w.result, np.linspace(-1, 1, 7), np.linspace(-1, 1, 5))


def test_bad_checkpoint_shows_an_error_and_the_app_goes_on(qtbot, make_window, errors,
                                                          tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint" * 10)
    w = make_window(autostart=False)
    w.state.update(source="zoo", model="digits_cnn", checkpoint=str(garbage),
                   dataset="digits")
    w.compute()
    qtbot.waitUntil(lambda: bool(errors), timeout=COMPUTE_MS)
    wait_idle(qtbot, w, 10_000)
    message, details = errors[0]
    assert "garbage.pt" in message and not message.startswith("Unexpected")
    assert details == ""
    assert w.progress_label.text() == "Failed."
    w.state.set("source", "demo")
    w.compute()
    wait_idle(qtbot, w)
    assert len(errors) == 1
    assert_complete(w.result, np.linspace(-1, 1, 7), np.linspace(-1, 1, 5))


def test_gui_thread_never_blocks_while_computing(qtbot, make_window, errors, monkeypatch):
    """prepare() and every grid evaluation run off the GUI thread, and the GUI thread keeps
    handling events between the chunks as they arrive.

    How long the GUI thread stalls is a speed figure, not a test assertion: it is measured
    beside an idle window's in ``python -m benchmarks.gui_lag``.
    """
    import threading

    from lossviz_core.evaluation.evaluate import Evaluator
    from lossviz_core.run import job as job_module

    gui = threading.get_ident()
    where: dict[str, set[int]] = {"prepare": set(), "evaluate": set()}
    real_prepare, real_evaluate = job_module.iter_prepare, Evaluator.evaluate

    def spy_prepare(*args, **kwargs):
        where["prepare"].add(threading.get_ident())
        return (yield from real_prepare(*args, **kwargs))

    def spy_evaluate(self, coords):
        where["evaluate"].add(threading.get_ident())
        return real_evaluate(self, coords)

    monkeypatch.setattr(job_module, "iter_prepare", spy_prepare)
    monkeypatch.setattr(Evaluator, "evaluate", spy_evaluate)
    w = make_window()
    wait_idle(qtbot, w)
    ticks: list[float] = []
    arrivals: list[float] = []
    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    w.state.update(xnum=15, ynum=11)
    probe.start()
    w.directions_panel.new_dirs.click()  # a new seed: prepare() runs again, in the worker
    w.worker.yielded.connect(lambda _item: arrivals.append(time.perf_counter()))
    wait_idle(qtbot, w)
    probe.stop()
    assert errors == [] and w.result.done.all()
    assert where["prepare"] and gui not in where["prepare"]
    assert where["evaluate"] and gui not in where["evaluate"]
    # events were handled while the grid filled: the probe ticked between chunk arrivals
    assert len(arrivals) >= 3
    between = [any(a < t < b for t in ticks) for a, b in itertools.pairwise(arrivals)]
    assert sum(between) >= len(between) // 2, between


def test_closing_mid_compute_stops_the_worker(qtbot, make_window, errors):
    w = make_window(autostart=False)
    w.state.update(xnum=41, ynum=41)
    w.compute()
    qtbot.waitUntil(lambda: w.result is not None and w.result.done.any(), timeout=COMPUTE_MS)
    w.close()
    assert running_threads() == []
    assert not w.result.done.all()
    assert errors == []


def test_settings_persist_between_launches(qtbot, make_window, settings_dir):
    w = make_window(autostart=False)
    w.ranges_panel.spins["xmin"].setValue(-0.75)
    w.ranges_panel.spins["ynum"].setValue(9)
    w.display.colormap = "plasma"
    w.state.set("method", "random1d")
    w.close()
    again = make_window(autostart=False)
    assert again.state["xmin"] == -0.75 and again.state["ynum"] == 9
    assert again.ranges_panel.spins["xmin"].value() == -0.75
    assert again.display.colormap == "plasma"
    assert again.display_panel.colormap.currentText() == "plasma"
    assert again.state["method"] == "random1d"
    assert (settings_dir / "LossVizTest" / "LossViz.ini").is_file()


def test_interpolation_between_two_checkpoints_shows_a_line(qtbot, make_window, errors):
    from lossviz_core import demo

    a, b = demo.pair()
    w = make_window(autostart=False)
    w.actions_.open_interpolation("digits_cnn", str(a), str(b), {"name": "digits"})
    w.state.set("xnum", 9)
    w.compute()  # restarts the running computation with 9 points
    wait_idle(qtbot, w)
    assert errors == []
    r = w.result
    assert r.is_line and r.done.all()
    np.testing.assert_allclose(r.x, np.linspace(-0.5, 1.5, 9))
    # α = 0 and α = 1 are the two trained models themselves: low, finite losses (outside
    # [0, 1] the interpolated BN variances may turn negative, giving NaN there)
    inside = (r.x >= 0) & (r.x <= 1)
    assert np.isfinite(r.values["test_loss"][inside]).all()
    assert r.values["train_loss"][2] < 0.5 and r.values["train_loss"][6] < 0.5
    assert w.tabs.currentWidget() is w.view1d


def test_save_open_and_compare(qtbot, make_window, errors, tmp_path):
    w = make_window()
    wait_idle(qtbot, w)
    path = str(tmp_path / "demo.h5")
    worker = w.actions_.save_result(path)
    qtbot.waitUntil(lambda: worker not in w.actions_.tasks, timeout=10_000)
    assert errors == [] and "Saved" in w.progress_label.text()
    w.actions_.set_compare("left")
    worker = w.actions_.open_result(path, side="right")
    qtbot.waitUntil(lambda: "right" in w.actions_.compare_sides, timeout=10_000)
    left, right = w.actions_.compare_sides["left"][0], w.actions_.compare_sides["right"][0]
    np.testing.assert_allclose(right.values["train_loss"], left.values["train_loss"])
    assert w.tabs.currentWidget() is w.compare
    (tmp_path / "broken.h5").write_bytes(b"not hdf5")
    w.actions_.open_result(str(tmp_path / "broken.h5"))
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert "broken.h5" in errors[0][0] and errors[0][1] == ""


def test_missing_dataset_and_mismatched_checkpoint_are_explained(qtbot, make_window, errors,
                                                                 tmp_path):
    """CIFAR-10 absent from its folder, then a ResNet checkpoint for the digits CNN: each is a
    one-line message naming what to do, never a traceback, and nothing is left computing."""
    from lossviz_core.models import build_model
    from lossviz_core.sources.checkpoints import save_checkpoint

    resnet = save_checkpoint(build_model("resnet20"), tmp_path / "resnet20.pt")
    w = make_window(autostart=False)
    w.state.update(source="zoo", model="resnet20", checkpoint=str(resnet),
                   dataset="cifar10", data_root=str(tmp_path / "no-cifar-here"))
    w.compute()
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=COMPUTE_MS)
    wait_idle(qtbot, w, 10_000)
    message, details = errors[0]
    assert "CIFAR-10 not found" in message and details == ""
    assert "Download button" in message and "Data folder" in message and "--" not in message
    w.state.update(model="digits_cnn", dataset="digits")
    w.compute()
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=COMPUTE_MS)
    wait_idle(qtbot, w, 10_000)
    message, details = errors[1]
    assert "missing" in message and "layer1.0.conv1.weight" in message and details == ""


def test_export_menu_writes_files_and_download_failure_is_explained(
        qtbot, make_window, errors, tmp_path, monkeypatch):
    from lossviz.export import read_png_specs
    from PySide6.QtGui import QImage

    w = make_window()
    wait_idle(qtbot, w)
    w.actions_.export("3-D surface", str(tmp_path / "surface.png"), 1280, 960)
    image = QImage(str(tmp_path / "surface.png"))
    assert (image.width(), image.height()) == (1280, 960)
    assert read_png_specs(tmp_path / "surface.png")["recipe"]["model"]["name"] == "digits_cnn"
    w.actions_.export("2-D contour", str(tmp_path / "map.svg"), 800, 600)
    assert b"<svg" in (tmp_path / "map.svg").read_bytes()[:2000]
    assert errors == []
    w.actions_.export("3-D surface", str(tmp_path / "surface.svg"), 800, 600)
    assert len(errors) == 1 and "PNG" in errors[0][0] and not (tmp_path / "surface.svg").exists()

    import torchvision

    def offline(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    w.state.set("data_root", str(tmp_path / "cifar"))
    w.actions_.download_cifar()
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=COMPUTE_MS)
    assert "name resolution" in errors[1][0] and "Traceback" not in errors[1][0]


def test_lossviz_with_a_result_file_opens_the_window_on_it(qtbot, settings_dir, tmp_path,
                                                           make_surface, monkeypatch, errors):
    """``lossviz FILE.h5``: the window, showing that file (not the demo), its panels set."""
    import lossviz.main_window as main_window
    from lossviz.__main__ import main

    from lossviz_core.results.store import save_result

    r = make_surface()
    path = save_result(r, tmp_path / "bowl.h5")
    opened: list = []

    def run_app(argv):  # the real run_app, without entering app.exec() inside the tests
        window = main_window.open_window([a for a in argv if not a.startswith("-")])
        qtbot.addWidget(window)
        opened.append(window)
        qtbot.waitUntil(lambda: not window.computing, timeout=COMPUTE_MS)
        return 0

    monkeypatch.setattr(main_window, "run_app", run_app)
    assert main([str(path)]) == 0
    w = opened[-1]
    qtbot.waitUntil(lambda: w.result is not None and not w.computing, timeout=COMPUTE_MS)
    assert "start" not in w.timings  # the file, not a computed demo
    assert w.opened is not None and os.path.samefile(w.opened[0], path)
    np.testing.assert_array_equal(w.result.x, r.x)
    np.testing.assert_allclose(w.result.values["train_loss"], r.values["train_loss"])
    assert w.windowTitle().startswith("LossViz — ")
    w.close()
    for argv in (["--gui"], []):  # plain lossviz: the window too, on no file
        assert main(argv) == 0
        assert opened[-1].isVisible() and opened[-1].opened is None
        opened[-1].close()
    assert errors == []
