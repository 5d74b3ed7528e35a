"""Picking the logits out of what a model's forward returns (a tensor, a tuple, a dict)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from lossviz_core.errors import InputError


def select_output(out: Any, key: str | int | None = None) -> Tensor:
    """The logits in ``out``: ``out`` itself for a tensor; ``out[key]`` for a tuple/list
    (an index) or a dict (a key); with no key, a dict's or an object's ``logits``."""
    if isinstance(out, Tensor):
        return out
    if isinstance(out, (tuple, list)):
        if key is None:
            raise InputError(f"the model returns a {type(out).__name__} of {len(out)} outputs; "
                             "choose the logits with --output INDEX (e.g. --output 0)")
        try:
            return _tensor(out[int(key)], key)
        except (ValueError, IndexError):
            raise InputError(f"--output {key}: the model returns {len(out)} outputs, "
                             f"indices 0..{len(out) - 1}") from None
    if isinstance(out, Mapping):
        if key is None and "logits" in out:
            return _tensor(out["logits"], "logits")
        if key is None or str(key) not in out:
            keys = ", ".join(map(str, out))
            raise InputError(f"the model returns a dict with keys {keys}; choose the logits "
                             "with --output KEY")
        return _tensor(out[str(key)], key)
    if key is None and isinstance(getattr(out, "logits", None), Tensor):
        return out.logits
    raise InputError(f"the model returns {type(out).__name__}, not logits; use --output to "
                     "choose them")


def _tensor(value: Any, key: Any) -> Tensor:
    if not isinstance(value, Tensor):
        raise InputError(f"--output {key} picks a {type(value).__name__}, not a tensor")
    return value
