"""``text:FILE``: a UTF-8 text file, tokenized with the model's tokenizer (or ``--tokenizer``)
and cut into ``--seq-len`` blocks (see :mod:`.sequences`)."""

from __future__ import annotations

from pathlib import Path

from lossviz_core.data.base import RawDataset
from lossviz_core.data.registry import DataSource
from lossviz_core.data.sequences import SEQ_LEN, TOKENIZER, text_dataset
from lossviz_core.errors import DataError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import DatasetSpec

PREFIX = "text:"


def load(spec: DatasetSpec) -> RawDataset:
    path = Path(spec.name[len(PREFIX):]).expanduser()
    if not path.is_file():
        raise DataError(f"text file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} as UTF-8 text: {exc}") from None
    return text_dataset(spec, [text], str(path))


SOURCE = DataSource(
    name="text", label="Text file (tokenized)", matches=lambda n: n.startswith(PREFIX),
    load=load, example="text:FILE",
    name_parts=NameParts((Param("text_file", "file", label="File", portable=True,
                                help="a UTF-8 text file"),), prefix=PREFIX),
    options=(SEQ_LEN, TOKENIZER), model_hints=("tokenizer",),
    unit="sequences",
    default_loss="lm",
    help="text for a language model (--loss lm), tokenized and cut into --seq-len blocks")
