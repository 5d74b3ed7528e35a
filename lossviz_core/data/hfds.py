"""``hfds:DIR``: a Hugging Face ``datasets`` folder saved with ``save_to_disk`` (an optional
extra: ``pip install 'lossviz[datasets]'``).

A ``DatasetDict`` gives its ``train`` split and its ``test`` (else ``validation``) split; a
single ``Dataset`` is the train split. Rows with an ``input_ids`` column are sequences as
they are (a ``labels`` column, −100 for positions to leave out, is used when present; rows
of different lengths are right-padded, their padding left out of the loss); otherwise the
``--text-field`` column is tokenized with the model's tokenizer (or ``--tokenizer``),
concatenated and cut into ``--seq-len`` blocks (see :mod:`.sequences`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lossviz_core.data.base import RawDataset, Split, _short
from lossviz_core.data.registry import DataSource
from lossviz_core.data.sequences import (
    SEQ_LEN,
    TEXT_FIELD,
    TOKENIZER,
    blocks,
    encode,
    load_tokenizer,
    padded,
    seq_len,
    token_dataset,
    token_split,
    vocabulary,
)
from lossviz_core.errors import DataError, InputError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import DatasetSpec

PREFIX = "hfds:"
TEST_SPLITS = ("test", "validation")


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise InputError("hfds: data needs the datasets package: pip install "
                         "'lossviz[datasets]'") from None
    return datasets


def load(spec: DatasetSpec) -> RawDataset:
    path = Path(spec.name[len(PREFIX):]).expanduser()
    if not path.is_dir():
        raise DataError(f"datasets folder not found: {path}")
    datasets = _datasets()
    try:
        saved = datasets.load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001 - not a save_to_disk folder, a damaged file
        raise DataError(f"cannot read {path} as a datasets folder (save_to_disk): "
                        f"{_short(exc)}") from None
    if isinstance(saved, datasets.DatasetDict):
        if "train" not in saved:
            raise DataError(f"{path} has splits {', '.join(saved)}, but no train split")
        train = saved["train"]
        test = next((saved[s] for s in TEST_SPLITS if s in saved), None)
    else:
        train, test = saved, None
    tokenizer: list[Any] = []  # loaded once, when a split holds text
    parts = [None if part is None else _split(spec, part, f"{path} ({name})", tokenizer)
             for name, part in (("train", train), ("test", test))]
    vocab = vocabulary(tokenizer[0]) if tokenizer else None
    return token_dataset(spec.name, parts[0], parts[1], vocab)


def _split(spec: DatasetSpec, part: Any, what: str, tokenizer: list[Any]) -> Split:
    columns = list(part.column_names)
    if "input_ids" in columns:
        rows = [list(map(int, r)) for r in part["input_ids"]]
        labels = [list(map(int, r)) for r in part["labels"]] if "labels" in columns else None
        if labels is not None and any(len(a) != len(b) for a, b in zip(rows, labels,
                                                                       strict=True)):
            raise DataError(f"{what}: labels and input_ids differ in length")
        ids, targets = padded(rows, labels, pad=0, what=what)
        return token_split(ids, what, targets)
    field = str(spec.options.get("text_field", TEXT_FIELD.default))
    if field not in columns:
        raise DataError(f"{what} has no column input_ids nor text column {field!r} (it has "
                        f"{', '.join(columns)}); choose one with {TEXT_FIELD.cli_flag}")
    if not tokenizer:
        tokenizer.append(load_tokenizer(spec))
    ids = blocks(encode(tokenizer[0], part[field]), seq_len(spec), what)
    return token_split(ids, what)


SOURCE = DataSource(
    name="hfds", label="Hugging Face datasets folder", matches=lambda n: n.startswith(PREFIX),
    load=load, example="hfds:DIR",
    name_parts=NameParts((Param("hfds_folder", "folder", label="Folder",
                                help="a folder saved with datasets' save_to_disk"),),
                         prefix=PREFIX),
    options=(SEQ_LEN, TOKENIZER, TEXT_FIELD), model_hints=("tokenizer",),
    unit="sequences",
    default_loss="lm",
    help="a datasets folder for a language model (--loss lm): input_ids rows, or a text "
    "column tokenized and cut into --seq-len blocks")
