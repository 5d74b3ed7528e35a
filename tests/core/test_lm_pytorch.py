"""Issue 18's user story: a 2-layer causal transformer in plain PyTorch (``FILE.py:FUNCTION``),
its token data from a Python function or a ``tokens:`` file, and ``--loss lm`` or the user's
own per-token loss. The centre of every surface equals the model's next-token loss computed
in plain PyTorch; the ids stay integers all the way to the embedding."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossviz_core.cli import main
from lossviz_core.data import load_dataset
from lossviz_core.recipe.spec import DatasetSpec
from lossviz_core.results.store import read_result

MODEL = '''
import torch
import torch.nn.functional as F
from torch import nn

VOCAB, T = 97, 16


class CausalLM(nn.Module):
    """A 2-layer causal transformer whose output head is tied to its embedding."""

    def __init__(self, vocab=VOCAB, d=32, layers=2, heads=2, ctx=64):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.1, batch_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, ids):
        t = ids.shape[1]
        h = self.tok(ids) + self.pos(torch.arange(t, device=ids.device))
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=ids.device)
        return self.head(self.norm(self.blocks(h, mask=mask, is_causal=True)))


def model():
    torch.manual_seed(0)
    return CausalLM()


def sequences(n, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.empty(n, T, dtype=torch.int64)
    ids[:, 0] = torch.randint(0, VOCAB, (n,), generator=g)
    for t in range(1, T):
        ids[:, t] = (3 * ids[:, t - 1] + 1 + torch.randint(0, 3, (n,), generator=g)) % VOCAB
    return ids


def data(split):
    ids = sequences(24 if split == "train" else 8, 0 if split == "train" else 1)
    return ids, ids


def padded(split):
    """Sequences whose last few positions are padding: targets -100, left out."""
    ids = sequences(24, 0)
    targets = ids.clone()
    for i in range(len(ids)):
        targets[i, T - i % 7:] = -100
    return ids, targets


def token_loss(out, ids):
    """The user's own loss, averaged per token: (sum over the batch's tokens, how many)."""
    logits, target = out[:, :-1].reshape(-1, out.shape[-1]), ids[:, 1:].reshape(-1)
    return F.cross_entropy(logits, target, reduction="sum"), target.numel()
'''
GRID = ("--x=-0.5:0.5:3", "--y=-0.5:0.5:3", "--device", "cpu", "--precision", "fp32")


@pytest.fixture
def lm(tmp_path):
    path = tmp_path / "tinylm.py"
    path.write_text(MODEL)
    spec = importlib.util.spec_from_file_location("tinylm_reference", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield path, module
    sys.modules.pop(spec.name, None)


def _next_token(model, ids: torch.Tensor) -> tuple[float, float]:
    """Plain PyTorch: the mean next-token cross-entropy and token accuracy (%) in eval mode
    (dropout off)."""
    model.eval()
    with torch.no_grad():
        out = model(ids)
    logits, target = out[:, :-1].reshape(-1, out.shape[-1]), ids[:, 1:].reshape(-1)
    acc = (logits.argmax(-1) == target).double().mean().item() * 100
    return F.cross_entropy(logits, target).item(), acc


def _surface(capsys, out, *args) -> dict:
    code = main(["surface", *args, *GRID, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    return read_result(out).values


def test_a_plain_pytorch_causal_lm_on_its_own_token_function(lm, tmp_path, capsys):
    path, ref = lm
    values = _surface(capsys, tmp_path / "lm.h5", "--model", f"{path}:model", "--dataset",
                      f"{path}:data", "--loss", "lm", "--split", "both")
    for split, seed, n in (("train", 0, 24), ("test", 1, 8)):
        loss, acc = _next_token(ref.model(), ref.sequences(n, seed))
        assert values[f"{split}_loss"][1, 1] == pytest.approx(loss, rel=1e-5)
        assert values[f"{split}_acc"][1, 1] == pytest.approx(acc, abs=1e-9)
        assert values[f"{split}_perplexity"][1, 1] == pytest.approx(np.exp(loss), rel=1e-5)
    assert np.isfinite(values["train_loss"]).all() and values["train_loss"].std() > 0


def test_the_users_own_loss_is_averaged_per_token(lm, tmp_path, capsys):
    path, ref = lm
    values = _surface(capsys, tmp_path / "own.h5", "--model", f"{path}:model", "--dataset",
                      f"{path}:data", "--loss", f"{path}:token_loss")
    loss, _ = _next_token(ref.model(), ref.sequences(24, 0))
    assert values["train_loss"][1, 1] == pytest.approx(loss, rel=1e-5)
    assert "train_perplexity" not in values  # only the lm loss declares it


def test_padding_is_left_out_and_shards_merge_by_tokens(lm, tmp_path, capsys):
    path, ref = lm
    args = ("--model", f"{path}:model", "--dataset", f"{path}:padded", "--loss", "lm")
    one = _surface(capsys, tmp_path / "one.h5", *args)
    sharded = _surface(capsys, tmp_path / "two.h5", *args, "--shards", "3")
    ids, targets = ref.padded("train")
    model = ref.model().eval()
    with torch.no_grad():
        out = model(ids)
    want = F.cross_entropy(out[:, :-1].reshape(-1, out.shape[-1]), targets[:, 1:].reshape(-1),
                           ignore_index=-100).item()
    assert one["train_loss"][1, 1] == pytest.approx(want, rel=1e-5)
    # shards hold different numbers of real tokens: merged by tokens, not by sequences
    np.testing.assert_allclose(sharded["train_loss"], one["train_loss"], rtol=1e-12)
    np.testing.assert_allclose(sharded["train_perplexity"], np.exp(one["train_loss"]),
                               rtol=1e-12)
    assert (sharded["train_loss_se"] > 0).all()


def test_a_tokens_file_is_cut_into_sequences_of_integer_ids(lm, tmp_path, capsys):
    path, ref = lm
    stream = ref.sequences(20, 3).reshape(-1)  # 320 tokens, one stream
    np.save(tmp_path / "ids.npy", np.concatenate([stream.numpy(), [5, 6, 7]]).astype(np.int32))
    values = _surface(capsys, tmp_path / "tok.h5", "--model", f"{path}:model", "--dataset",
                      f"tokens:{tmp_path / 'ids.npy'}", "--seq-len", "16", "--loss", "lm")
    loss, _ = _next_token(ref.model(), stream.view(20, 16))  # the 3 left over are dropped
    assert values["train_loss"][1, 1] == pytest.approx(loss, rel=1e-5)

    ds = load_dataset(DatasetSpec(f"tokens:{tmp_path / 'ids.npy'}", subsample=5,
                                  options={"seq_len": 16}))
    assert ds.train.x.dtype == torch.int64 and tuple(ds.train.x.shape) == (5, 16)  # sequences
    assert torch.equal(ds.train.x, ds.train.y)
    rows = np.stack([stream.numpy()[:16], stream.numpy()[16:32]])  # 2-D: one row a sequence
    np.save(tmp_path / "rows.npy", rows)
    ds = load_dataset(DatasetSpec(f"tokens:{tmp_path / 'rows.npy'}"))
    assert torch.equal(ds.train.x, torch.from_numpy(rows)) and ds.num_classes == rows.max() + 1


def test_token_data_the_model_cannot_take_is_one_line(lm, tmp_path, capsys):
    path, _ = lm
    bad = {"big.npy": np.arange(200, dtype=np.int64).reshape(10, 20),  # ids past the vocab
           "floats.npy": np.zeros((4, 16), np.float32),
           "short.npy": np.arange(10, dtype=np.int64)}
    words = {"big.npy": "token ids up to 199 but model", "floats.npy": "not integer token ids",
             "short.npy": "fewer than one sequence of 16"}
    for name, array in bad.items():
        np.save(tmp_path / name, array)
        code = main(["surface", "--model", f"{path}:model", "--dataset",
                     f"tokens:{tmp_path / name}", "--seq-len", "16", "--loss", "lm", *GRID,
                     "--out", str(tmp_path / "x.h5")])
        err = capsys.readouterr().err
        assert code == 2 and words[name] in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()[-1]) < 400
    code = main(["surface", "--model", f"{path}:model", "--dataset", f"{path}:data", *GRID,
                 "--out", str(tmp_path / "ce.h5")])  # the default ce loss on next-token logits
    err = capsys.readouterr().err
    assert code == 2 and "use --loss lm" in err and "Traceback" not in err, err


def test_token_data_keys_in_a_study(lm, tmp_path):
    from lossviz_core.studies import make_plan, parse_study
    from lossviz_core.studies.runner import grid_recipe

    path, ref = lm
    np.save(tmp_path / "ids.npy", ref.sequences(8, 0).reshape(-1).numpy())
    study = tmp_path / "lm.toml"
    text = """
[study]
name = "lm"

[results.tokens]
model = "tinylm.py:model"
dataset = "tokens:ids.npy"
seq_len = 16
subsample = 4
loss = "lm"
x = "-1:1:3"
y = "-1:1:3"
"""
    plan = make_plan(parse_study(text, study), tmp_path / "out")
    r = grid_recipe(plan, plan.find("grid", "tokens"))  # paths relative to the study file
    assert r.dataset.name == f"tokens:{tmp_path / 'ids.npy'}" and r.model.name == f"{path}:model"
    assert r.dataset.options == {"seq_len": 16} and r.dataset.subsample == 4
    assert r.loss.name == "lm"


def test_token_data_on_ray_equals_the_local_surface(lm, tmp_path, capsys, cluster):
    """The tokens file travels to the workers with the recipe (a portable file)."""
    path, ref = lm
    np.save(tmp_path / "ids.npy", ref.sequences(12, 0).reshape(-1).numpy())
    args = ("--model", f"{path}:model", "--dataset", f"tokens:{tmp_path / 'ids.npy'}",
            "--seq-len", "16", "--loss", "lm")
    local = _surface(capsys, tmp_path / "local.h5", *args)
    ray = _surface(capsys, tmp_path / "ray.h5", *args, "--executor", "ray", "--workers", "1")
    for q in local:
        np.testing.assert_allclose(ray[q], local[q], rtol=1e-6)
    assert set(ray) >= {"train_loss", "train_acc", "train_perplexity"}
