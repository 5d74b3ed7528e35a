"""The window opens a study: its figure's results in the Compare grid (the figure's rows and
columns, one colour scale), its progress live, each result openable on its own; a second
run does nothing; *New study from these results* writes a study that reads back."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import COMPUTE_MS
from lossviz import new_study, study_panel
from lossviz.views.contour2d import ContourView2D
from PySide6.QtWidgets import QFileDialog

from lossviz_core.results.store import read_result
from lossviz_core.studies import load_study

STUDY_MS = 8 * COMPUTE_MS  # digits-depth --quick: 15-35 s on a 2-core CPU


def test_the_window_runs_a_study_into_the_compare_grid(qtbot, make_window, errors, tmp_path,
                                                       monkeypatch):
    w = make_window(autostart=False)
    panel = w.study_panel
    out = tmp_path / "dd"
    assert w.open_study("digits-depth", profile="quick", out=str(out))
    # while its status is read the study cannot change under it
    assert panel.running and not panel.profile.isEnabled() and not panel.run_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.running, timeout=COMPUTE_MS)
    assert panel.profile.isEnabled() and panel.run_button.isEnabled()
    assert panel.study.name == "digits-depth" and panel.study.profile == "quick"
    states = panel.unit_states()
    assert states and set(states.values()) == {"pending"}  # a fresh folder
    assert panel.figure.currentData() == "depth"
    # before any work: the figure's 2 x 2 panels are placeholders
    assert w.compare.results == [None] * 4 and w.compare.shape(4) == (2, 2)

    seen: list = []  # what the worker yielded (appended in its thread)
    real = study_panel.study_generator

    def recording(*args, **kwargs):
        gen = real(*args, **kwargs)
        try:
            while True:
                try:
                    item = next(gen)
                except StopIteration as stop:
                    return stop.value  # the study's summary
                seen.append(item)
                yield item
        finally:
            gen.close()  # a Stop closes the study's run too

    monkeypatch.setattr(study_panel, "study_generator", recording)
    panel.run_button.click()
    assert panel.running and w.tabs.currentWidget() is w.compare
    qtbot.waitUntil(lambda: not panel.running, timeout=STUDY_MS)
    assert errors == []
    assert set(panel.unit_states().values()) == {"done"}, panel.unit_states()
    assert panel.summary is not None and panel.summary.ok and not panel.summary.did_nothing

    # live: each grid's panel was drawn from its computing result before its file was read
    live = [e.name for e in seen if isinstance(e, study_panel.Loaded) and e.live]
    assert "plane-resnet6" in live and "interpolation" in live

    # the Compare grid is the figure: rows = with / without skips, cols = depth, one scale
    plan = panel.plan
    names = ["plane-resnet6", "plane-resnet14", "plane-resnet6-noskip", "plane-resnet14-noskip"]
    assert w.compare.titles == names and w.compare.columns == 2
    for name, r in zip(names, w.compare.results, strict=True):
        stored = read_result(plan.find("grid", name).path)
        assert r.done.all() and r.shape == (5, 5)
        np.testing.assert_allclose(r.values["train_loss"], stored.values["train_loss"])
    panes = [p for p in w.compare.panes if isinstance(p, ContourView2D)]
    assert len(panes) == 4
    ranges = {p._fixed_range for p in panes}
    assert len(ranges) == 1 and None not in ranges  # one colour scale
    lo, hi = ranges.pop()
    losses = np.concatenate([r.values["train_loss"].ravel() for r in w.compare.results])
    # the figure's vmax = 10 (the paper clips its contours at loss 10) caps the scale
    assert lo == pytest.approx(losses.min()) and hi == pytest.approx(min(losses.max(), 10.0))
    for fig in plan.of_kind("figure"):
        assert all(f.exists() for f in fig.files)

    # exported as shown: the figure's columns, capped where the screen caps
    import lossviz_core.export as export_module

    exported = {}
    real_export = export_module.export_grid

    def capture(results, path, options=None, **kw):
        exported.update(kw, vmax=options.vmax, n=len(results))
        return real_export(results, path, options, **kw)

    monkeypatch.setattr(export_module, "export_grid", capture)
    w.actions_.export("Compare", str(tmp_path / "depth.pdf"), 900, 560)
    assert errors == [] and (tmp_path / "depth.pdf").stat().st_size > 1000
    assert exported["cols"] == 2 and exported["n"] == 4
    assert exported["vmax"] == (10.0 if losses.max() > 10 else None)

    # another figure: the interpolation's curves (a line, train and test)
    panel.figure.setCurrentIndex(panel.figure.findData("interpolation"))
    assert w.compare.mode == "lines" and w.compare.results[0].is_line

    # each result opens on its own in the main views
    unit = plan.find("grid", "plane-resnet14")
    item = panel._items[unit.key]
    panel.open_unit(item)
    qtbot.waitUntil(lambda: w.opened is not None and w.result is not None, timeout=COMPUTE_MS)
    assert w.opened[0] == str(unit.path) and w.tabs.currentWidget() is w.surface_split
    np.testing.assert_allclose(w.result.values["train_loss"],
                               read_result(unit.path).values["train_loss"])

    # a second run does no work
    panel.run()
    qtbot.waitUntil(lambda: not panel.running, timeout=STUDY_MS)
    assert panel.summary.did_nothing and panel.summary.cached == len(plan.units)

    # New study from these results: the figure's four, checked, written and read back
    panel.figure.setCurrentIndex(panel.figure.findData("depth"))
    target = tmp_path / "mine.toml"
    monkeypatch.setattr(new_study.NewStudyDialog, "exec", lambda self: 1)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    written = w.study_panel.new_study()
    assert written == target and errors == []
    mine = load_study(target)
    assert sorted(mine.results) == sorted(names)
    assert panel.study.name == "my-study"  # opened in the Study panel
    from lossviz_core.studies.plan import make_plan
    from lossviz_core.studies.runner import grid_recipe

    mine_plan = make_plan(mine, tmp_path / "mine")
    for name in names:
        a = grid_recipe(mine_plan, mine_plan.find("grid", name))
        b = read_result(plan.find("grid", name).path).recipe
        assert a.grid == b.grid and a.directions == b.directions and a.model == b.model


def test_a_study_folder_another_process_runs_is_one_message(qtbot, make_window, errors,
                                                            tmp_path):
    from lossviz_core.results.paths import OutputLock

    out = tmp_path / "busy"
    out.mkdir()
    lock = OutputLock.acquire(out / "study")  # as `lossviz study run` holds it
    try:
        w = make_window(autostart=False)
        panel = w.study_panel
        assert w.open_study("digits-depth", profile="quick", out=str(out))
        qtbot.waitUntil(lambda: not panel.running, timeout=COMPUTE_MS)
        panel.run()
        qtbot.waitUntil(lambda: not panel.running, timeout=COMPUTE_MS)
    finally:
        lock.release()
    assert len(errors) == 1 and "being run by another LossViz process" in errors[0][0]
    assert "Traceback" not in errors[0][0] and panel.status_line.text().startswith("Failed")


def test_a_malformed_study_is_one_message_naming_the_key_and_line(qtbot, make_window, errors,
                                                                  tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[study]\nname = "x"\n\n[models.small]\nmodel = "digits_cnn"\n'
                   'epochs = "ten"\n')
    w = make_window(autostart=False)
    assert not w.open_study(str(bad))
    assert len(errors) == 1
    message = errors[0][0]
    assert "bad.toml:6" in message and "epochs" in message and "Traceback" not in message
    assert w.study_panel.study is None and not w.study_panel.run_button.isEnabled()


def test_what_the_user_allows_reaches_the_study_run(qtbot, make_window, errors, tmp_path,
                                                    monkeypatch):
    """Downloads and a model's own code are granted in the panel, as the command line's
    --download and --allow-code (a study file never grants them): off unless ticked."""
    import lossviz_core.studies as studies
    from lossviz_core.errors import InputError

    asked: list[dict] = []

    def recording(study, out, executor=None, download=False, allow_code=False, **kw):
        asked.append({"download": download, "allow_code": allow_code})
        raise InputError("stopped here by the test")

    monkeypatch.setattr(studies, "iter_study", recording)
    w = make_window(autostart=False)
    panel = w.study_panel
    assert w.open_study("digits-depth", profile="quick", out=str(tmp_path / "dd"))
    qtbot.waitUntil(lambda: not panel.running, timeout=COMPUTE_MS)
    assert not panel.download.isChecked() and not panel.allow_code.isChecked()
    for ticks in ((False, False), (True, False), (False, True)):
        panel.download.setChecked(ticks[0])
        panel.allow_code.setChecked(ticks[1])
        panel.run()
        assert not panel.download.isEnabled()  # not while it runs
        qtbot.waitUntil(lambda: not panel.running, timeout=COMPUTE_MS)
    assert asked == [{"download": d, "allow_code": c} for d, c in
                     ((False, False), (True, False), (False, True))]
    assert len(errors) == 3 and all("stopped here by the test" in e[0] for e in errors)
    # a grant is for the study it was given to: opening another clears it
    panel.download.setChecked(True)
    panel.allow_code.setChecked(True)
    assert w.open_study("shakespeare-depth", profile="quick", out=str(tmp_path / "sd"))
    qtbot.waitUntil(lambda: not panel.running, timeout=COMPUTE_MS)
    assert not panel.download.isChecked() and not panel.allow_code.isChecked()
