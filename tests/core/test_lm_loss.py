"""The ``lm`` loss (issue 18): next-token cross-entropy, the mean over every predicted token
(targets −100 left out), its own count in the per-batch sums, read in blocks so the memory it
takes does not grow with the vocabulary."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from lossviz_core.errors import InputError
from lossviz_core.losses import batch_stats, batch_sums, resolve_loss
from lossviz_core.losses.lm import IGNORE_INDEX, next_token_sums
from lossviz_core.results.quantities import quantity


def _batch(b=3, t=7, v=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = torch.randn(b, t, v, generator=g) * 3
    y = torch.randint(0, v, (b, t), generator=g)
    y[0, 3] = y[2, 5] = y[1, 0] = IGNORE_INDEX  # padding: left out (y[1, 0] is never a target)
    return out, y


def _plain(out, y):
    """Plain PyTorch: position t predicts token t + 1, −100 ignored, the mean over tokens."""
    logits, target = out[..., :-1, :].reshape(-1, out.shape[-1]), y[:, 1:].reshape(-1)
    return F.cross_entropy(logits.double(), target, ignore_index=IGNORE_INDEX).item()


def test_the_mean_over_predicted_tokens_equals_cross_entropy_with_ignored_targets():
    out, y = _batch()
    total, correct, count = batch_sums(out, y, "lm")
    assert count.item() == 3 * 6 - 2  # 6 predicted tokens per sequence, 2 of them padding
    assert total.item() / count.item() == pytest.approx(_plain(out, y), rel=1e-6)
    keep = y[:, 1:] != IGNORE_INDEX
    hits = ((out[:, :-1].argmax(-1) == y[:, 1:]) & keep).sum().item()
    assert correct.item() == hits
    # K stacked points (multi-point evaluation): one sum per point
    stacked = torch.stack([out, 0.5 * out])
    total, _, count = batch_sums(stacked, y, "lm", lead=1)
    assert count.tolist() == [16, 16]
    assert total[1].item() / 16 == pytest.approx(_plain(0.5 * out, y), rel=1e-6)


def test_blocks_of_any_size_give_the_unblocked_sums():
    out, y = _batch(b=4, t=9, v=13, seed=1)
    whole = next_token_sums(out, y, block_elements=1 << 30)
    for block in (13, 2 * 13, 3 * 8 * 13, 8 * 13 + 1):  # one token, pieces, whole sequences
        parts = next_token_sums(out, y, block_elements=block)
        for a, b in zip(parts, whole, strict=True):
            assert a.item() == pytest.approx(b.item(), rel=1e-12)
    half = out.bfloat16()  # low-precision logits are cast block by block, not whole
    for a, b in zip(next_token_sums(half, y, block_elements=13),
                    next_token_sums(half.float(), y), strict=True):
        assert a.item() == pytest.approx(b.item(), rel=1e-12)


def _peak_bytes(fn) -> int:
    """The most CPU memory the allocator held at once while ``fn`` ran, beyond what it held
    before (torch's allocator events, as the profiler records them)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.profiler.kineto_results.events()
                     if e.name() == "[memory]"), key=lambda e: e.start_ns())
    held = peak = 0
    for e in events:
        held += e.nbytes()
        peak = max(peak, held)
    return peak


def test_the_memory_the_loss_takes_does_not_grow_with_the_vocabulary():
    block = 1 << 14
    peaks, whole = {}, {}
    for v in (1024, 16384):
        g = torch.Generator().manual_seed(0)
        out = torch.randn(4, 33, v, generator=g).bfloat16()  # the model's logits, given
        y = torch.randint(0, v, (4, 33), generator=g)
        peaks[v] = _peak_bytes(lambda out=out, y=y: next_token_sums(out, y, block_elements=block))
        whole[v] = _peak_bytes(lambda out=out, y=y: next_token_sums(out, y, block_elements=1 << 40))
    fp32_block = 4 * block
    for v, peak in peaks.items():
        assert 0 < peak <= 4 * fp32_block, (v, peak)  # a few blocks' worth, whatever V is
    assert peaks[16384] <= 1.25 * peaks[1024]
    # the measure sees the memory: unblocked, an fp32 copy of all the logits is made
    assert whole[16384] >= 4 * 4 * 32 * 16384 > 10 * peaks[16384]
    assert whole[16384] > 8 * whole[1024]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_gpu_memory_the_loss_takes_does_not_grow_with_the_vocabulary():
    block, peaks = 1 << 20, {}
    for v in (8192, 65536):
        out = torch.randn(8, 129, v, device="cuda").bfloat16()
        y = torch.randint(0, v, (8, 129), device="cuda")
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        next_token_sums(out, y, block_elements=block)
        torch.cuda.synchronize()
        peaks[v] = torch.cuda.max_memory_allocated() - base
    assert max(peaks.values()) <= 4 * 4 * block, peaks
    assert peaks[65536] <= 1.25 * peaks[8192] + (1 << 20), peaks


def test_losses_that_count_examples_count_the_batch():
    g = torch.Generator().manual_seed(0)
    out, y = torch.randn(6, 4, generator=g), torch.tensor([0, 1, 2, 3, 1, 0])
    total, correct, count = batch_sums(out, y, "ce")
    assert count.item() == 6
    assert (total, correct) == batch_stats(out, y, "ce")
    stacked = torch.stack([out, 2 * out])
    assert batch_sums(stacked, y, "ce", lead=1)[2].tolist() == [6.0, 6.0]


def test_the_lm_loss_declares_perplexity_and_token_accuracy():
    entry = resolve_loss("lm").entry
    assert [q.name for q in entry.quantities] == ["perplexity"]
    assert quantity("train_perplexity").label == "train perplexity"
    assert entry.accuracy(torch.zeros(2, 5, dtype=torch.int64), (5, 11))


def test_wrong_shapes_are_one_line():
    with pytest.raises(InputError, match=r"next-token logits \(batch, tokens, vocabulary\)"):
        batch_sums(torch.randn(4, 10), torch.arange(4), "lm")  # a classifier's logits
    with pytest.raises(InputError, match="no next token"):
        batch_sums(torch.randn(2, 1, 5), torch.zeros(2, 1, dtype=torch.int64), "lm")
    with pytest.raises(InputError, match="use --loss lm"):  # ce on a language model
        batch_sums(torch.randn(2, 6, 5), torch.zeros(2, 6, dtype=torch.int64), "ce", lead=0)


USER_LOSS = """
import torch.nn.functional as F

def per_token(logits, ids):  # a user's per-token loss: (sum, count)
    target = ids[:, 1:].reshape(-1)
    total = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), target,
                            ignore_index=-100, reduction="sum")
    return total, int((target != -100).sum())
"""


@pytest.mark.parametrize("loss", ["lm", "user"])
def test_a_language_models_hessian_is_that_of_the_mean_over_predicted_tokens(loss, tmp_path):
    """The curvature of ``lm`` (and of a user's loss returning (sum, count)) is the Hessian
    of the loss the grid shows (the mean over every predicted token, −100 left out), not of
    a sum over tokens divided by sequences."""
    from types import SimpleNamespace

    from lossviz_core.curvature import HessianOperator, examples_of

    if loss == "user":
        (tmp_path / "lossfile.py").write_text(USER_LOSS)
        loss = resolve_loss(f"{tmp_path / 'lossfile.py'}:per_token")

    torch.manual_seed(0)
    vocab = 11
    model = torch.nn.Sequential(torch.nn.Embedding(vocab, 4), torch.nn.Tanh(),
                                torch.nn.Linear(4, vocab))
    ids = torch.randint(0, vocab, (5, 7))
    targets = ids.clone()
    targets[0, 3:] = IGNORE_INDEX  # padding: left out of the mean
    targets[2, 5] = IGNORE_INDEX
    op = HessianOperator.from_model(model, examples_of(SimpleNamespace(x=ids, y=targets)), loss,
                                    params="all", batch_size=2)
    assert op.count == 5 * 6 - 4 - 1
    assert op.examples.unit == "sequences"  # what the report and messages call them

    names = op.names

    def plain(*tensors):
        logits = torch.func.functional_call(model, dict(zip(names, tensors, strict=True)), (ids,))
        return F.cross_entropy(logits[:, :-1].reshape(-1, vocab), targets[:, 1:].reshape(-1),
                               ignore_index=IGNORE_INDEX)

    theta = tuple(dict(model.named_parameters())[n].detach() for n in names)
    v = op.random_vector(torch.Generator().manual_seed(1))
    parts = op.unflatten(v)
    _, hv = torch.autograd.functional.hvp(plain, theta, tuple(parts[n] for n in names))
    torch.testing.assert_close(op.hvp(v), op.flatten(list(hv)), rtol=1e-4, atol=1e-6)
    value, grad = op.loss_and_grad()
    leaves = [t.clone().requires_grad_(True) for t in theta]
    loss = plain(*leaves)
    assert value == pytest.approx(float(loss), rel=1e-6)
    torch.testing.assert_close(grad, op.flatten(list(torch.autograd.grad(loss, leaves))),
                               rtol=1e-5, atol=1e-7)
