"""``jsonl:FILE``: one JSON object per line, the text in ``--text-field``; each text tokenized
with the model's tokenizer (or ``--tokenizer``), concatenated and cut into ``--seq-len``
blocks (see :mod:`.sequences`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from lossviz_core.data.base import RawDataset
from lossviz_core.data.registry import DataSource
from lossviz_core.data.sequences import SEQ_LEN, TEXT_FIELD, TOKENIZER, text_dataset
from lossviz_core.errors import DataError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import DatasetSpec

PREFIX = "jsonl:"


def texts(path: Path, field: str) -> Iterator[str]:
    """The ``field`` of every record, in order; a bad line is one error naming it."""
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path} line {number} is not JSON: {exc.msg}") from None
                text = record.get(field) if isinstance(record, dict) else None
                if not isinstance(text, str):
                    keys = ", ".join(record) if isinstance(record, dict) else ""
                    raise DataError(f"{path} line {number} has no text field {field!r}"
                                    + (f" (it has {keys}); choose one with "
                                       f"{TEXT_FIELD.cli_flag}" if keys else ""))
                yield text
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} as UTF-8 JSON lines: {exc}") from None


def load(spec: DatasetSpec) -> RawDataset:
    path = Path(spec.name[len(PREFIX):]).expanduser()
    if not path.is_file():
        raise DataError(f"JSON-lines file not found: {path}")
    field = str(spec.options.get("text_field", TEXT_FIELD.default))
    return text_dataset(spec, list(texts(path, field)), str(path))


SOURCE = DataSource(
    name="jsonl", label="JSON lines (tokenized)", matches=lambda n: n.startswith(PREFIX),
    load=load, example="jsonl:FILE",
    name_parts=NameParts((Param("jsonl_file", "file", label="File", portable=True,
                                help="one JSON object per line"),), prefix=PREFIX),
    options=(SEQ_LEN, TOKENIZER, TEXT_FIELD), model_hints=("tokenizer",),
    unit="sequences",
    default_loss="lm",
    help="texts for a language model (--loss lm), one JSON record per line")
