"""The language-model demo in the window: tiny_gpt and the bundled text in the panels, its
study in the Study menu, and a landscape, a PCA plane and an interpolation of a trained tiny
GPT whose values are plain PyTorch's next-token cross-entropy on the same blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import COMPUTE_MS
from PySide6.QtGui import QAction

from lossviz_core.data import load_dataset
from lossviz_core.models import build_model
from lossviz_core.recipe.spec import DatasetSpec
from lossviz_core.runs import read_run
from lossviz_core.sources.checkpoints import load_state_dict
from lossviz_core.train import TrainSpec, iter_training

GRID3 = {"xmin": -1.0, "xmax": 1.0, "xnum": 3, "ymin": -1.0, "ymax": 1.0, "ynum": 3}
SUBSAMPLE = 32  # test sequences per point
# the first compute probes how to evaluate fastest: slow on a loaded 2-core machine
LM_COMPUTE_MS = 3 * COMPUTE_MS


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """tiny_gpt1 trained for two epochs on 64 sequences of the bundled text."""
    spec = TrainSpec(model="tiny_gpt1", dataset={"name": "shakespeare", "subsample": 64},
                     batch_size=16, epochs=2, optimizer="adam", lr=0.003, weight_decay=0.0)
    path = tmp_path_factory.mktemp("lm-run") / "run"
    for _ in iter_training(spec, path):
        pass
    return read_run(path)


def plain_test_loss(checkpoint) -> float:
    """Plain PyTorch: the mean cross-entropy of every position against the next byte, over
    the window's subsample of the bundled text's test blocks."""
    model = build_model("tiny_gpt1")
    model.load_state_dict(load_state_dict(checkpoint))
    ids = load_dataset(DatasetSpec(name="shakespeare", subsample=SUBSAMPLE)).test.x
    with torch.no_grad():
        logits = model.eval()(ids).double()
    return float(F.cross_entropy(logits[:, :-1].reshape(-1, 256), ids[:, 1:].reshape(-1)))


def _compute(qtbot, w) -> None:
    w.compute()
    qtbot.waitUntil(lambda: not w.computing, timeout=LM_COMPUTE_MS)


def test_the_lm_demo_is_offered_in_the_panels_and_the_study_menu(make_window):
    w = make_window(autostart=False)
    p = w.source_panel
    assert p.model.findData("tiny_gpt") >= 0 and p.model.findData("tiny_gpt4_nores") >= 0
    assert p.dataset.findData("shakespeare") >= 0
    assert p.loss.currentData() == "auto"  # the data's own: next-token for the text
    w.state.update(source="zoo", model="tiny_gpt")  # a zoo model brings its own dataset
    assert w.state["dataset"] == "shakespeare" and p.dataset.currentData() == "shakespeare"
    w.state.set("model", "digits_cnn")
    assert w.state["dataset"] == "digits"
    w.state.update(dataset="tokens", model="tiny_gpt")  # data of the user's own stays
    assert w.state["dataset"] == "tokens"
    texts = [a.text() for a in w.findChildren(QAction)]
    assert any(t.startswith("shakespeare-depth:") for t in texts)


def test_the_window_computes_the_lm_landscape_pca_plane_and_interpolation(qtbot, make_window,
                                                                          errors, run):
    w = make_window(autostart=False)
    final = str(run.final_checkpoint)
    w.state.update(source="zoo", model="tiny_gpt1", checkpoint=final, dataset="shakespeare",
                   split="test", subsample=SUBSAMPLE, **GRID3)
    _compute(qtbot, w)
    assert errors == [] and w.result.done.all()
    assert w.result.recipe.loss.name == "lm"
    centre = w.result.values["test_loss"][1, 1]
    assert centre == pytest.approx(plain_test_loss(final), rel=1e-6)
    assert w.result.values["test_loss"].max() > centre
    # the PCA plane of its training, from the run folder
    w.state.update(source="run", run_dir=str(run.path), method="pca", fit_ranges=False,
                   split="train")
    _compute(qtbot, w)
    assert errors == [] and w.result.trajectory is not None
    assert len(w.result.trajectory.epochs) == 3
    # the 1-D interpolation from epoch 1 to the final weights
    first = str(run.checkpoints[1][1])
    w.state.update(source="zoo", model="tiny_gpt1", checkpoint=first, dataset="shakespeare",
                   method="target", checkpoint2=final, split="test", xmin=0.0, xmax=1.0,
                   xnum=2)
    _compute(qtbot, w)
    assert errors == [] and w.result.is_line
    np.testing.assert_allclose(w.result.values["test_loss"],
                               [plain_test_loss(first), plain_test_loss(final)], rtol=1e-6)
