"""``FILE.py:FUNCTION``: a user's dataset function, ``FUNCTION(split)`` with split ``"train"``
or ``"test"``, returning a ``torch.utils.data.Dataset`` of (input, target) pairs, an
``(x, y)`` pair of tensors, or None (no such split). Integer ids (token sequences: int64,
int32, int16) stay integers; other inputs become float32. The file's code runs only because the
user named it.
"""

from __future__ import annotations

import torch

from lossviz_core.data.base import RawDataset, Split, as_inputs
from lossviz_core.data.registry import DataSource
from lossviz_core.errors import DataError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import DatasetSpec
from lossviz_core.usercode import is_function_ref, load_function, user_file


def load(spec: DatasetSpec) -> RawDataset:
    fn = load_function(spec.name, "dataset")
    parts, classes = {}, None
    for split in ("train", "test"):
        try:
            value = fn(split)
        except Exception as exc:  # noqa: BLE001 - the user's code: report it in one line
            raise DataError(f"{spec.name}({split!r}) failed: {type(exc).__name__}: {exc}") from None
        parts[split] = _as_part(spec.name, split, value)
        if classes is None and getattr(value, "classes", None):
            classes = len(value.classes)
    if parts["train"] is None:
        raise DataError(f"{spec.name}('train') returned None: the train split is required")
    return RawDataset(spec.name, parts["train"], parts["test"], classes)


def _as_part(name: str, split: str, value):
    if value is None:
        return None
    if isinstance(value, (tuple, list)) and len(value) == 2:
        x, y = (torch.as_tensor(v) for v in value)
        if len(x) != len(y) or len(y) == 0:
            raise DataError(f"{name}({split!r}): x and y must be non-empty and of one length, "
                            f"got {tuple(x.shape)} and {tuple(y.shape)}")
        return Split(as_inputs(x), y if y.is_floating_point() else y.long())
    if hasattr(value, "__getitem__") and hasattr(value, "__len__"):
        return value
    raise DataError(f"{name}({split!r}) must return a torch Dataset, an (x, y) pair of "
                    f"tensors or None, not {type(value).__name__}")


SOURCE = DataSource(
    name="pyfile", label="Python file (dataset function)", matches=is_function_ref,
    load=load, example="FILE.py:FUNCTION", user_code=user_file,
    name_parts=NameParts((Param("data_file", "code", label="File",
                                help="a Python file defining the dataset function"),
                          Param("data_function", label="Function",
                                help="FUNCTION(split) returns a Dataset or (x, y)")),
                         function=True),
    uses=("transform", "size", "mean", "std", "cache", "workers"))
