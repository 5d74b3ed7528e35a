"""Library entries the user manages (renamed, deleted only when confirmed), a running job's
file watched as it fills in, and 1-D curves overlaid in Compare."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from conftest import COMPUTE_MS, _line
from lossviz import dialogs
from lossviz.library import ResultsLibrary

from lossviz_core.results.store import read_result, save_result


def _library_with(w, tmp_path, make_surface):
    """Two entries: one the library owns (its file), one opened from elsewhere."""
    w.library.folder.mkdir(parents=True, exist_ok=True)
    owned = w.library.add_opened(str(save_result(make_surface(), w.library.folder / "own.h5")),
                                 make_surface())
    owned.owned = True
    outside = tmp_path / "outside.h5"
    save_result(make_surface(), outside)
    opened = w.library.add_opened(str(outside), make_surface())
    w.library.save()
    return owned, opened


def test_entries_are_renamed_and_deleted_only_when_confirmed(qtbot, make_window, errors,
                                                             tmp_path, make_surface,
                                                             monkeypatch):
    w = make_window(autostart=False)
    owned, opened = _library_with(w, tmp_path, make_surface)
    panel = w.results_panel
    item = next(panel.list.item(i) for i in range(panel.list.count())
                if panel.list.item(i).data(0x0100) == owned.id)
    item.setText("ResNet-56, skips")  # what F2 and typing do
    assert w.library.get(owned.id).name == "ResNet-56, skips"
    assert ResultsLibrary(w.library.folder).get(owned.id).name == "ResNet-56, skips"  # kept

    answers: list[bool] = []
    asked: list[tuple] = []

    def ask(parent, name, path, is_owned):
        asked.append((name, is_owned))
        return answers.pop(0)

    monkeypatch.setattr(dialogs, "ask_to_delete", ask)
    answers.append(False)  # "No": nothing happens
    w.delete_entry(owned.id)
    assert w.library.get(owned.id) is not None and Path(owned.path).exists()
    answers.append(True)  # "Delete": the entry and the library's own file go
    w.delete_entry(owned.id)
    assert w.library.get(owned.id) is None and not Path(owned.path).exists()
    answers.append(True)  # an opened file: off the list, the file stays where it is
    w.delete_entry(opened.id)
    assert w.library.get(opened.id) is None and Path(opened.path).exists()
    assert asked == [("ResNet-56, skips", True)] * 2 + [(opened.name, False)]
    assert panel.list.count() == 0 and errors == []


def test_a_running_jobs_file_is_watched_as_it_fills_in(qtbot, make_window, errors, tmp_path):
    out = tmp_path / "running.h5"
    job = subprocess.Popen([sys.executable, "-m", "lossviz_core.cli", "surface", "--demo",
                            "--x=-1:1:41", "--y=-1:1:41", "--multi", "off", "--batch-size",
                            "256", "--out", str(out)], stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if read_result(out).done.sum() > 0:
                    break
            except Exception:  # noqa: BLE001 - not written yet
                pass
            time.sleep(0.2)
        w = make_window(autostart=False)
        w.actions_.open_result(str(out))
        qtbot.waitUntil(lambda: w.result is not None, timeout=COMPUTE_MS)
        first = int(w.result.done.sum())
        assert first < w.result.done.size and "Watching" in w.progress_label.text()
        qtbot.waitUntil(lambda: int(w.result.done.sum()) > first, timeout=COMPUTE_MS)
        qtbot.waitUntil(lambda: w.result.done.all(), timeout=3 * COMPUTE_MS)
    finally:
        _, err = job.communicate(timeout=120)
    assert job.returncode == 0, err
    final = read_result(out)
    np.testing.assert_array_equal(w.result.values["train_loss"], final.values["train_loss"])
    qtbot.waitUntil(lambda: "complete" in w.progress_label.text(), timeout=10_000)
    assert errors == []


def test_compare_overlays_1d_curves_on_one_axis(qtbot, make_window, errors, line_result):
    w = make_window(autostart=False)
    other = _line()  # the same curve, its loss doubled
    other.values["train_loss"] = other.values["train_loss"] * 2
    w.compare.set_results([line_result, other], ["batch 16", "batch 1024"])
    w.tabs.setCurrentWidget(w.compare)
    assert w.compare.mode == "lines" and len(w.compare.panes) == 1
    items = w.compare.plot.listDataItems()
    assert len(items) == 2
    for item, r in zip(items, (line_result, other), strict=True):
        x, y = item.getData()
        np.testing.assert_allclose(x, r.x)
        np.testing.assert_allclose(y, r.values["train_loss"])
    legend = [label.text for _, label in w.compare.legend.items]
    assert legend == ["batch 16", "batch 1024"]
