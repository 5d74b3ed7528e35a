"""The bundled language-model demo: the shakespeare text, tiny_gpt in the zoo, token data in
the trainer, and the landscape, PCA plane and interpolation of trained tiny GPTs, each
checked against plain PyTorch's next-token cross-entropy on blocks cut from the text file
independently of LossViz's data layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch
import torch.nn.functional as F

from lossviz_core.cli import main
from lossviz_core.data import load_dataset
from lossviz_core.data import shakespeare as text
from lossviz_core.errors import InputError
from lossviz_core.models import build_model, list_models, model_info
from lossviz_core.recipe.spec import DatasetSpec
from lossviz_core.resolve import resolve
from lossviz_core.results.store import read_result
from lossviz_core.runs import read_run
from lossviz_core.sources.checkpoints import load_state_dict
from lossviz_core.train import TrainSpec, iter_training

ROOT = Path(__file__).resolve().parents[2]
BLOCK = 64


def plain_blocks(split: str) -> torch.Tensor:
    """The text's 64-byte blocks read with numpy alone: the last tenth of them is test."""
    data = np.frombuffer(text.TEXT.read_bytes(), dtype=np.uint8)
    rows = data[: len(data) // BLOCK * BLOCK].reshape(-1, BLOCK).astype(np.int64)
    n_test = round(0.1 * len(rows))
    return torch.from_numpy(rows[-n_test:] if split == "test" else rows[:-n_test])


def plain_next_token(model: torch.nn.Module, ids: torch.Tensor) -> tuple[float, float]:
    """Plain PyTorch: mean cross-entropy of position t against token t + 1, over every
    predicted token, and the token accuracy in percent."""
    model.eval()
    with torch.no_grad():
        logits = model(ids).double()
    pred, target = logits[:, :-1], ids[:, 1:]
    loss = F.cross_entropy(pred.reshape(-1, pred.shape[-1]), target.reshape(-1))
    acc = (pred.argmax(-1) == target).double().mean()
    return float(loss), 100.0 * float(acc)


def trained(name: str, checkpoint: Path) -> torch.nn.Module:
    model = build_model(name)
    model.load_state_dict(load_state_dict(checkpoint))
    return model


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two short tiny_gpt1 runs on 96 sequences: batch 16 and batch 48 from one init."""
    root = tmp_path_factory.mktemp("lm-demo")
    data = {"name": "shakespeare", "subsample": 96}
    small = root / "small"
    assert main(["train", "--model", "tiny_gpt1", "--dataset", "shakespeare", "--subsample",
                 "96", "--epochs", "2", "--batch-size", "16", "--optimizer", "adam",
                 "--lr", "0.003", "--weight-decay", "0", "--out", str(small)]) == 0
    large = root / "large"
    spec = TrainSpec(model="tiny_gpt1", dataset=data, batch_size=48, epochs=2, optimizer="adam",
                     lr=0.003, weight_decay=0.0,
                     init_checkpoint=str(read_run(small).checkpoints[0][1]))
    for _ in iter_training(spec, large):
        pass
    return read_run(small), read_run(large)


# --- the bundled text ----------------------------------------------------------------------


def test_the_bundled_text_is_two_plays_without_a_gutenberg_header():
    raw = text.TEXT.read_bytes()
    assert 100_000 < len(raw) <= 300_000
    body = raw.decode("ascii")  # byte ids are characters: ASCII only
    assert body.startswith("MACBETH\n\nby William Shakespeare")
    assert "THE TEMPEST\n\nby William Shakespeare" in body
    for mark in ("Project Gutenberg", "*** START", "*** END", "PROJECT GUTENBERG", "eBook",
                 "Etext", "www.gutenberg", "License", "LICENSE"):
        assert mark not in body, mark
    notice = (text.TEXT.parent / "NOTICE.txt").read_text()
    assert "public domain" in notice and "shakespeare" in notice
    # pip-installed copies carry it: the package data names the folder
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "texts/*" in pyproject["tool"]["setuptools"]["package-data"]["lossviz_core.data"]


def test_shakespeare_is_the_texts_byte_blocks_with_a_fixed_split():
    ds = load_dataset(DatasetSpec(name="shakespeare"))
    assert ds.num_classes == 256 and ds.input_shape == (BLOCK,)
    assert ds.train.x.dtype == torch.int64 and torch.equal(ds.train.y, ds.train.x)
    assert torch.equal(ds.train.x, plain_blocks("train"))
    assert torch.equal(ds.test.x, plain_blocks("test"))
    short = load_dataset(DatasetSpec(name="shakespeare", options={"seq_len": 32}))
    assert short.train.x.shape[1] == 32
    assert torch.equal(short.train.x[:2].reshape(-1), ds.train.x[0])


def test_token_data_resolves_to_the_lm_loss_unless_one_is_chosen(tmp_path):
    assert resolve({"model": "tiny_gpt", "dataset": "shakespeare"}).loss.name == "lm"
    np.save(tmp_path / "ids.npy", np.arange(256, dtype=np.int64).reshape(4, 64))
    tokens = resolve({"model": "tiny_gpt", "dataset": f"tokens:{tmp_path / 'ids.npy'}"})
    assert tokens.loss.name == "lm"
    assert resolve({"model": "digits_mlp"}).loss.name == "ce"
    assert resolve({"model": "tiny_gpt"}).dataset.name == "shakespeare"  # the zoo's own
    chosen = resolve({"model": "digits_mlp", "dataset": "digits", "loss": "mse"})
    assert chosen.loss.name == "mse"


# --- the zoo ---------------------------------------------------------------------------


def test_the_zoo_has_tiny_gpts_with_and_without_residuals():
    names = {m.name for m in list_models()}
    assert {"tiny_gpt", "tiny_gpt1", "tiny_gpt4_nores", "tiny_gpt8"} <= names
    info = model_info("tiny_gpt2_nores")
    assert (info.dataset, info.input_shape, info.num_classes) == ("shakespeare", (BLOCK,), 256)
    torch.manual_seed(0)
    plain, nores = build_model("tiny_gpt2"), build_model("tiny_gpt2_nores")
    assert all(b.residual for b in plain.blocks) and not any(b.residual for b in nores.blocks)
    assert len(build_model("tiny_gpt4").blocks) == 4
    assert plain.head.weight is plain.embed.weight  # tied: one parameter
    ids = plain_blocks("test")[:2]
    assert plain(ids).shape == (2, BLOCK, 256)


# --- training and landscapes -------------------------------------------------------------


def test_training_reports_the_plain_next_token_loss_and_token_accuracy(runs):
    small, large = runs
    for run in runs:
        assert [e for e, _ in run.checkpoints] == [0, 1, 2]
    assert torch.equal(load_state_dict(small.checkpoints[0][1])["embed.weight"],
                       load_state_dict(large.checkpoints[0][1])["embed.weight"])  # one init
    ds = load_dataset(DatasetSpec(name="shakespeare", subsample=96))
    loss, acc = plain_next_token(trained("tiny_gpt1", small.final_checkpoint), ds.test.x)
    last = small.metrics[-1]
    assert last["test_loss"] == pytest.approx(loss, rel=1e-5)
    assert last["test_acc"] == pytest.approx(acc, abs=1e-6)
    assert small.metrics[-1]["train_loss"] < small.metrics[0]["train_loss"] < np.log(256)


def test_the_landscape_centre_is_the_plain_next_token_loss(runs, tmp_path):
    small, _ = runs
    out = tmp_path / "plane.h5"  # no --loss: the text's own (lm), no --dataset: the zoo's
    assert main(["surface", "--model", "tiny_gpt1", "--checkpoint", str(small.path),
                 "--split", "test", "--x=-1:1:3", "--y=-1:1:3", "--out", str(out)]) == 0
    r = read_result(out)
    assert r.recipe.loss.name == "lm" and r.recipe.dataset.name == "shakespeare"
    loss, acc = plain_next_token(trained("tiny_gpt1", small.final_checkpoint),
                                 plain_blocks("test"))
    assert r.values["test_loss"][1, 1] == pytest.approx(loss, rel=1e-6)
    assert r.values["test_acc"][1, 1] == pytest.approx(acc, abs=1e-6)
    assert np.exp(r.values["test_loss"][1, 1]) == pytest.approx(r.values["test_perplexity"][1, 1])
    assert r.values["test_loss"].max() > loss  # a real landscape around θ


def test_the_pca_plane_of_a_training_run_and_the_interpolation_between_two(runs, tmp_path):
    small, large = runs
    pca = tmp_path / "pca.h5"
    assert main(["surface", "--pca", str(small.path), "--x=-1:1:3", "--y=-1:1:3",
                 "--subsample", "32", "--out", str(pca)]) == 0
    r = read_result(pca)
    assert r.recipe.loss.name == "lm" and len(r.trajectory.epochs) == 3
    line = tmp_path / "line.h5"
    assert main(["line", "--model", "tiny_gpt1", "--checkpoint", str(small.path),
                 "--checkpoint2", str(large.path), "--x=0:1:2", "--split", "test",
                 "--out", str(line)]) == 0
    values = read_result(line).values["test_loss"]
    ends = [plain_next_token(trained("tiny_gpt1", run.final_checkpoint),
                             plain_blocks("test"))[0] for run in runs]
    np.testing.assert_allclose(values, ends, rtol=1e-6)


def test_a_loss_the_token_data_cannot_take_is_one_line(tmp_path):
    data = {"name": "shakespeare", "subsample": 8}
    with pytest.raises(InputError, match="lm loss"):
        next(iter_training(TrainSpec(model="tiny_gpt1", dataset=data, loss="mse"),
                           tmp_path / "mse"))
    with pytest.raises(InputError, match="needs token sequences"):
        next(iter_training(TrainSpec(model="digits_mlp", loss="lm"), tmp_path / "lm"))
    assert not (tmp_path / "mse").exists() and not (tmp_path / "lm").exists()
