"""Geometry during training in the window (issue 21): the edge-of-stability view of a run
folder followed as its ``track.jsonl`` grows, the path of its checkpoints so far, the
training dialog's tracked records, and *Export animation…* (frames decoded by Pillow).

The run is a quadratic, L(w) = mean (xᵢ·w − yᵢ)², whose Hessian (2/n)·XᵀX is known, so the
plotted λmax is checked against both the file (read by ``json``) and the closed form.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from lossviz import animation_dialog
from lossviz.animation_dialog import AnimationDialog, start_animation
from lossviz.run_view import RunFolderWindow
from lossviz.tasks import TaskRunner
from lossviz.worker import running_threads
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QPushButton
from torch import nn

from lossviz_core.animate import AnimationOptions
from lossviz_core.track import Tracker

LR = 0.05


def quadratic(n: int = 48, d: int = 6):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.linspace(0.5, 2.0, d,
                                                                            dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    return model, x, y, (2.0 / n) * (x.T @ x).numpy()


def descend(model, x, y, tracker, steps):
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def loss_and_gradient():
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x).squeeze(1), y)
        loss.backward()
        return loss

    for _ in range(steps):
        tracker.step(opt.step(loss_and_gradient))  # SGD's step returns the closure's loss


def file_records(run):
    return [json.loads(line) for line in (run / "track.jsonl").read_text().splitlines()]


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    assert r.stop_all(10_000)
    assert running_threads() == []


def test_run_folder_eos_view_follows_the_file_as_it_grows(qtbot, tmp_path, runner):
    model, x, y, hess = quadratic()
    run = tmp_path / "run"
    tracker = Tracker(run, model, (x, y), loss="mse", every=1, tol=1e-10, lr=LR,
                      measures="lambda_max,sharpness")
    descend(model, x, y, tracker, 4)
    window = RunFolderWindow(str(run), runner)
    qtbot.addWidget(window)
    window.show()
    view = window.eos.view
    steps, lam = view.curves["lambda_max"].getData()
    records = file_records(run)
    assert list(steps) == [r["step"] for r in records] == [1, 2, 3, 4]
    assert np.allclose(lam, [r["lambda_max"] for r in records], rtol=0, atol=0)
    assert np.allclose(lam, np.linalg.eigvalsh(hess)[-1], rtol=1e-8)  # a quadratic: constant
    _, sharp = view.curves["sharpness"].getData()
    assert np.allclose(sharp, [r["sharpness"] for r in records])
    threshold = view.curves["2/lr"].getData()
    assert threshold[0].min() == 1 and threshold[0].max() == 4
    assert np.allclose(threshold[1], 2 / LR)

    descend(model, x, y, tracker, 3)  # training goes on: the window's timer reads the rest
    qtbot.waitUntil(lambda: len(view.curves["lambda_max"].getData()[0]) == 7, timeout=10_000)
    assert list(view.curves["lambda_max"].getData()[0]) == [r["step"] for r in file_records(run)]
    assert "7 records, last at step 7" in view.status.text()
    window.close()


def test_run_folder_draws_the_checkpoints_path_on_their_pca_plane(qtbot, tmp_path, runner):
    model, x, y, _ = quadratic()
    run = tmp_path / "run"
    tracker = Tracker(run, model, (x, y), loss="mse", every=2, lr=LR,
                      measures="checkpoints,grad_norm")
    descend(model, x, y, tracker, 8)
    window = RunFolderWindow(str(run), runner)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.trajectory.path is not None, timeout=20_000)
    path = window.trajectory.path
    assert list(path.labels) == [2, 4, 6, 8] and path.unit == "step"
    # independently: the weights at each record, centred on the last, their top two
    # principal axes (numpy's SVD of the centred rows), each point's projection
    ws = np.stack([torch.load(run / "steps" / f"model_{s}.pt", weights_only=True)
                   ["state_dict"]["weight"].numpy().ravel() for s in (2, 4, 6, 8)])
    deltas = ws - ws[-1]
    _, _, vt = np.linalg.svd(deltas - deltas.mean(axis=0), full_matrices=False)
    for got, axis in ((path.x, vt[0]), (path.y, vt[1])):
        want = deltas @ axis / np.linalg.norm(axis)
        assert np.allclose(np.abs(got), np.abs(want), atol=1e-9)
    assert window.pca_button.isEnabled()
    window.close()


def test_training_dialog_shows_the_tracked_records(qtbot, tmp_path, monkeypatch):
    from lossviz import dialogs
    from lossviz.training_dialog import TrainingDialog

    errors = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, m, d="": errors.append(m))
    dlg = TrainingDialog(None, output=str(tmp_path / "run"))
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.model.setCurrentText("digits_mlp")
    dlg.lr.setValue(0.05)
    dlg.batch.setValue(256)
    dlg.epochs.setValue(2)
    dlg.track.set_measures(["lambda_max", "sharpness"])
    dlg.track.every.setValue(2)
    dlg.start()
    qtbot.waitUntil(lambda: dlg.worker is None, timeout=120_000)
    assert errors == []
    records = file_records(tmp_path / "run")
    steps, lam = dlg.eos.view.curves["lambda_max"].getData()
    assert list(steps) == [r["step"] for r in records] and len(records) >= 3
    assert np.allclose(lam, [r["lambda_max"] for r in records]) and (lam > 0).all()
    threshold = dlg.eos.view.curves["2/lr"].getData()[1]
    assert len(threshold) and np.allclose(threshold, 2 / 0.05)  # constant lr
    out = dlg.eos.view.export(str(tmp_path / "eos.png"))
    assert Image.open(out).size[0] > 100
    dlg.close()


def gif_frames(path):
    with Image.open(path) as im:
        return im.n_frames, im.size


def test_export_animation_action_writes_the_requested_frames(qtbot, make_window, tmp_path,
                                                             trajectory_result, monkeypatch,
                                                             errors):
    w = make_window()
    w.session.show(trajectory_result)
    out = tmp_path / "path.gif"

    def accept(dlg):
        dlg.kind.setCurrentIndex(dlg.kind.findData("contour"))
        dlg.width.setValue(200)
        dlg.height.setValue(150)
        dlg.fps.setValue(5.0)
        dlg.duration.setValue(1.2)  # 6 frames
        return True

    monkeypatch.setattr(AnimationDialog, "exec", accept)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    task = w.actions_.ask_animation()
    assert task is not None
    qtbot.waitUntil(lambda: task not in w.actions_.tasks, timeout=60_000)
    assert errors == []
    assert gif_frames(out) == (6, (200, 150))


def test_animation_cancel_leaves_no_file_and_errors_are_one_message(qtbot, tmp_path, runner,
                                                                    trajectory_result,
                                                                    errors):
    said = []
    session = type("S", (), {"say": lambda self, text, why="": said.append(text)})()
    out = tmp_path / "long.gif"
    options = AnimationOptions(kind="contour", width=160, height=120, fps=10, frames=400)
    task = start_animation(runner, session, [trajectory_result], str(out), options)
    qtbot.waitUntil(lambda: task.progress.value() > 0, timeout=60_000)
    task.progress.findChild(QPushButton).click()  # the progress dialog's Cancel
    qtbot.waitUntil(lambda: task not in runner.tasks, timeout=60_000)
    assert task.cancelled and not out.exists()
    assert list(tmp_path.iterdir()) == []  # nor a partial file
    assert any("no file written" in s for s in said)

    odd = AnimationOptions(kind="contour", width=161, height=120, fps=10, frames=3)
    task = start_animation(runner, session, [trajectory_result], str(tmp_path / "a.mp4"), odd)
    qtbot.waitUntil(lambda: task not in runner.tasks, timeout=30_000)
    assert len(errors) == 1 and "even width and height" in errors[0][0]
    assert list(tmp_path.iterdir()) == []


def test_animation_dialog_reads_its_options(qtbot):
    dlg = AnimationDialog(None, compare_count=0)
    qtbot.addWidget(dlg)
    assert [dlg.source.itemData(i) for i in range(dlg.source.count())] == ["shown"]
    dlg.kind.setCurrentIndex(dlg.kind.findData("surface"))
    dlg.rotate.setValue(90.0)
    dlg.elevation.setValue(45.0)
    dlg.fps.setValue(12.0)
    o = dlg.options()
    assert (o.mode, o.kind, o.rotate, o.elevation, o.fps) == ("trajectory", "surface", 90.0,
                                                              45.0, 12.0)
    dlg.kind.setCurrentIndex(dlg.kind.findData("filled"))
    assert not dlg.rotate.isEnabled() and dlg.options().rotate == 0.0
    assert animation_dialog.SOURCES["compare"]


def test_export_animation_of_the_compare_results_is_a_sequence(qtbot, make_window, tmp_path,
                                                               make_surface, monkeypatch,
                                                               errors):
    w = make_window()
    w.actions_._set_compare([make_surface(), make_surface(lambda x, y: 2 * x**2 + y**2)],
                            ["bowl", "wide bowl"])
    out = tmp_path / "sequence.gif"

    def accept(dlg):
        dlg.source.setCurrentIndex(dlg.source.findData("compare"))
        dlg.width.setValue(160)
        dlg.height.setValue(120)
        dlg.fps.setValue(4.0)
        dlg.duration.setValue(1.0)
        return True

    monkeypatch.setattr(AnimationDialog, "exec", accept)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    task = w.actions_.ask_animation()
    qtbot.waitUntil(lambda: task not in w.actions_.tasks, timeout=60_000)
    assert errors == []
    # 4 frames at 4 per second, two landscapes each held for two: a GIF stores each once
    with Image.open(out) as im:
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
        assert im.size == (160, 120)
    assert durations == [500, 500]
