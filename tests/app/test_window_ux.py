"""The window's friction items (issue 19): the wheel over the panels, fields that follow
Source and Method, the Function list of a Python file, the training presets' folders,
Compare's 1-D results and a zoom that lands on the grid."""

from __future__ import annotations

from conftest import _line  # at collection: the app's conftest, not the engine's
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication


def _wheel(widget, steps: int = 1) -> None:
    """One wheel notch (up) over the middle of ``widget``, as the mouse sends it."""
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    glob = QPointF(widget.mapToGlobal(pos.toPoint()))
    event = QWheelEvent(pos, glob, QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_over_an_unfocused_field_changes_nothing(qtbot, make_window):
    w = make_window(autostart=False)
    w.activateWindow()
    spin = w.ranges_panel.spins["xmax"]
    norm = w.directions_panel.norm
    assert spin.value() == 1.0 and norm.currentText() == "filter"
    w.compute_panel.compute.setFocus()
    qtbot.waitUntil(w.compute_panel.compute.hasFocus)
    _wheel(spin)
    _wheel(norm)
    assert spin.value() == 1.0 and w.state["xmax"] == 1.0
    assert norm.currentText() == "filter" and w.state["norm"] == "filter"
    # focused (clicked or tabbed into), the wheel steps the value as before
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    _wheel(spin)
    assert spin.value() == 1.1 and w.state["xmax"] == 1.1
    norm.setFocus()
    qtbot.waitUntil(norm.hasFocus)
    _wheel(norm, -1)
    assert norm.currentIndex() == 1 and w.state["norm"] == norm.itemData(1)


def test_dialogs_guard_their_fields_too(qtbot, settings_dir):
    from lossviz.export_dialogs import ExportDialog
    from lossviz.training_dialog import TrainingDialog

    dlg = TrainingDialog()
    qtbot.addWidget(dlg)  # not shown: the wheel reaches a hidden field all the same
    assert not dlg.epochs.hasFocus() and not dlg.model.hasFocus()
    _wheel(dlg.epochs)
    _wheel(dlg.model)
    assert dlg.epochs.value() == 10 and dlg.model.currentText() == "digits_cnn"
    export = ExportDialog(None, ["3-D", "2-D"], "2-D", (800, 600))
    qtbot.addWidget(export)
    width = export.width_px.value()
    _wheel(export.width_px)
    assert export.width_px.value() == width


def test_the_counts_tooltip_says_why_points_are_not_finite(qtbot, make_window):
    """Beyond α = 1.25 the interpolated BatchNorm variance c + α·a = 1.25 − α is negative:
    the status says so, not "diverged"."""
    import numpy as np

    from lossviz_core.results.result import SurfaceResult

    w = make_window(autostart=False)
    x = np.linspace(-0.5, 1.5, 21)
    loss = np.where(x > 1.25, np.nan, (x - 1) ** 2 + 0.05)
    specs = {"directions": {"method": "target", "dir_type": "states"},
             "evaluator": {"non_finite": {"bn_running_var": {"bn1": [[1.25, -1.0, 0.0]]}}}}
    r = SurfaceResult.empty(x, None, ("train_loss",), specs=specs)
    r.apply_chunk(np.arange(len(x)), {"train_loss": loss})
    w.set_result(r)
    w._repaint(every=True)
    qtbot.waitUntil(lambda: "non-finite" in w.counts_label.text())
    tip = w.counts_label.toolTip()
    assert "3 non-finite: BatchNorm running variance < 0 (bn1 at α ≥ 1.3)" in tip
    assert "diverged" not in tip and "diverged" not in w.counts_label.text()


def test_a_fitted_pca_plane_is_named_after_its_computed_grid(qtbot, make_window, errors):
    from lossviz_core import demo

    w = make_window(autostart=False)
    w.state.update(source="run", run_dir=str(demo.run_dir()), method="pca", fit_ranges=True,
                   xnum=5, ynum=4, subsample=200)
    w.compute()
    qtbot.waitUntil(lambda: not w.computing and w.result is not None, timeout=120_000)
    assert errors == []
    r = w.result
    grid = (f"{r.x[0]:.4g}:{r.x[-1]:.4g}:5", f"{r.y[0]:.4g}:{r.y[-1]:.4g}:4")
    for text in (w.entry.name, w.windowTitle(), w.results_panel.list.item(0).text()):
        assert all(g in text for g in grid) and "fitted" not in text, text


def test_a_zoom_rectangle_lands_on_the_grid_it_was_drawn_on():
    import numpy as np
    from lossviz.computing import snapped

    from lossviz_core.recipe.spec import Range

    grid = np.linspace(-1.0, 1.0, 21)  # step 0.1: the ends land exactly on its points
    assert snapped(-0.5115, 0.4893, Range(-1.0, 1.0, 21)) == Range(grid[5], grid[15], 21)
    assert abs(grid[5] + 0.5) < 1e-15 and abs(grid[15] - 0.5) < 1e-15
    assert snapped(0.01, 0.02, Range(-1.0, 1.0, 21)) == Range(0.0, grid[11], 21)  # < a step
    fitted = np.linspace(-9.02, 1.21, 32)  # step 0.33: grid points, not round numbers
    r = snapped(-5.0, -1.0, Range(-9.02, 1.21, 32))
    assert (r.min, r.max, r.num) == (fitted[12], fitted[24], 32)
    assert abs(r.min + 5.06) < 1e-12 and abs(r.max + 1.1) < 1e-12  # -9.02 + 12·0.33, + 24·0.33


def _pick(box, value) -> None:
    """Choose ``value`` in a combo box as the user does (the index changes, then
    ``activated``)."""
    i = box.findData(value)
    assert i >= 0, value
    box.setCurrentIndex(i)
    box.activated.emit(i)


def test_switching_source_or_method_resets_what_no_longer_fits(qtbot, make_window):
    w = make_window(autostart=False)
    s, src, dirs = w.state, w.source_panel, w.directions_panel
    # the digits checkpoint and Hugging Face's options do not follow to a Python file
    s.update(source="hf", hf_model="gpt2", allow_code=True, checkpoint="/runs/digits.pt",
             output="logits")
    assert s["checkpoint"] == "/runs/digits.pt"  # set by a program (a recipe): kept
    _pick(src.source, "pyfile")
    assert (s["checkpoint"], s["output"], s["allow_code"]) == ("", "", False)
    assert src.source.currentData() == "pyfile" and s["source"] == "pyfile"
    # a fitted PCA plane's run and ranges do not follow to a random plane
    s.update(source="run", run_dir="/runs/digits", method="pca", fit_ranges=True,
             xmin=-9.02, xmax=1.21, xnum=31, ymin=-0.5978, ymax=1.9615, ynum=21)
    _pick(src.source, "zoo")
    assert s["run_dir"] == "/runs/digits"  # PCA still reads it
    _pick(dirs.method, "random")
    assert s["run_dir"] == ""
    assert (s["xmin"], s["xmax"], s["xnum"]) == (-1.0, 1.0, 31)
    assert (s["ymin"], s["ymax"], s["ynum"]) == (-1.0, 1.0, 21)
    assert w.ranges_panel.range_text() == "α -1:1:31, β -1:1:21"
    # an interpolation starts at its own ranges; B stays for another method that takes it
    _pick(dirs.method, "target")
    s.set("checkpoint2", "/runs/b.pt")
    assert (s["xmin"], s["xmax"]) == (-0.5, 1.5)
    _pick(dirs.method, "plane3")
    assert s["checkpoint2"] == "/runs/b.pt"
    _pick(dirs.method, "random")
    assert s["checkpoint2"] == "" and (s["xmin"], s["xmax"], s["ymin"]) == (-1.0, 1.0, -1.0)
    # ranges the user chose stay across methods that start alike
    s.update(xmin=-2.0, xmax=2.0)
    _pick(dirs.method, "hessian")
    assert (s["xmin"], s["xmax"]) == (-2.0, 2.0)
    # PCA is fitted when chosen
    s.set("fit_ranges", False)
    _pick(dirs.method, "pca")
    assert s["fit_ranges"] is True


def test_the_function_of_a_python_file_is_offered_from_the_file(qtbot, make_window, tmp_path):
    ran = tmp_path / "ran.txt"
    model = tmp_path / "my_model.py"
    model.write_text(
        "import torch.nn as nn\n"
        f"open({str(ran)!r}, 'w').write('imported')  # never runs: the file is only parsed\n"
        "def _helper():\n    return 1\n"
        "def make_model(num_classes=10):\n    def inner():\n        pass\n"
        "    return nn.Linear(64, num_classes)\n"
        "class Net(nn.Module):\n    pass\n"
        "tiny = lambda: nn.Linear(64, 10)\n"
        "WIDTH = 64\n", encoding="utf-8")
    w = make_window(autostart=False)
    s, src = w.state, w.source_panel
    _pick(src.source, "pyfile")
    box = src.model_function
    s.set("model_file", str(model))
    assert [box.itemText(i) for i in range(box.count())] == ["make_model", "Net", "tiny",
                                                              "_helper"]
    assert s["model_function"] == "make_model" and box.currentText() == "make_model"
    assert not ran.exists()
    box.setCurrentIndex(1)  # the user picks another
    assert s["model_function"] == "Net"
    # another file that also defines it keeps the choice; one that cannot be parsed offers
    # nothing and keeps what was typed
    other = tmp_path / "other.py"
    other.write_text("class Net:\n    pass\ndef build():\n    pass\n", encoding="utf-8")
    s.set("model_file", str(other))
    assert box.count() == 2 and s["model_function"] == "Net"
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n", encoding="utf-8")
    s.set("model_file", str(broken))
    assert box.count() == 0 and s["model_function"] == "Net" and box.currentText() == "Net"
    # the dataset's Function alike
    data = tmp_path / "my_data.py"
    data.write_text("def load(split):\n    return None\n", encoding="utf-8")
    s.update(dataset="pyfile", data_file=str(data))
    assert s["data_function"] == "load" and src.data_function.count() == 1


def _curves(compare):
    """(x, y) and legend entry of each curve the 1-D overlay draws."""
    names = [label.text for _, label in compare.legend.items]
    return list(zip([item.getData() for item in compare.plot.listDataItems()], names,
                    strict=True))


def test_compare_keeps_1d_results_beside_surfaces_and_draws_the_chosen_curves(
        qtbot, make_window, make_surface, line_result):
    import numpy as np
    import pyqtgraph as pg
    from lossviz.views.surface3d import SurfaceView3D

    w = make_window(autostart=False)
    c = w.compare
    other = _line()
    other.values["test_loss"] = other.values["test_loss"] * 2
    c.set_results([make_surface(), line_result, other], ["plane", "a", "b"])
    w.tabs.setCurrentWidget(c)
    # auto: the surface in 3-D and both lines in one overlay pane after it, titled so
    assert c.mode == "3d" and len(c.panes) == 2
    assert isinstance(c.panes[0], SurfaceView3D) and isinstance(c.panes[1], pg.PlotWidget)
    assert [lab.text() for lab in c.labels] == ["plane", "1-D results"]
    drawn = _curves(c)
    assert [name for _, name in drawn] == ["a", "b"]
    np.testing.assert_allclose(drawn[1][0][1], other.values["train_loss"])
    # both losses: each result's train (solid) and test (dashed) loss
    c.curves.setCurrentIndex(c.curves.findData("losses"))
    drawn = _curves(c)
    assert len(drawn) == 4
    np.testing.assert_allclose(drawn[3][0][1], other.values["test_loss"])
    assert [name for _, name in drawn][:2] == ["a, train loss", "a, test loss"]
    styles = [item.opts["pen"].style() for item in c.plot.listDataItems()]
    assert styles[0] != styles[1] and styles[0] == styles[2]
    # any one quantity the results hold
    held = [c.curves.itemData(i) for i in range(c.curves.count())]
    assert "test_acc" in held and "train_loss" in held
    c.curves.setCurrentIndex(c.curves.findData("test_acc"))
    drawn = _curves(c)
    assert len(drawn) == 2
    np.testing.assert_allclose(drawn[0][0][1], line_result.values["test_acc"])
    # the export draws the overlay pane too (not left blank)
    image = c.grab_image(800, 400)
    right = image.copy(420, 60, 360, 300)
    colours = {right.pixel(x, y) for x in range(0, 360, 3) for y in range(0, 300, 3)}
    assert len(colours) > 5
    # 1-D overlay chosen: the surface is said to be left out, not dropped silently
    c.set_mode("lines")
    assert len(c.panes) == 1 and "1 surface not in the 1-D overlay" in c.info.text()


def test_the_batch_preset_shows_its_sizes_and_writes_into_a_new_results_folder(
        qtbot, settings_dir):
    from pathlib import Path

    from lossviz import settings_store
    from lossviz.training_dialog import TrainingDialog, batch_pair

    assert batch_pair(50_000) == (64, 4096)  # the seed report's, on CIFAR-10
    assert batch_pair(1437) == (8, 128)  # the digits: ≈ 8 % of the set, 16 × apart
    assert batch_pair(None) == (64, 4096)
    runs = settings_store.results_folder("runs")
    assert runs == settings_dir / "results" / "runs"
    dlg = TrainingDialog()
    qtbot.addWidget(dlg)
    assert Path(dlg.output.text()).parent == runs
    assert Path(dlg.output.text()).name.startswith("digits_cnn-")
    dlg.preset.setCurrentIndex(dlg.preset.findData("batch"))
    assert not dlg.form.isRowVisible(dlg.batch) and dlg.form.isRowVisible(dlg.batches)
    assert (dlg.small_batch.value(), dlg.large_batch.value()) == (8, 128)
    first = Path(dlg.output.text())
    assert first.parent == runs and "digits_cnn-batch-8-vs-128-" in first.name
    dlg.dataset.setCurrentIndex(dlg.dataset.findData("cifar10"))
    assert (dlg.small_batch.value(), dlg.large_batch.value()) == (64, 4096)
    # a run wrote into the folder: the next one gets a new folder, not the same
    Path(dlg.output.text()).mkdir(parents=True)
    used = dlg.output.text()
    dlg._name_output()  # what Start does first
    assert dlg.output.text() != used and not Path(dlg.output.text()).exists()
    # a folder the user typed stays theirs
    dlg.output.setText(str(settings_dir / "mine"))
    dlg.preset.setCurrentIndex(dlg.preset.findData("single"))
    assert dlg.output.text() == str(settings_dir / "mine")


def test_a_bundled_study_writes_into_the_results_folder(qtbot, make_window, tmp_path):
    from lossviz import settings_store
    from lossviz.study_panel import study_folder

    from lossviz_core.studies.catalog import BUNDLED

    w = make_window(autostart=False)
    assert w.open_study("seed-report")
    qtbot.waitUntil(lambda: not w.study_panel.running, timeout=60_000)
    assert w.study_panel.out == settings_store.results_folder("studies", "seed-report")
    assert str(w.study_panel.out).startswith(str(tmp_path))
    assert not str(w.study_panel.out).startswith(str(BUNDLED))
    own = tmp_path / "mine" / "study.toml"
    own.parent.mkdir()
    assert study_folder(own, "study") == own.parent / "study"  # beside the user's own


def test_at_1024x700_the_training_legends_cover_no_curve_and_curvature_plots_fit(
        qtbot, make_window):
    from types import SimpleNamespace

    from lossviz.training_dialog import TrainingDialog

    w = make_window(autostart=False)
    w.resize(1024, 700)
    dlg = TrainingDialog(w, output="/nonexistent/run")
    qtbot.addWidget(dlg)
    dlg.resize(1000, 660)
    for tag, off in (("small", 0.0), ("large", 0.3)):
        for e in range(1, 6):
            dlg._on_epoch((tag, SimpleNamespace(
                epoch=e, epochs=5, seconds=1.0, train_loss=2.3 / e + off,
                test_loss=2.4 / e + off, train_acc=100 - 50 / e, test_acc=95 - 50 / e)))
    for widget in (dlg.loss_plot, dlg.acc_plot):
        item = widget.getPlotItem()
        item.layout.activate()
        legend = item.legend.sceneBoundingRect()
        assert len(item.legend.items) == 4
        # under the axes (the curves' box), not over them
        assert legend.top() >= item.vb.sceneBoundingRect().bottom()
    tab = w.curvature_tab
    w.tabs.setCurrentWidget(tab)
    for widget in (tab.density_plot, tab.layer_plot):
        item = widget.getPlotItem()
        def right(item=item) -> float:
            return item.vb.mapRectToScene(item.vb.boundingRect()).right()

        qtbot.waitUntil(lambda w=widget, r=right: 50 < r() <= w.width())  # laid out
        assert right() + 14 <= widget.width()  # room for the last tick label
        assert item.geometry().width() <= widget.width()  # nothing drawn past the edge


def test_small_3d_views_print_no_label_over_another(qtbot, make_surface):
    """The PCA plane of the 1024×700 window (its 3-D view ~320 px wide, a plane 10 × 2.5
    wide): the axis titles and tick labels never overlap; ticks are thinned, titles kept."""
    import numpy as np
    from lossviz.views import DisplaySettings
    from lossviz.views.surface3d import SurfaceView3D

    from lossviz_core.results.result import Trajectory

    k = np.arange(6)
    traj = Trajectory(epochs=k, x=-7 * np.exp(-k), y=1.5 * np.exp(-k), off_plane=np.zeros(6),
                      loss=np.ones(6), explained_variance=(0.8, 0.15))
    r = make_surface(x=np.linspace(-9.02, 1.21, 41), y=np.linspace(-0.6, 1.96, 31),
                     trajectory=traj, specs={"directions": {"method": "pca"}})
    view = SurfaceView3D(DisplaySettings())
    qtbot.addWidget(view)
    for size, ticks in (((320, 560), 4), ((260, 300), 1), ((640, 480), 8)):
        view.resize(*size)
        view.show()
        qtbot.waitExposed(view)
        view.set_result(r)
        w, h = view.gl.width(), view.gl.height()
        labels = [(rect, text) for rect, _o, text, colour in
                  view.overlay.labels(w, h, view.mvp(w, h), 1.0) if "epoch" not in text]
        texts = [t for _, t in labels]
        assert {"PC1: 80.0 %", "PC2: 15.0 %", "train loss"} <= set(texts), texts
        assert sum(t not in ("PC1: 80.0 %", "PC2: 15.0 %", "train loss") for t in texts) >= ticks
        for i, (a, ta) in enumerate(labels):
            for b, tb in labels[i + 1:]:
                assert not a.intersects(b), (size, ta, tb)
