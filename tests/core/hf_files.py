"""A user's transformers folder, as a user makes one: a 2-layer GPT-2 (d_model 32) from a
small config and its own byte-level BPE tokenizer trained here with ``tokenizers``, both
saved with ``save_pretrained`` (nothing is downloaded); and texts to tokenize."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = ("the loss landscape of a network is a surface over two directions in weight space "
         "sharp minima generalize worse than flat ones skip connections keep it smooth").split()


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40))) + "."
            for _ in range(n)]


def save_gpt2(folder: Path) -> Path:
    """``folder`` with the GPT-2 (seed 0) and its tokenizer saved in it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts(200, 0), trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    eos = fast.eos_token_id
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(fast), n_positions=64, n_embd=32,
                                       n_layer=2, n_head=2, bos_token_id=eos,
                                       eos_token_id=eos))
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
