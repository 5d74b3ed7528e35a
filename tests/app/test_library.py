"""The results library: nothing computed is lost, recomputed or replaced unasked."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import COMPUTE_MS
from lossviz import dialogs

from lossviz_core.results.store import read_result


def wait_idle(qtbot, w, timeout=COMPUTE_MS):
    qtbot.waitUntil(lambda: not w.computing, timeout=timeout)


@pytest.fixture
def counted(monkeypatch):
    """How many grid points the evaluator computed."""
    from lossviz_core.evaluation.evaluate import Evaluator

    calls = {"points": 0}
    real = Evaluator.evaluate

    def evaluate(self, coords):
        calls["points"] += len(coords)
        return real(self, coords)

    monkeypatch.setattr(Evaluator, "evaluate", evaluate)
    return calls


def test_zoom_back_is_instant_and_computes_nothing(qtbot, make_window, errors, counted):
    w = make_window()
    wait_idle(qtbot, w)
    first = w.result
    assert counted["points"] == 35
    w.view2d.zoomRequested.emit(-0.5, 0.25, -0.2, 0.6)
    wait_idle(qtbot, w)
    assert counted["points"] == 70
    w.compute_panel.back.click()
    wait_idle(qtbot, w)
    assert counted["points"] == 70, "zoom back shows the kept result"
    np.testing.assert_array_equal(w.result.values["train_loss"], first.values["train_loss"])
    assert "from the results library" in w.progress_label.text()
    assert errors == []


def test_compute_after_cancel_resumes_and_nothing_is_replaced(qtbot, make_window, errors,
                                                              counted):
    w = make_window(autostart=False)
    w.state.update(xnum=41, ynum=41)
    w.compute()
    qtbot.waitUntil(lambda: w.result is not None and w.result.done.sum() > 40,
                    timeout=COMPUTE_MS)
    w.cancel()
    wait_idle(qtbot, w)
    kept = int(w.result.done.sum())
    assert 0 < kept < 1681
    entry = w.entry
    assert read_result(entry.path).done.sum() == kept  # on disk: a crash would keep them
    before = counted["points"]
    w.compute()  # the same panels: resume, do not start again
    wait_idle(qtbot, w)
    assert w.result.done.all()
    assert counted["points"] - before == 1681 - kept
    assert w.entry is entry and entry.complete
    # a new computation is a new entry: the finished one stays
    w.state.update(seed=1)
    w.compute()
    wait_idle(qtbot, w)
    assert len(w.library.entries) == 2 and w.library.entries[0].complete
    assert read_result(w.library.entries[0].path).done.all()
    names = [w.results_panel.list.item(i).text() for i in range(w.results_panel.list.count())]
    assert len(names) == 2 and "seed 1" in names[0] and "seed 0" in names[1]
    w.results_panel.showRequested.emit(w.library.entries[0].id)
    wait_idle(qtbot, w)
    assert w.state["seed"] == 0  # the panels follow the shown result
    assert errors == []


def test_a_long_grid_asks_first(qtbot, make_window, errors, monkeypatch, counted):
    asked = []

    def ask(parent, points, seconds, smaller):
        asked.append((points, seconds, smaller))
        return "reduce"

    monkeypatch.setattr(dialogs, "ask_long_compute", ask)
    import lossviz.computing as computing

    monkeypatch.setattr(computing, "LONG_SECONDS", 0.05)
    w = make_window(autostart=False)
    w.state.update(xnum=301, ynum=301)
    w.compute()
    qtbot.waitUntil(lambda: bool(asked), timeout=COMPUTE_MS)
    points, seconds, smaller = asked[0]
    assert points == 301 * 301 and seconds > 0.05
    monkeypatch.setattr(dialogs, "ask_long_compute", lambda *a: "compute")
    wait_idle(qtbot, w)  # the smaller grid, computed after the reduce
    assert (w.state["xnum"], w.state["ynum"]) == smaller
    assert w.result.shape == (smaller[1], smaller[0]) and w.result.done.all()
    assert counted["points"] < 301 * 301
