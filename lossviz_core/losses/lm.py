"""``lm``: next-token cross-entropy, the mean over every predicted token.

A causal language model's outputs are logits (batch, tokens, vocabulary) for targets
(batch, tokens), the token ids themselves: position t predicts token t + 1, so a sequence of
T tokens has T − 1 predicted tokens, and targets −100 are left out (padding), exactly as
transformers' ``model(ids, labels=ids).loss``. The loss is a mean over tokens, not over
sequences: its sums come with their own count (:func:`lossviz_core.losses.batch_sums`), and
the evaluator divides by the total count. Token accuracy (argmax = next token) goes with it,
and the perplexity exp(mean loss) is added per split.

The logits are read in blocks of at most :data:`BLOCK_ELEMENTS` values (whole sequences, or
pieces of one), each cast to fp32 and reduced before the next: no fp32 copy, log-softmax or
exponential of the whole (batch × tokens × vocabulary) is ever made, so the memory the loss
itself takes does not grow with the vocabulary.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from lossviz_core.errors import InputError
from lossviz_core.losses.base import Loss, LossFunction, SplitQuantity

IGNORE_INDEX = -100  # a target the loss leaves out (transformers' and torch's convention)
BLOCK_ELEMENTS = 1 << 22  # logits read at once: 16 MiB in fp32


def next_token_sums(out: Tensor, y: Tensor, lead: int = 0,
                    block_elements: int = BLOCK_ELEMENTS) -> tuple[Tensor, Tensor, Tensor]:
    """(Σ cross-entropy, Σ correct, number of predicted tokens) over a batch, fp64, shape
    ``out.shape[:lead]``.

    ``out``: logits (*lead, B, T, V) in any float precision; ``y``: token ids (B, T), −100
    for a position to leave out. Position t of ``out`` is scored against ``y[:, t + 1]``.
    The logits are reduced in blocks of at most ``block_elements`` values per stacked point
    (at least one token's vocabulary).
    """
    _check(out, y, lead)
    lead_shape = out.shape[:lead]
    k = math.prod(lead_shape)
    b, t, v = out.shape[lead:]
    total = torch.zeros(lead_shape, dtype=torch.float64, device=out.device)
    correct = torch.zeros_like(total)
    count = torch.zeros_like(total)
    span = max(1, block_elements // max(1, k * v))  # predicted tokens per block
    rows = max(1, min(b, span // (t - 1)))  # whole sequences per block, where they fit
    step = t - 1 if span >= t - 1 else span
    dims = tuple(range(lead, out.dim() - 1))  # the batch and token dimensions
    for r in range(0, b, rows):
        for s in range(0, t - 1, step):
            e = min(s + step, t - 1)  # the last position predicts nothing
            logits = out[..., r:r + rows, s:e, :].float()
            target = y[r:r + rows, s + 1:e + 1].expand(logits.shape[:-1])
            keep = target != IGNORE_INDEX
            index = target.masked_fill(~keep, 0)
            picked = logits.gather(-1, index.unsqueeze(-1)).squeeze(-1)
            per = (torch.logsumexp(logits, -1) - picked).masked_fill(~keep, 0.0)
            total += per.sum(dims, dtype=torch.float64)
            correct += ((logits.argmax(-1) == index) & keep).sum(dims, dtype=torch.float64)
            count += keep.sum(dims, dtype=torch.float64)
            del logits, picked, per
    return total, correct, count


def _check(out: Tensor, y: Tensor, lead: int) -> None:
    if out.dim() != lead + 3 or y.dim() != 2 or y.is_floating_point():
        raise InputError(
            "the lm loss needs next-token logits (batch, tokens, vocabulary) and token ids "
            f"(batch, tokens); the model gives {tuple(out.shape[lead:])} for targets "
            f"{tuple(y.shape)}" + ("" if y.dim() == 2 else
                                   " (token data: tokens:FILE.npy, text:FILE, jsonl:FILE, "
                                   "hfds:DIR, or a dataset function returning id sequences)"))
    if tuple(out.shape[lead:lead + 2]) != tuple(y.shape):
        raise InputError(f"the model gives logits for {tuple(out.shape[lead:lead + 2])} "
                         f"(batch, tokens) but the targets are {tuple(y.shape)}")
    if y.shape[1] < 2:
        raise InputError("sequences of one token have no next token to predict; use "
                         "--seq-len 2 or more")


def _stats(out: Tensor, y: Tensor, loss: LossFunction, lead: int):
    return next_token_sums(out, y, lead)


def predicted_tokens(y: Tensor) -> float:
    """What a batch's mean is over: its predicted tokens (position 1 on, −100 left out)."""
    return float((y[:, 1:] != IGNORE_INDEX).sum()) if y.dim() == 2 else float(y.shape[0])


def perplexity(mean_loss: np.ndarray) -> np.ndarray:
    """exp(mean next-token loss); inf where the loss has diverged past exp's range."""
    with np.errstate(over="ignore"):
        return np.exp(mean_loss)


PERPLEXITY = SplitQuantity("perplexity", "perplexity", perplexity)

LOSS = Loss(
    name="lm", label="next-token cross-entropy (language model)", stats=_stats,
    accuracy=lambda targets, shape: True, quantities=(PERPLEXITY,), casts_outputs=True,
    sample_dims=2, count=predicted_tokens,
    help="a causal language model's loss: the mean over every predicted token (targets "
    "-100 left out), as transformers' model(ids, labels=ids).loss; token accuracy and "
    "perplexity",
)
