"""The training dialog: a tiny run in the background, live curves, Cancel, the batch preset."""

from __future__ import annotations

import pytest
import torch
from lossviz import dialogs
from lossviz.main_window import preload_engine
from lossviz.training_dialog import TrainingDialog
from lossviz.worker import running_threads

from lossviz_core.runs import read_run
from lossviz_core.sources.checkpoints import load_state_dict

# triton must load before any GL context (llvmpipe): see preload_engine
preload_engine()


@pytest.fixture
def dialog(qtbot, tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, m, d="": errors.append(m))
    dlg = TrainingDialog(None, output=str(tmp_path / "run"))
    dlg.errors = errors
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.model.setCurrentText("digits_mlp")
    dlg.lr.setValue(0.05)
    dlg.batch.setValue(256)
    yield dlg
    assert dlg.stop(10_000)
    dlg.close()
    assert running_threads() == []


def _curve_points(dlg, split, what, tag="run"):
    xs, ys = dlg.history.get((tag, split, what), ([], []))
    return list(xs), list(ys)


def test_trains_a_tiny_run_with_live_curves(qtbot, dialog, tmp_path):
    dialog.epochs.setValue(2)
    dialog.start()
    assert not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=30_000)
    assert dialog.errors == []
    xs, losses = _curve_points(dialog, "train", "loss")
    assert xs == [1, 2] and all(v > 0 for v in losses)
    curve_x, curve_y = dialog.curves[("run", "train", "loss")].getData()
    assert list(curve_x) == [1, 2] and list(curve_y) == losses
    assert _curve_points(dialog, "test", "acc")[0] == [1, 2]
    run = read_run(tmp_path / "run")
    assert [e for e, _ in run.checkpoints] == [0, 1, 2]
    assert run.model_name == "digits_mlp" and len(run.metrics) == 2
    assert dialog.progress.value() == 2
    assert dialog.pca_button.isEnabled()
    with qtbot.waitSignal(dialog.pcaRequested, timeout=1000) as sig:
        dialog.pca_button.click()
    assert sig.args == [str(tmp_path / "run")]


def test_cancel_keeps_a_valid_run_folder(qtbot, dialog, tmp_path):
    dialog.epochs.setValue(500)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.progress.value() >= 1, timeout=30_000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=30_000)
    assert dialog.errors == []
    assert "Cancelled" in dialog.status.text()
    run = read_run(tmp_path / "run")
    assert 1 <= len(run.metrics) < 500
    assert run.checkpoints[0][0] == 0 and len(run.checkpoints) == len(run.metrics) + 1
    assert dialog.start_button.isEnabled()


def test_bad_input_is_reported_not_raised(qtbot, dialog):
    dialog.dataset.setCurrentIndex(dialog.dataset.findData("tensors"))
    dialog.data_path.setText("/nonexistent/data.npz")
    dialog.epochs.setValue(1)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.worker is None and bool(dialog.errors), timeout=30_000)
    assert "data.npz" in dialog.errors[0]


def test_small_vs_large_batch_from_one_initialization(qtbot, dialog, tmp_path):
    dialog.preset.setCurrentIndex(dialog.preset.findData("batch"))
    dialog.epochs.setValue(1)
    with qtbot.waitSignal(dialog.interpolationRequested, timeout=60_000) as sig:
        dialog.start()
    model, a, b, dataset = sig.args
    assert model == "digits_mlp" and dataset["name"] == "digits"
    # the seed report's 64 vs 4096 scaled to the digits' 1,437 training images
    assert (dialog.small_batch.value(), dialog.large_batch.value()) == (8, 128)
    small, large = read_run(tmp_path / "run" / "batch_8"), read_run(tmp_path / "run" / "batch_128")
    assert a == str(small.final_checkpoint) and b == str(large.final_checkpoint)
    assert small.train["batch_size"] == 8 and large.train["batch_size"] == 128
    init = load_state_dict(tmp_path / "run" / "init.pt")
    for run in (small, large):
        start = load_state_dict(run.checkpoints[0][1])
        assert all(torch.equal(start[k], init[k]) for k in init)
    final_a, final_b = load_state_dict(a), load_state_dict(b)
    assert any(not torch.equal(final_a[k], final_b[k]) for k in final_a)
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=10_000)
