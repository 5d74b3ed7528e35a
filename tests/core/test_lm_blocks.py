"""The next-token loss read in blocks shorter than a sequence (a 50257-token vocabulary
makes blocks of 83 tokens; a 128-token sequence then ends in a shorter block) equals the
plain cross-entropy."""

from __future__ import annotations

import pytest
import torch

from lossviz_core.losses.lm import next_token_sums


@pytest.mark.parametrize("block_elements", [7 * 11, 5 * 11, 11, 10_000])
def test_blocks_that_do_not_divide_the_sequence(block_elements):
    g = torch.Generator().manual_seed(0)
    out = torch.randn(3, 10, 11, generator=g)
    y = torch.randint(0, 11, (3, 10), generator=g)
    y[1, 4] = -100
    total, correct, count = next_token_sums(out, y, block_elements=block_elements)
    logits, target = out[:, :-1].reshape(-1, 11), y[:, 1:].reshape(-1)
    want = torch.nn.functional.cross_entropy(logits, target, reduction="sum",
                                             ignore_index=-100)
    assert float(count) == 26
    assert float(total) == pytest.approx(float(want), rel=1e-6)
    keep = target != -100
    assert float(correct) == float(((logits.argmax(-1) == target) & keep).sum())
