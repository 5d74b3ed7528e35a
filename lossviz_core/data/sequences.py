"""Token sequences, shared by the token data kinds (``tokens:``, ``text:``, ``jsonl:``,
``hfds:``): the parameters they have in common, the tokenizer, and blocks of ``seq_len``.

A split of token data is a :class:`~lossviz_core.data.base.Split` whose inputs ``x`` are the
token ids (int64, one sequence per row) and whose targets ``y`` are the same ids (−100 where
a position is padding): the ``lm`` loss scores position t against token t + 1, as
transformers' ``model(ids, labels=ids)``. A subsample counts sequences. Text is tokenized
with the tokenizer's defaults, one text at a time, the ids concatenated and cut into blocks
of ``seq_len`` (the remainder dropped), as transformers' ``run_clm`` example does.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lossviz_core.data.base import RawDataset, Split, _short
from lossviz_core.errors import DataError, InputError
from lossviz_core.params import Param
from lossviz_core.recipe.spec import DatasetSpec

IGNORE_INDEX = -100  # a target position the loss leaves out (padding)

SEQ_LEN = Param("seq_len", "int", default=128, minimum=2, label="Sequence length", metavar="N",
                title="{} tokens", help="1-D token arrays and text are cut into blocks of "
                "this many tokens")
TOKENIZER = Param("tokenizer", "path", label="Tokenizer", metavar="DIR",
                  help="a tokenizer folder (save_pretrained) or tokenizer.json file; "
                  "default: the hf: model's own")
TEXT_FIELD = Param("text_field", default="text", label="Text field", metavar="NAME",
                   help="the field (jsonl) or column (hfds) holding the text")


def seq_len(spec: DatasetSpec) -> int:
    return int(spec.options.get("seq_len", SEQ_LEN.default))


def blocks(ids: np.ndarray, length: int, what: str) -> np.ndarray:
    """A 1-D stream of ids cut into rows of ``length`` (the remainder dropped)."""
    n = len(ids) // length
    if n == 0:
        raise DataError(f"{what} holds {len(ids)} tokens, fewer than one sequence of "
                        f"{length}; give a smaller {SEQ_LEN.cli_flag}")
    return np.asarray(ids[: n * length]).reshape(n, length)


def token_split(ids: np.ndarray, what: str, targets: np.ndarray | None = None) -> Split:
    """Rows of token ids as a split: inputs and targets the same ids (or ``targets``)."""
    if ids.ndim != 2 or ids.shape[0] == 0 or ids.shape[1] < 2:
        raise DataError(f"{what}: expected sequences of at least 2 tokens, got an array of "
                        f"shape {ids.shape}")
    if ids.min() < 0:
        raise DataError(f"{what} holds negative token ids (down to {int(ids.min())})")
    x = torch.from_numpy(np.array(ids, dtype=np.int64))  # a copy: the file may be mapped
    y = x if targets is None else torch.from_numpy(np.array(targets, dtype=np.int64))
    return Split(x, y)


def token_dataset(name: str, train: Split, test: Split | None,
                  vocab: int | None = None) -> RawDataset:
    """The dataset of token splits. Its "class count" is the vocabulary (the tokenizer's,
    else the largest id + 1): declared, never a count of labels to check."""
    if vocab is None:
        vocab = max(int(s.x.max()) for s in (train, test) if s is not None) + 1
    return RawDataset(name, train, test, int(vocab))


def padded(rows: list[list[int]], labels: list[list[int]] | None, pad: int,
           what: str) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of different lengths, right-padded to the longest: ids with ``pad``, targets
    with −100 (left out by the loss; a causal model's earlier positions never see them)."""
    if not rows:
        raise DataError(f"{what} has no sequences")
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    targets = np.full((len(rows), width), IGNORE_INDEX, dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        targets[i, : len(r)] = r if labels is None else labels[i]
    return ids, targets


# --- the tokenizer -----------------------------------------------------------------------

def load_tokenizer(spec: DatasetSpec) -> Any:
    """The tokenizer of ``spec``'s ``tokenizer`` option: a ``tokenizer.json`` file (the
    ``tokenizers`` library), a folder saved with ``save_pretrained`` or, with ``--download``
    or in the cache, a hub name (transformers' ``AutoTokenizer``). The option defaults to
    the hf: model's own (filled in from the model before the data is read)."""
    where = spec.options.get("tokenizer")
    if not where or where == "auto":
        raise InputError(f"{spec.name} needs a tokenizer: give {TOKENIZER.cli_flag} DIR (a "
                         "folder saved with save_pretrained, or a tokenizer.json), or use an "
                         "hf: model whose folder holds its tokenizer")
    path = Path(str(where)).expanduser()
    if path.is_file():
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise InputError("a tokenizer.json needs the tokenizers package: pip install "
                             "'lossviz[hf]'") from None
        try:
            return Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - any unreadable tokenizer file
            raise DataError(f"cannot read the tokenizer {path}: {_short(exc)}") from None
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise InputError("a tokenizer folder needs transformers: pip install "
                         "'lossviz[hf]'") from None
    local = path.is_dir()
    try:
        return AutoTokenizer.from_pretrained(str(path) if local else str(where),
                                             local_files_only=local or not spec.download)
    except Exception as exc:  # noqa: BLE001 - a missing folder, no network, a bad config
        if not local and not spec.download:
            raise InputError(f"tokenizer {where} is not a folder here nor in the Hugging Face "
                             "cache; pass --download to download it") from None
        raise DataError(f"cannot load the tokenizer {where}: {_short(exc)}") from None


def vocabulary(tokenizer: Any) -> int:
    """How many ids the tokenizer gives (its added tokens included)."""
    if hasattr(tokenizer, "get_vocab_size"):
        return int(tokenizer.get_vocab_size(with_added_tokens=True))
    return len(tokenizer)


def encode(tokenizer: Any, texts: Iterable[str]) -> np.ndarray:
    """The ids of ``texts``, each tokenized with the tokenizer's defaults, concatenated."""
    parts = []
    for text in texts:
        if hasattr(tokenizer, "get_vocab_size"):  # a tokenizers.Tokenizer
            parts.append(np.asarray(tokenizer.encode(text).ids, dtype=np.int64))
        else:
            ids = tokenizer(text, verbose=False)["input_ids"]
            parts.append(np.asarray(ids, dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def text_dataset(spec: DatasetSpec, texts: Iterable[str], what: str) -> RawDataset:
    """A train split of ``texts`` tokenized and cut into blocks of ``seq_len``."""
    tokenizer = load_tokenizer(spec)
    ids = blocks(encode(tokenizer, texts), seq_len(spec), what)
    return token_dataset(spec.name, token_split(ids, what), None, vocabulary(tokenizer))
