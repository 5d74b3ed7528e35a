"""``--only`` on a transformers model as a user has one: a GPT-2 saved with
``save_pretrained`` (its own tokenizer) on a ``text:`` file with ``--loss lm``. The centre is
transformers' own ``model(ids, labels=ids).loss`` averaged over the blocks; with
``--only 'transformer.h.1.*'`` every other parameter is θ's bit for bit at every grid point
(a forward hook checks), and the surface differs from the unrestricted one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from hf_files import save_gpt2, texts  # noqa: E402
from transformers import AutoTokenizer, GPT2LMHeadModel  # noqa: E402

from lossviz_core.export.titles import recipe_title  # noqa: E402
from lossviz_core.progress import drain  # noqa: E402
from lossviz_core.resolve import resolve  # noqa: E402
from lossviz_core.run.job import prepare  # noqa: E402

SEQ = 32
BLOCK = "transformer.h.1."


def test_only_one_block_of_a_saved_gpt2_on_a_text_file(tmp_path):
    folder = save_gpt2(tmp_path / "gpt2")
    text = "\n".join(texts(30, 1))
    (tmp_path / "corpus.txt").write_text(text)
    choices = {"model": f"hf:{folder}", "dataset": f"text:{tmp_path / 'corpus.txt'}",
               "seq_len": SEQ, "loss": "lm", "x": "-1:1:3", "y": "-1:1:3", "multi": "off",
               "device": "cpu", "precision": "fp32"}
    job = prepare(resolve({**choices, "only": f"{BLOCK}*"}))
    model = job.model
    theta = {n: p.detach().clone() for n, p in model.named_parameters()}
    seen = {"forwards": 0, "moved": set()}

    def check(module, args, kwargs):
        seen["forwards"] += 1
        for n, p in module.named_parameters():
            if n.startswith(BLOCK):
                if not torch.equal(p, theta[n]):
                    seen["moved"].add(n)
            else:
                assert torch.equal(p, theta[n]), n  # bit-identical, not merely close

    hook = model.register_forward_pre_hook(check, with_kwargs=True)
    result = drain(job.iter(out=tmp_path / "only.h5"))
    hook.remove()
    assert seen["forwards"] >= 9
    assert seen["moved"] == {n for n in theta if n.startswith(BLOCK) and theta[n].dim() > 1}
    assert job.directions.info["only"] == [f"{BLOCK}*"]
    assert f"only {BLOCK}*" in recipe_title(result)

    reference = GPT2LMHeadModel.from_pretrained(folder).eval()
    ids = AutoTokenizer.from_pretrained(folder)(text)["input_ids"]
    blocks = torch.tensor(ids[: len(ids) // SEQ * SEQ]).view(-1, SEQ)
    with torch.no_grad():
        want = float(np.mean([reference(b[None], labels=b[None]).loss.item() for b in blocks]))
    only = result.values["train_loss"]
    assert only[1, 1] == pytest.approx(want, rel=1e-5)
    whole = drain(prepare(resolve(choices)).iter(out=tmp_path / "whole.h5"))
    full = whole.values["train_loss"]
    assert only[1, 1] == full[1, 1]  # the same θ
    assert np.abs(only - full).max() > 1e-3
