"""``tokens:FILE.npy``: token ids saved with ``numpy.save``, as given.

An integer array: 2-D, one sequence per row; or 1-D, one stream cut into ``--seq-len``
blocks (the remainder dropped). Inputs and targets are the ids (int64): the ``lm`` loss
scores each position against the next token. The file is read with ``allow_pickle=False``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lossviz_core.data.base import RawDataset
from lossviz_core.data.registry import DataSource
from lossviz_core.data.sequences import SEQ_LEN, blocks, seq_len, token_dataset, token_split
from lossviz_core.errors import DataError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import DatasetSpec

PREFIX = "tokens:"


def load(spec: DatasetSpec) -> RawDataset:
    path = Path(spec.name[len(PREFIX):]).expanduser()
    if not path.is_file():
        raise DataError(f"token file not found: {path}")
    try:
        ids = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read {path} as a .npy array (numpy.save): {exc}") from None
    if not isinstance(ids, np.ndarray):  # an .npz archive
        raise DataError(f"{path} is an .npz archive; tokens: reads one array saved with "
                        "numpy.save (tensors:FILE.npz reads x and y)")
    if ids.dtype.kind not in "iu":
        raise DataError(f"{path} holds {ids.dtype} values, not integer token ids")
    if ids.ndim == 1:
        ids = blocks(ids, seq_len(spec), str(path))
    elif ids.ndim != 2:
        raise DataError(f"{path}: expected token ids of shape (tokens,) or (sequences, "
                        f"tokens), got {ids.shape}")
    return token_dataset(spec.name, token_split(np.asarray(ids), str(path)), None)


SOURCE = DataSource(
    name="tokens", label="Token ids (.npy)", matches=lambda n: n.startswith(PREFIX),
    load=load, example="tokens:FILE.npy",
    name_parts=NameParts((Param("tokens_file", "file", label="File", portable=True,
                                help="an integer array saved with numpy.save: one sequence "
                                "per row, or 1-D (cut into --seq-len blocks)"),),
                         prefix=PREFIX),
    options=(SEQ_LEN,),
    unit="sequences",
    default_loss="lm",
    help="token ids for a language model (--loss lm)")
