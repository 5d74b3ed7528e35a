"""A language model from the window: a transformers GPT-2 folder (Source: Hugging Face
model, a folder picker) on a token file (Dataset: Token file) with the next-token loss. The
Directions panel lists the model's modules as a tree; ticking one makes the recipe's
``only`` that module's glob, the title says so, and the computed centre equals transformers'
own ``model(ids, labels=ids).loss``; the other setting (*leave the ticked at θ*) writes
``exclude`` instead. The seeded storage is a choice of the random plane."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import COMPUTE_MS
from lossviz.panels.binding import PathEdit
from lossviz.state import recipe_from_state
from PySide6.QtCore import Qt

transformers = pytest.importorskip("transformers")

VOCAB, SEQ = 40, 12


@pytest.fixture
def gpt2_files(tmp_path):
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=SEQ, n_embd=16, n_layer=2, n_head=2))
    model.save_pretrained(tmp_path / "gpt2")
    ids = np.random.default_rng(0).integers(0, VOCAB, (6, SEQ))
    np.save(tmp_path / "ids.npy", ids)
    return tmp_path / "gpt2", tmp_path / "ids.npy", torch.as_tensor(ids)


def _plain_centre(folder, ids) -> float:
    model = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
    with torch.no_grad():  # equal lengths: the mean over every predicted token
        return float(np.mean([model(r[None], labels=r[None]).loss.item() for r in ids]))


def test_ticking_a_module_restricts_the_plane_and_the_centre_is_plain_pytorch(
        qtbot, make_window, errors, gpt2_files):
    folder, tokens, ids = gpt2_files
    w = make_window()
    qtbot.waitUntil(lambda: not w.computing, timeout=COMPUTE_MS)
    sp, dp = w.source_panel, w.directions_panel
    tree = dp.modules
    # the demo's model, loaded to compute, is listed without a click
    assert tree.root is not None and tree.model == w.session.job.recipe.model
    assert {tree.tree.topLevelItem(i).text(0) for i in range(tree.tree.topLevelItemCount())} \
        == {name.split(".")[0] for name, _ in w.session.job.model.named_parameters()}
    assert sp.source.findData("hf") >= 0 and isinstance(sp.hf_model, PathEdit)
    assert sp.hf_model.mode == "dir"  # save_pretrained writes a folder
    for kind in ("text", "tokens", "jsonl", "hfds"):
        assert sp.dataset.findData(kind) >= 0, kind
    w.state.update(source="hf", hf_model=str(folder), dataset="text")
    assert sp.data_form.isRowVisible(sp.seq_len) and sp.data_form.isRowVisible(sp.tokenizer)
    assert sp.tokenizer.mode == "dir"
    w.state.update(dataset="tokens", tokens_file=str(tokens), loss="lm", method="random",
                   xmin=-1.0, xmax=1.0, xnum=3, ymin=-1.0, ymax=1.0, ynum=3,
                   device="cpu", precision="fp32")
    assert sp.model_form.isRowVisible(sp.hf_model)
    # the panels name another model now: the demo's tree goes, the button lists the new one
    qtbot.waitUntil(lambda: tree.root is None, timeout=COMPUTE_MS)
    assert tree.tree.isHidden() and "another model" in tree.status.text()
    assert dp.form.isRowVisible(tree) and dp.form.isRowVisible(dp.param_dir_storage)
    assert dp.param_dir_storage.findData("seeded") >= 0

    tree.list_button.click()
    qtbot.waitUntil(lambda: tree.root is not None, timeout=COMPUTE_MS)
    assert [tree.tree.topLevelItem(i).text(0) for i in range(tree.tree.topLevelItemCount())] \
        == ["transformer"]  # the output head is tied to the embedding: listed once
    block = tree.item("transformer.h.1")
    assert block is not None and block.text(1) == f"{tree.root.find('transformer.h.1').numel:,}"
    block.setCheckState(0, Qt.CheckState.Checked)
    assert w.state["only"] == "transformer.h.1" and w.state["exclude"] == ""
    assert tree.item("transformer.h.1.attn.c_attn.weight").checkState(0) == Qt.CheckState.Checked
    assert tree.item("transformer.h").checkState(0) == Qt.CheckState.PartiallyChecked
    assert recipe_from_state(w.state.snapshot()).directions.params["only"] == "transformer.h.1"

    w.compute()
    qtbot.waitUntil(lambda: not w.computing and w.result is not None
                    and w.result.recipe.model.name.startswith("hf:"), timeout=COMPUTE_MS)
    assert errors == []
    r = w.result
    assert r.recipe.directions.params["only"] == "transformer.h.1"
    assert "only transformer.h.1" in w.entry.name  # the Results list's title of it
    loss = r.values["train_loss"]
    assert loss[1, 1] == pytest.approx(_plain_centre(folder, ids), rel=1e-5)
    assert loss[0, 0] != loss[1, 1]

    # leave the ticked at θ: the same tick becomes --exclude
    tree.mode.setCurrentIndex(tree.mode.findData("exclude"))
    assert w.state["exclude"] == "transformer.h.1" and w.state["only"] == ""
    # a glob typed into the row ticks what it names
    w.state.set("exclude", "*.ln_f")
    assert tree.item("transformer.ln_f").checkState(0) == Qt.CheckState.Checked
    assert block.checkState(0) == Qt.CheckState.Unchecked
