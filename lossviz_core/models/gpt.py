"""A tiny GPT-style causal language model in plain PyTorch (the zoo's ``tiny_gpt``).

Byte-level (a vocabulary of 256), learned positions, pre-norm blocks of causal multi-head
self-attention and a GELU MLP, the output head tied to the token embedding (as GPT-2). The
``residual`` switch removes the skip connections around both sublayers, the language-model
counterpart of the paper's ResNets without shortcuts. Small enough to train in about a
minute on a laptop CPU on the bundled text.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

VOCAB = 256  # bytes
CONTEXT = 64
# Depths of the tiny GPTs in the zoo (``tiny_gpt{depth}``, with and without residuals)
GPT_DEPTHS = (1, 2, 4, 8)


class Block(nn.Module):
    def __init__(self, width: int, heads: int, residual: bool) -> None:
        super().__init__()
        self.heads, self.residual = heads, residual
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.out = nn.Linear(4 * width, width)

    def _attention(self, x: Tensor) -> Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=-1)
        shape = (b, t, self.heads, c // self.heads)
        q, k, v = (z.view(shape).transpose(1, 2) for z in (q, k, v))
        # written out, not F.scaled_dot_product_attention: torch.func.vmap (several grid
        # points per pass) has no batching rule for its CPU kernel and falls back to a loop
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.heads)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        y = scores.masked_fill(~causal, float("-inf")).softmax(-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, c))

    def forward(self, x: Tensor) -> Tensor:
        a = self._attention(self.ln1(x))
        x = x + a if self.residual else a
        m = self.out(F.gelu(self.fc(self.ln2(x))))
        return x + m if self.residual else m


class TinyGPT(nn.Module):
    """``forward(ids (B, T) int64) -> logits (B, T, vocab)``."""

    def __init__(self, num_classes: int = VOCAB, depth: int = 2, width: int = 64,
                 heads: int = 4, context: int = CONTEXT, residual: bool = True) -> None:
        super().__init__()
        self.context = context
        self.embed = nn.Embedding(num_classes, width)
        self.position = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads, residual) for _ in range(depth))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes, bias=False)
        self.head.weight = self.embed.weight  # tied: one tensor, perturbed once
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, std=0.02)
        for b in self.blocks:  # GPT-2's scaled init of the layers that add to the stream
            nn.init.normal_(b.proj.weight, std=0.02 / math.sqrt(2 * depth))
            nn.init.normal_(b.out.weight, std=0.02 / math.sqrt(2 * depth))

    def forward(self, ids: Tensor) -> Tensor:
        t = ids.shape[-1]
        if t > self.context:
            raise ValueError(f"tiny_gpt reads at most {self.context} tokens, got {t}")
        x = self.embed(ids) + self.position(torch.arange(t, device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def tiny_gpt(num_classes: int = VOCAB, depth: int = 2, residual: bool = True) -> TinyGPT:
    """The zoo's ``tiny_gpt`` (``depth`` blocks; ``residual`` False: no skip connections)."""
    return TinyGPT(num_classes, depth=depth, residual=residual)
