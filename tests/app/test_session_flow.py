"""The compute flow as a user meets it: a compute that fails or is cancelled leaves the
Results list and the view as they were (the reason in the status), an entry appears with
its first point and a stale one never blocks a compute, a PCA plane started from a run is
fitted, Results say what distinguishes them, and a relaunch shows what was shown."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
from conftest import COMPUTE_MS
from lossviz import computing, dialogs

from lossviz_core import demo
from lossviz_core.results.store import save_result

ONE_CHANNEL_MODEL = '''
import torch
from torch import nn


def make(num_classes=2):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, num_classes))
'''


def wait_idle(qtbot, w, timeout=COMPUTE_MS):
    qtbot.waitUntil(lambda: not w.computing, timeout=timeout)


def library_state(w):
    """The Results list as a user sees it, and the library folder's result files."""
    entries = [(e.id, e.name, e.done, e.total, e.thumbnail) for e in w.library.entries]
    files = sorted(p.name for p in w.library.folder.glob("*.h5"))
    return entries, files, w.results_panel.list.count()


def rgb_pictures(root):
    from PIL import Image

    rng = np.random.default_rng(3)
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for k in range(5):
            pixels = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{k}.png")
    return root


def test_a_failing_prepare_leaves_results_and_the_view_and_the_next_compute_works(
        qtbot, make_window, errors, tmp_path, monkeypatch):
    """The issue's user: a 1-D result shown, then their 1-channel model on a folder of RGB
    images read in 3 channels. Each Compute fails while preparing with the same one-line
    message (never 'no such file'), the line stays on screen, the Results list stays as it
    was; then a compute of something else works."""
    w = make_window(autostart=False)
    w.state.update(method="random1d", xnum=7, device="cpu")
    w.compute()
    wait_idle(qtbot, w)
    line = w.result
    assert line.is_line and line.done.all() and errors == []
    before = library_state(w)
    counts = w.counts_label.text()
    assert before[2] == 1 and counts.startswith("7 computed")
    model = tmp_path / "net.py"
    model.write_text(ONE_CHANNEL_MODEL)
    monkeypatch.setattr(dialogs, "ask_to_run_code", lambda parent, path: True)
    w.state.update(source="pyfile", model_file=str(model), model_function="make",
                   dataset="imagefolder", image_folder=str(rgb_pictures(tmp_path / "pics")),
                   transform="none", channels="3", method="random", xnum=3, ynum=3)
    for attempt in (1, 2):  # the same settings again: the same message
        w.compute()
        qtbot.waitUntil(lambda n=attempt: len(errors) == n, timeout=COMPUTE_MS)
        wait_idle(qtbot, w)
        message, details = errors[-1]
        assert "cannot take the inputs of" in message and "1 input channel" in message
        assert "no such file" not in message and details == ""
        assert library_state(w) == before
        assert w.result is line and w.view1d.result is line and w.view1d.state() == "complete"
        assert w.tabs.currentWidget() is w.view1d
        assert w.counts_label.text() == counts
        assert w.progress_label.text() == "Failed."
        assert "cannot take the inputs of" in w.statusBar().currentMessage()
    w.state.update(source="demo", xnum=5, ynum=3)
    w.compute()
    wait_idle(qtbot, w)
    assert len(errors) == 2 and w.result.done.all() and w.result.shape == (3, 5)
    assert library_state(w)[2] == 2


def test_cancelling_the_estimate_dialog_restores_the_previous_view(qtbot, make_window,
                                                                   errors, monkeypatch):
    w = make_window()
    wait_idle(qtbot, w)
    first, counts, before = w.result, w.counts_label.text(), library_state(w)
    assert counts == "35 computed · 0 interpolated · 0 non-finite"
    seen: dict = {}

    def ask(parent, points, seconds, smaller):
        seen.update(points=points, views=[w.view3d.state(), w.view2d.state()],
                    counts=w.counts_label.text(), results=library_state(w))
        return "cancel"

    monkeypatch.setattr(dialogs, "ask_long_compute", ask)
    monkeypatch.setattr(computing, "LONG_SECONDS", 0.05)
    w.state.update(xnum=401, ynum=401)
    w.compute()
    wait_idle(qtbot, w)
    # while asking: the views say they are preparing, no '0 computed · 160801 interpolated'
    assert seen["points"] == 401 * 401 and seen["views"] == ["message", "message"]
    assert seen["counts"] == "" and seen["results"] == before
    # cancelled: the previous surface again, its counts, nothing new in Results, the reason
    assert w.result is first and w.view2d.result is first and w.view3d.result is first
    assert w.view2d.state() == "complete" and w.view3d.state() == "complete"
    assert w.counts_label.text() == counts
    assert library_state(w) == before
    assert w.progress_label.text().startswith("Not computed: the grid would take")
    assert errors == []


def test_an_entry_comes_with_its_first_point_and_a_stale_one_never_blocks(
        qtbot, make_window, errors, monkeypatch):
    w = make_window(autostart=False)
    real = computing.Computation.show_points
    entries_at_first_point: list[int] = []

    def spy(self):
        entries_at_first_point.append(len(self.s.library.entries))
        return real(self)

    monkeypatch.setattr(computing.Computation, "show_points", spy)

    def broken(*args, **kwargs):  # the file is made, then the grid fails before a point
        raise RuntimeError("the evaluator broke")
        yield

    monkeypatch.setattr("lossviz_core.run.executor.iter_surface", broken)
    w.compute()
    qtbot.waitUntil(lambda: bool(errors), timeout=COMPUTE_MS)
    wait_idle(qtbot, w)
    assert "the evaluator broke" in errors[0][0]
    assert library_state(w) == ([], [], 0), "no entry, no file left behind"
    assert w.result is None and w.view2d.state() == "empty"
    assert entries_at_first_point == []
    monkeypatch.undo()
    monkeypatch.setattr(computing.Computation, "show_points", spy)
    w.compute()
    wait_idle(qtbot, w)
    assert entries_at_first_point == [0] and len(w.library.entries) == 1
    # its file deleted behind the library's back: the same Compute computes it again
    os.remove(w.entry.path)
    w.compute()
    wait_idle(qtbot, w)
    assert len(errors) == 1 and w.result.done.all() and os.path.exists(w.entry.path)
    assert [e.path for e in w.library.entries] == [w.entry.path]


def test_use_for_pca_plane_fits_the_ranges_after_an_opened_result(qtbot, make_window,
                                                                  errors):
    """An opened result leaves *Fit the ranges* unchecked and its own ranges in the panels;
    a PCA plane started from a run is fitted to the trajectory all the same."""
    w = make_window(autostart=False)
    w.state.update(fit_ranges=False, xmin=-1.0, xmax=2.0, ymin=-1.0, ymax=1.0, xnum=5,
                   ynum=5)
    w.actions_.use_run_for_pca(str(demo.run_dir()))
    wait_idle(qtbot, w)
    assert errors == [] and w.state["fit_ranges"]
    r, t = w.result, w.result.trajectory
    assert t is not None and r.shape == (5, 5)
    assert r.x[0] < t.x.min() and t.x.max() < r.x[-1]
    assert r.y[0] < t.y.min() and t.y.max() < r.y[-1]


def test_results_say_what_distinguishes_them_and_open_on_their_tab(
        qtbot, make_window, errors, tmp_path, line_result):
    from lossviz.messages import title_of

    w = make_window()
    wait_idle(qtbot, w)
    tip = w.results_panel.list.item(0).toolTip()
    assert title_of(w.result.recipe) in tip and "complete" in tip
    assert w.entry.path not in tip  # the library's own file says nothing to the user
    # a file computed a year ago, opened now, while Compare is in front
    path = save_result(line_result, tmp_path / "sharp-flat.h5")
    year_ago = time.time() - 365 * 24 * 3600
    os.utime(path, (year_ago, year_ago))
    w.tabs.setCurrentWidget(w.compare)
    w.actions_.open_result(str(path))
    qtbot.waitUntil(lambda: w.result is not None and w.result.is_line, timeout=COMPUTE_MS)
    assert w.tabs.currentWidget() is w.view1d
    entry = w.library.by_path(str(path))
    assert entry.created == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(year_ago))
    item = next(w.results_panel.list.item(i) for i in range(w.results_panel.list.count())
                if w.results_panel.list.item(i).data(0x0100) == entry.id)
    assert f"opened file: {entry.path}" in item.toolTip() and entry.created in item.toolTip()
    assert errors == []


def test_a_relaunch_shows_the_last_result_the_compare_set_and_the_study(
        qtbot, make_window, errors, tmp_path, monkeypatch):
    w = make_window()
    wait_idle(qtbot, w)
    shown = w.result.values["train_loss"].copy()
    assert w.open_study("digits-depth", profile="quick", out=str(tmp_path / "dd"))
    qtbot.waitUntil(lambda: not w.study_panel.running, timeout=COMPUTE_MS)
    w.actions_.set_compare("left")  # the Compare set: the demo surface
    title = w.compare.titles[0]
    w.close()

    from lossviz_core.evaluation.evaluate import Evaluator

    evaluated = []
    real = Evaluator.evaluate
    monkeypatch.setattr(Evaluator, "evaluate",
                        lambda self, coords: evaluated.append(len(coords)) or real(self, coords))
    again = make_window()
    qtbot.waitUntil(lambda: again.result is not None, timeout=COMPUTE_MS)
    wait_idle(qtbot, again)
    np.testing.assert_array_equal(again.result.values["train_loss"], shown)
    assert evaluated == [] and "start" not in again.timings  # shown, not computed again
    assert again.opened is None  # the last result, not a file opened on the command line
    qtbot.waitUntil(lambda: again.compare.titles == [title], timeout=COMPUTE_MS)
    np.testing.assert_array_equal(again.compare.results[0].values["train_loss"], shown)
    qtbot.waitUntil(lambda: not again.study_panel.running, timeout=COMPUTE_MS)
    panel = again.study_panel
    assert panel.study.name == "digits-depth" and panel.study.profile == "quick"
    assert panel.out == (tmp_path / "dd").resolve()
    assert again.compare.titles == [title]  # the study's figure did not take its place
    assert errors == []


def test_the_session_and_the_compute_flow_import_no_qt():
    code = ("import sys; import lossviz.session, lossviz.computing, lossviz.messages; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', "
            "'OpenGL'))]; print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
