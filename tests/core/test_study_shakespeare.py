"""The bundled shakespeare-depth study (the language-model demo's study) end to end, its
quick profile: tiny GPTs of two depths with and without residual connections, the PCA plane
of a training run and the small/large-batch interpolation, on the next-token loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lossviz_core.cli import main
from lossviz_core.data import load_dataset
from lossviz_core.models import build_model
from lossviz_core.results.store import read_result
from lossviz_core.runs import read_run
from lossviz_core.sources.checkpoints import load_state_dict
from lossviz_core.studies import load_study, make_plan, read_figure_specs
from lossviz_core.studies.outputs import is_done
from lossviz_core.studies.state import StudyState

PANELS = ["plane-gpt1", "plane-gpt2", "plane-gpt1-nores", "plane-gpt2-nores"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "shakespeare-depth-quick"
    assert main(["study", "run", "shakespeare-depth", "--quick", "--out", str(out)]) == 0
    return out


def test_the_quick_study_runs_end_to_end(quick):
    plan = make_plan(load_study("shakespeare-depth", "quick"), quick)
    state = StudyState.load(quick)
    assert all(is_done(u, state) for u in plan.units)
    for u in plan.of_kind("train"):
        run = read_run(u.path)
        assert [e for e, _ in run.checkpoints] == list(range(u.work + 1))
        assert run.dataset["name"] == "shakespeare"
    for u in plan.of_kind("grid"):
        r = read_result(u.path)
        assert r.done.all() and r.recipe.loss.name == "lm"
    pca = read_result(plan.find("grid", "pca").path)
    assert pca.trajectory is not None and len(pca.trajectory.epochs) == 3  # epochs 0..2
    specs = read_figure_specs(quick / "figures" / "depth.png")
    assert [p["result"] for p in specs["panels"]] == PANELS
    assert (specs["figure"]["rows"], specs["figure"]["cols"]) == (2, 2)
    assert {"interpolation.png", "pca.pdf"} <= {p.name for p in (quick / "figures").iterdir()}


def test_the_interpolation_ends_are_the_plain_next_token_losses(quick):
    plan = make_plan(load_study("shakespeare-depth", "quick"), quick)
    line = read_result(plan.find("grid", "interpolation").path)
    assert line.is_line and {"train_loss", "test_loss", "train_acc", "test_acc"} <= set(line.values)
    x = list(line.x)
    ids = load_dataset(line.recipe.dataset).test.x  # the line's own 64 test sequences
    for alpha, unit in ((0.0, "small-batch"), (1.0, "large-batch")):
        model = build_model("tiny_gpt2")
        model.load_state_dict(load_state_dict(read_run(plan.find("train", unit).path)
                                              .final_checkpoint))
        model.eval()
        with torch.no_grad():
            logits = model(ids).double()
        plain = F.cross_entropy(logits[:, :-1].reshape(-1, 256), ids[:, 1:].reshape(-1))
        assert line.values["test_loss"][x.index(alpha)] == pytest.approx(float(plain), rel=1e-6)


def test_the_interpolation_figure_draws_losses_not_perplexity_on_the_loss_axis(quick):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from lossviz_core.export.figure import FigureOptions
    from lossviz_core.export.lines import draw_line

    plan = make_plan(load_study("shakespeare-depth", "quick"), quick)
    line = read_result(plan.find("grid", "interpolation").path)
    assert "train_perplexity" in line.values  # stored, and offered when asked for
    fig = Figure()
    FigureCanvasAgg(fig)
    draw_line(fig, line, FigureOptions())
    labels = {ln.get_label() for ax in fig.axes for ln in ax.get_lines()}
    assert {"train loss", "test loss", "train accuracy"} <= labels
    assert not any("perplexity" in label for label in labels)
    fig = Figure()
    FigureCanvasAgg(fig)
    draw_line(fig, line, FigureOptions(quantity="train_perplexity"))
    assert any("perplexity" in ln.get_label() for ax in fig.axes for ln in ax.get_lines())
