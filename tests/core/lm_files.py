"""A user's language-model files, as a user writes them: a GPT-2 built from a config (random
weights), token sequences and the next-token cross-entropy. The tests pass this file to the
command line as ``lm_files.py:gpt2``, ``lm_files.py:tokens`` and ``lm_files.py:next_token``.

The token ids reach the model as float32 (the data layer casts every input to float), so
the model casts them back: ids below 2**24 are exact in float32.
"""

from __future__ import annotations

import torch
from torch import nn

VOCAB, POSITIONS = 61, 12
CONFIG = dict(n_layer=2, n_embd=16, n_head=2, n_positions=POSITIONS, vocab_size=VOCAB,
              bos_token_id=0, eos_token_id=0)


class GPT2(nn.Module):
    """transformers' GPT2LMHeadModel (tied input and output embeddings): logits of ids."""

    def __init__(self, seed: int = 0) -> None:
        from transformers import GPT2Config, GPT2LMHeadModel

        super().__init__()
        torch.manual_seed(seed)
        self.lm = GPT2LMHeadModel(GPT2Config(**CONFIG)).eval()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lm(ids.long()).logits


def gpt2() -> nn.Module:
    return GPT2()


def tokens(split: str):
    g = torch.Generator().manual_seed(1 if split == "train" else 2)
    ids = torch.randint(0, VOCAB, (6, POSITIONS), generator=g)
    return ids, ids  # the loss predicts token t + 1 from tokens up to t


def next_token(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The mean next-token cross-entropy of a batch."""
    return nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                                       ids[:, 1:].reshape(-1).long())


class TinyTransformer(nn.Module):
    """Plain PyTorch: an embedding, one encoder layer (nn.MultiheadAttention, LayerNorms)
    and a linear head."""

    def __init__(self, seed: int = 0, vocab: int = VOCAB, width: int = 16) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embed = nn.Embedding(vocab, width)
        self.block = nn.TransformerEncoderLayer(width, 2, 32, dropout=0.0, batch_first=True)
        self.head = nn.Linear(width, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.embed(ids.long())))
