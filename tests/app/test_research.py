"""The window as a research instrument: state always true, PCA ranges that hold the path,
curvature beside the surface, Compare for papers."""

from __future__ import annotations

import numpy as np
from conftest import COMPUTE_MS, bowl

from lossviz_core import demo


def wait_idle(qtbot, w, timeout=COMPUTE_MS):
    qtbot.waitUntil(lambda: not w.computing, timeout=timeout)


def test_a_changed_control_marks_the_view_stale_until_computed(qtbot, make_window, errors):
    w = make_window()
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: w._stale_timer.isActive() is False, timeout=2000)
    assert not w.stale
    w.state.set("seed", 7)
    qtbot.waitUntil(lambda: w.stale, timeout=2000)
    w.state.set("seed", 0)  # back to what is shown: not stale
    qtbot.waitUntil(lambda: not w.stale, timeout=2000)
    w.state.set("xnum", 9)
    qtbot.waitUntil(lambda: w.stale, timeout=2000)
    w.compute()
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: not w.stale, timeout=2000)
    assert w.result.shape == (5, 9) and errors == []


def test_pca_ranges_hold_every_trajectory_point(qtbot, make_window, errors):
    w = make_window(autostart=False)
    w.state.update(source="run", run_dir=str(demo.run_dir()), method="pca", xnum=9, ynum=7,
                   xmin=0.0, xmax=0.1, ymin=0.0, ymax=0.1)  # ranges the fit replaces
    w.compute()
    wait_idle(qtbot, w)
    assert errors == []
    r, t = w.result, w.result.trajectory
    assert t is not None and r.shape == (7, 9)
    assert r.x[0] < t.x.min() and t.x.max() < r.x[-1]
    assert r.y[0] < t.y.min() and t.y.max() < r.y[-1]
    # the panel shows the fitted ranges, and the view is not stale for them
    assert (w.state["xmin"], w.state["xmax"]) == (r.x[0], r.x[-1])
    qtbot.waitUntil(lambda: not w._stale_timer.isActive(), timeout=2000)
    assert not w.stale
    w.compute()  # computed before: shown from the library, not again
    wait_idle(qtbot, w)
    assert "from the results library" in w.progress_label.text()


def test_the_curvature_tab_analyses_the_checkpoint(qtbot, make_window, errors):
    w = make_window(autostart=False)
    w.state.update(subsample=300)
    tab = w.curvature_tab
    tab.top_k.setValue(2)
    tab.compute()
    qtbot.waitUntil(lambda: tab.report is not None, timeout=4 * COMPUTE_MS)
    qtbot.waitUntil(lambda: not tab.computing, timeout=COMPUTE_MS)
    assert errors == []
    r = tab.report
    assert len(r["eigenvalues"]) == 2 and r["eigenvalues"][0] >= r["eigenvalues"][1] > 0
    assert r["examples"] == 300 and r["lambda_min"] < r["eigenvalues"][0]
    text = tab.numbers.toPlainText()
    assert "λ1 =" in text and "trace =" in text and "sharpness" in text
    assert len(tab.density_plot.getPlotItem().listDataItems()) == 1
    assert tab.save_button.isEnabled()


def test_compare_lays_out_pairs_on_one_scale_with_a_difference(qtbot, make_window, errors,
                                                              make_surface):
    w = make_window(autostart=False)
    a = make_surface()
    b = make_surface(lambda x, y: 2 * bowl(x, y) + 1)
    c = make_surface(lambda x, y: bowl(x, y) + 0.5)
    w.compare.set_results([a, b, c], ["skip", "no skip", "third"])
    w.compare.set_mode("2d")
    assert len(w.compare.panes) == 3 and [lb.text() for lb in w.compare.labels] == [
        "skip", "no skip", "third"]
    ranges = {p._fixed_range for p in w.compare.panes}
    assert len(ranges) == 1 and None not in ranges  # one colour scale, fixed
    w.compare.set_results([a, b], ["a", "b"])
    w.compare.set_mode("difference")
    assert len(w.compare.panes) == 1
    d = w.compare.panes[0].result
    np.testing.assert_allclose(d.values["train_loss"], a.values["train_loss"]
                               - b.values["train_loss"])
    img = w.compare.grab_image(600, 400)
    assert (img.width(), img.height()) == (600, 400)


def test_exports_from_the_window_survive_outside_qt(qtbot, make_window, errors, tmp_path):
    import shutil
    import subprocess
    import xml.etree.ElementTree as ET

    from PIL import Image

    w = make_window()
    wait_idle(qtbot, w)
    svg = tmp_path / "map.svg"
    w.actions_.export("2-D contour", str(svg), 900, 600)
    assert errors == []
    root = ET.parse(svg).getroot()
    assert root.get("width", "").startswith("675")  # 900 px at 96 dpi = 675 pt
    if shutil.which("rsvg-convert"):
        png = tmp_path / "map.png"
        subprocess.run(["rsvg-convert", "-o", str(png), str(svg)], check=True)
        pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
        assert len(np.unique(pixels, axis=0)) > 50  # a landscape, not a solid block
    # the mesh of what the window shows (File > Export mesh writes this, after its dialog)
    from lossviz_core.export import export_mesh

    vtp = export_mesh(w.result, tmp_path / "s.vtp")
    tree = ET.parse(vtp).getroot()
    piece = next(e for e in tree.iter() if e.tag == "Piece")
    assert int(piece.get("NumberOfPoints")) == w.result.done.size


def test_every_setting_says_what_it_does(make_window):
    from lossviz.panels.binding import PathEdit
    from PySide6.QtWidgets import (
        QCheckBox,
        QComboBox,
        QDoubleSpinBox,
        QLineEdit,
        QPushButton,
        QSpinBox,
    )

    w = make_window(autostart=False)
    silent = []
    for panel in (w.source_panel, w.directions_panel, w.ranges_panel, w.compute_panel,
                  w.display_panel, w.curvature_tab):
        for cls in (QComboBox, QSpinBox, QDoubleSpinBox, QCheckBox, QLineEdit, QPushButton,
                    PathEdit):
            for x in panel.findChildren(cls):
                inner = isinstance(x.parent(), (PathEdit, QComboBox, QSpinBox, QDoubleSpinBox))
                if inner and isinstance(x, (QLineEdit, QPushButton)):
                    continue  # the line edit or button inside a composite widget
                if not x.toolTip() and x.isVisibleTo(panel) is not None and not (
                        isinstance(x, QPushButton) and x.text() in ("Save report…", "Cancel",
                                                                     "Zoom back", "◀ Zoom back",
                                                                     "Reset zoom")):
                    silent.append(f"{type(panel).__name__}: {cls.__name__} "
                                  f"{getattr(x, 'text', lambda: '')()!r}")
    assert silent == []


def test_use_for_pca_plane_shows_the_result_from_the_compare_tab(qtbot, make_window, errors):
    """The training dialog's *Use for PCA plane*: the surface tab, the window in front."""
    w = make_window(autostart=False)
    w.state.update(xnum=5, ynum=5)
    w.tabs.setCurrentWidget(w.compare)
    w.actions_.use_run_for_pca(str(demo.run_dir()))
    wait_idle(qtbot, w)
    assert errors == []
    assert w.tabs.currentWidget() is w.surface_split
    assert w.result is not None and w.result.trajectory is not None
    assert w.view2d.result is w.result
