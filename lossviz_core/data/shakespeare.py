"""``shakespeare``: the language-model demo's text, bundled (offline), as byte tokens.

Two public-domain plays (Macbeth, The Tempest; ``texts/NOTICE.txt`` says where from), read
as bytes (ids 0..255, the zoo's ``tiny_gpt`` vocabulary) and cut into ``--seq-len`` blocks
of 64 by default (the model's context). The split is fixed: the last tenth of the blocks,
the end of The Tempest, is the test split, so no test token is ever trained on.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from lossviz_core.data.base import RawDataset
from lossviz_core.data.registry import DataSource
from lossviz_core.data.sequences import SEQ_LEN, blocks, token_dataset, token_split
from lossviz_core.params import NameParts
from lossviz_core.recipe.spec import DatasetSpec

NAME = "shakespeare"
TEXT = Path(__file__).resolve().parent / "texts" / "shakespeare.txt"
VOCAB = 256  # bytes
BLOCK = 64  # tokens per sequence by default: tiny_gpt's context
TEST_FRACTION = 0.1
BLOCK_LEN = replace(SEQ_LEN, default=BLOCK)


@lru_cache(maxsize=1)
def text_bytes() -> np.ndarray:
    """The bundled text as one stream of byte ids (read-only)."""
    ids = np.frombuffer(TEXT.read_bytes(), dtype=np.uint8)
    ids.setflags(write=False)
    return ids


def split_blocks(length: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) blocks of ``length`` byte ids: the last tenth of the blocks is test."""
    rows = blocks(text_bytes(), length, f"the bundled text {TEXT.name}")
    n_test = max(1, round(TEST_FRACTION * len(rows)))
    return rows[:-n_test], rows[-n_test:]


def load(spec: DatasetSpec) -> RawDataset:
    train, test = split_blocks(int(spec.options.get("seq_len", BLOCK)))
    what = "the bundled text"
    return token_dataset(NAME, token_split(train, what), token_split(test, what), VOCAB)


SOURCE = DataSource(
    name=NAME, label="Shakespeare (text, bundled)", matches=lambda n: n == NAME, load=load,
    example=NAME, name_parts=NameParts(prefix=NAME), options=(BLOCK_LEN,), default_loss="lm",
    unit="sequences",
    help="two plays as byte tokens, for the language-model demo (tiny_gpt, --loss lm)")
