"""The direction seeds syntax (``--seeds``, a study's ``seeds``): parsed here and only here."""

from __future__ import annotations

from typing import Any

from lossviz_core.errors import InputError

MAX_SEEDS = 1000


def parse_seeds(value: Any, first: int = 0) -> tuple[int, ...]:
    """Direction seeds: ``'1:5'`` (1 to 5), a count ``'5'`` (``first`` and the next four),
    ``'1,3,7'``, or a list; ``()`` for none."""
    if value in (None, "", (), []):
        return ()
    try:
        if isinstance(value, (list, tuple)):
            seeds = tuple(int(v) for v in value)
        elif isinstance(value, int) and not isinstance(value, bool):
            seeds = tuple(range(first, first + value))
        elif ":" in str(value):
            lo, hi = (int(t) for t in str(value).split(":"))
            seeds = tuple(range(lo, hi + 1))
        elif "," in str(value):
            seeds = tuple(int(t) for t in str(value).split(","))
        else:
            seeds = tuple(range(first, first + int(value)))
    except (TypeError, ValueError):
        raise InputError(f"--seeds wants FIRST:LAST, a count or a list such as 1,3,7; got "
                         f"{value!r}") from None
    if not 1 <= len(seeds) <= MAX_SEEDS:
        raise InputError(f"--seeds wants 1 to {MAX_SEEDS} seeds, got {len(seeds)} ({value!r})")
    return seeds
