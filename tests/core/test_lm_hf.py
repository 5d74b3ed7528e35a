"""Issue 18 with transformers: a GPT-2 built from a small config, its own tokenizer trained
here with ``tokenizers``, both saved with ``save_pretrained`` (nothing is downloaded). On
``text:``, ``jsonl:`` and ``hfds:`` data the centre of a line equals transformers' own
``model(ids, labels=ids).loss``; the tied embedding and output head move once; hub names
and code a model ships need the user's word."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from hf_files import save_gpt2  # noqa: E402
from hf_files import texts as _texts  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    GPT2Config,
    GPT2ForSequenceClassification,
    GPT2LMHeadModel,
)

from lossviz_core.cli import main  # noqa: E402
from lossviz_core.data.base import Split  # noqa: E402
from lossviz_core.directions import make_directions  # noqa: E402
from lossviz_core.evaluation.evaluate import Evaluator  # noqa: E402
from lossviz_core.recipe.spec import DirectionSpec  # noqa: E402
from lossviz_core.results.store import read_result  # noqa: E402

SEQ = 32
LINE = ("--x=-0.5:0.5:3", "--device", "cpu", "--precision", "fp32")


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    """A folder with a 2-layer GPT-2 (d_model 32) and its byte-level BPE tokenizer."""
    return save_gpt2(tmp_path_factory.mktemp("gpt2"))


def _reference(folder):
    return GPT2LMHeadModel.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def _own_loss(model, rows: list[torch.Tensor]) -> float:
    """transformers' ``model(ids, labels=ids).loss`` of each sequence, weighted by its
    predicted tokens (equal blocks: the plain mean over the blocks)."""
    with torch.no_grad():
        losses = [model(r[None], labels=r[None]).loss.item() for r in rows]
    weights = [len(r) - 1 for r in rows]
    return float(np.average(losses, weights=weights))


def _blocks(ids: list[int]) -> list[torch.Tensor]:
    n = len(ids) // SEQ
    return list(torch.tensor(ids[: n * SEQ]).view(n, SEQ))


def _line(capsys, out, *args, said: list | None = None) -> dict:
    code = main(["line", *args, *LINE, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    if said is not None:
        said.append(err)
    return read_result(out).values


def test_a_gpt2_on_a_text_file_equals_its_own_loss(gpt2, tmp_path, capsys):
    text = "\n".join(_texts(60, 1))
    (tmp_path / "corpus.txt").write_text(text)
    said: list[str] = []
    values = _line(capsys, tmp_path / "text.h5", "--model", f"hf:{gpt2}", "--dataset",
                   f"text:{tmp_path / 'corpus.txt'}", "--seq-len", str(SEQ), "--loss", "lm",
                   said=said)
    model, tok = _reference(gpt2)
    blocks = _blocks(tok(text)["input_ids"])
    assert len(blocks) > 10
    assert f"data: {len(blocks)} train sequences" in said[0]  # counted as what they are
    want = float(np.mean([model(b[None], labels=b[None]).loss.item() for b in blocks]))
    assert values["train_loss"][1] == pytest.approx(want, rel=1e-5)
    assert values["train_perplexity"][1] == pytest.approx(np.exp(want), rel=1e-5)
    assert values["train_loss"][0] != values["train_loss"][1]


def test_jsonl_and_a_datasets_folder_tokenize_each_text(gpt2, tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    texts = _texts(40, 2)
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"id": i, "body": t}) + "\n"
                                              for i, t in enumerate(texts)))
    datasets.Dataset.from_dict({"body": texts}).save_to_disk(str(tmp_path / "ds"))
    model, tok = _reference(gpt2)
    want = _own_loss(model, _blocks([i for t in texts for i in tok(t)["input_ids"]]))
    for name, data in (("jsonl", f"jsonl:{tmp_path / 'd.jsonl'}"),
                       ("hfds", f"hfds:{tmp_path / 'ds'}")):
        values = _line(capsys, tmp_path / f"{name}.h5", "--model", f"hf:{gpt2}", "--dataset",
                       data, "--text-field", "body", "--tokenizer", str(gpt2), "--seq-len",
                       str(SEQ), "--loss", "lm")
        assert values["train_loss"][1] == pytest.approx(want, rel=1e-5), name
    code = main(["line", "--model", f"hf:{gpt2}", "--dataset", f"jsonl:{tmp_path / 'd.jsonl'}",
                 "--loss", "lm", *LINE, "--out", str(tmp_path / "no.h5")])
    err = capsys.readouterr().err  # the default field, "text", is not there
    assert code == 2 and "no text field 'text' (it has id, body)" in err, err


def test_sequences_of_different_lengths_leave_their_padding_out(gpt2, tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    model, tok = _reference(gpt2)
    rows = {s: [tok(t)["input_ids"][: 6 + 2 * i] for i, t in enumerate(_texts(n, seed))]
            for s, n, seed in (("train", 12, 3), ("test", 5, 4))}
    assert len({len(r) for r in rows["train"]}) > 1
    datasets.DatasetDict({s: datasets.Dataset.from_dict({"input_ids": r})
                          for s, r in rows.items()}).save_to_disk(str(tmp_path / "rows"))
    values = _line(capsys, tmp_path / "rows.h5", "--model", f"hf:{gpt2}", "--dataset",
                   f"hfds:{tmp_path / 'rows'}", "--loss", "lm", "--split", "both")
    for split, r in rows.items():  # the mean over every real predicted token
        want = _own_loss(model, [torch.tensor(x) for x in r])
        assert values[f"{split}_loss"][1] == pytest.approx(want, rel=1e-5), split


@pytest.mark.parametrize("dir_type", ["weights", "states"])
def test_tied_weights_move_once(gpt2, dir_type):
    model, tok = _reference(gpt2)
    assert model.lm_head.weight is model.transformer.wte.weight
    ids = torch.stack(_blocks(tok(" ".join(_texts(30, 5)))["input_ids"])[:6])
    spec = DirectionSpec(method="random", dir_type=dir_type, seed=1, xignore="none")
    d = make_directions(model, spec, two_d=False)
    theta = model.transformer.wte.weight.detach().clone()
    shifted = copy.deepcopy(model)  # θ + α·d: each tensor once, the tie kept
    state, moved = shifted.state_dict(), set()
    for name, dx in zip(d.names, d.x, strict=True):
        t = state[name]
        if t.is_floating_point() and t.data_ptr() not in moved:
            moved.add(t.data_ptr())
            t += 0.5 * dx
    assert shifted.lm_head.weight is shifted.transformer.wte.weight
    want = _own_loss(shifted, list(ids))
    data = SimpleNamespace(train=Split(ids, ids))
    for multi in ("off", "on"):  # in place, and stacked through functional_call
        ev = Evaluator(model, d, data, loss="lm", device="cpu", precision="fp32", multi=multi)
        assert ev.evaluate(np.array([0.5]))["train_loss"][0] == pytest.approx(want, rel=1e-5)
    i = d.names.index("transformer.wte.weight")
    ev.plane.write(0.5)
    assert torch.allclose(model.lm_head.weight, theta + 0.5 * d.x[i].to(theta.dtype))
    ev.plane.restore()
    assert torch.equal(model.lm_head.weight, theta)


def test_a_sequence_classifier_uses_its_own_head(gpt2, tmp_path, capsys):
    torch.manual_seed(1)
    config = GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        num_labels=3, pad_token_id=299)
    GPT2ForSequenceClassification(config).save_pretrained(tmp_path / "cls")
    g = np.random.default_rng(0)
    x, y = g.integers(0, 299, (20, 12)), g.integers(0, 3, 20)
    np.savez(tmp_path / "ids.npz", x=x, y=y)  # integer inputs stay ids
    values = _line(capsys, tmp_path / "cls.h5", "--model", f"hf:{tmp_path / 'cls'}",
                   "--dataset", f"tensors:{tmp_path / 'ids.npz'}")
    model = GPT2ForSequenceClassification.from_pretrained(tmp_path / "cls").eval()
    with torch.no_grad():
        want = model(torch.from_numpy(x), labels=torch.from_numpy(y)).loss.item()
    assert values["train_loss"][1] == pytest.approx(want, rel=1e-5)


def test_hub_names_and_shipped_code_need_the_users_word(gpt2, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no test downloads, whatever happens
    np.save(tmp_path / "ids.npy", np.arange(64) % 50)
    code = main(["line", "--model", "hf:lossviz-tests/not-a-model", "--dataset",
                 f"tokens:{tmp_path / 'ids.npy'}", "--seq-len", "16", "--loss", "lm", *LINE,
                 "--out", str(tmp_path / "h.h5")])
    err = capsys.readouterr().err
    assert code == 2 and "pass --download" in err and "Traceback" not in err, err

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for f in gpt2.iterdir():
        (shipped / f.name).write_bytes(f.read_bytes())
    config = json.loads((shipped / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_tiny.TinyLM"}
    (shipped / "config.json").write_text(json.dumps(config))
    (shipped / "modeling_tiny.py").write_text(
        "from transformers import GPT2LMHeadModel\n\n\nclass TinyLM(GPT2LMHeadModel):\n"
        "    pass\n")
    args = ["line", "--model", f"hf:{shipped}", "--dataset", f"tokens:{tmp_path / 'ids.npy'}",
            "--seq-len", "16", "--loss", "lm", *LINE]
    code = main([*args, "--out", str(tmp_path / "c.h5")])
    err = capsys.readouterr().err
    assert code == 2 and "pass --allow-code" in err and "Traceback" not in err, err

    import transformers.dynamic_module_utils as dynamic

    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    values = _line(capsys, tmp_path / "c.h5", *args[1:], "--allow-code")
    model = GPT2LMHeadModel.from_pretrained(gpt2).eval()
    ids = torch.from_numpy(np.arange(64) % 50).view(4, 16)
    assert values["train_loss"][1] == pytest.approx(_own_loss(model, list(ids)), rel=1e-5)


def test_text_without_a_tokenizer_is_one_line(tmp_path, capsys):
    (tmp_path / "m.py").write_text(
        "import torch\ndef net():\n    return torch.nn.Sequential(torch.nn.Embedding(50, 8), "
        "torch.nn.Linear(8, 50))\n")
    (tmp_path / "t.txt").write_text("some text " * 50)
    code = main(["line", "--model", f"{tmp_path / 'm.py'}:net", "--dataset",
                 f"text:{tmp_path / 't.txt'}", "--loss", "lm", *LINE,
                 "--out", str(tmp_path / "t.h5")])
    err = capsys.readouterr().err
    assert code == 2 and "needs a tokenizer: give --tokenizer DIR" in err, err
