"""The examples a curvature is summed over: whole splits or a seeded subsample, batch by batch.

Curvature work costs tens of Hessian-vector products, each a pass over the examples, so a
caller may subsample: ``subsample`` examples drawn without replacement by a seeded
generator (the same seed gives the same examples on any device), before anything is
decoded for a streamed split. The result records which split(s) and how many examples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from lossviz_core.errors import InputError


@dataclass
class Part:
    """One split's share: ``source`` is a split with tensors ``x``/``y`` (read when a pass
    runs, so a split converted in place by an evaluator is not copied) or, with ``stream``,
    a torch ``Dataset`` decoded by a DataLoader every pass; ``index``: a subsample's rows."""

    name: str
    source: Any
    index: Tensor | None = None
    stream: bool = False
    workers: int = 0

    def __len__(self) -> int:
        if self.index is not None:
            return int(self.index.numel())
        return len(self.source) if self.stream else int(self.source.y.shape[0])


@dataclass
class Examples:
    """The examples of one or more splits; :meth:`batches` walks them in a fixed order."""

    parts: list[Part]
    subsample: int | None = None
    seed: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return sum(len(p) for p in self.parts)

    @property
    def unit(self) -> str:
        """What an example is called: ``sequences`` when the inputs are rows of ids (int16,
        int32 or int64 tensors of two or more dimensions: token ids), else ``examples``."""
        from lossviz_core.data.base import ID_DTYPES

        for p in self.parts:
            x = None if p.stream else getattr(p.source, "x", None)
            if isinstance(x, torch.Tensor):
                return "sequences" if x.dtype in ID_DTYPES and x.dim() >= 2 else "examples"
        return "examples"

    def batches(self, batch_size: int, device: torch.device,
                dtype: torch.dtype = torch.float32) -> Iterator[tuple[Tensor, Tensor]]:
        """``(x, y)`` on ``device``, float inputs as ``dtype``; every pass sums the same
        examples."""
        for part in self.parts:
            if part.stream:
                data = part.source if part.index is None else torch.utils.data.Subset(
                    part.source, part.index.tolist())
                loader = torch.utils.data.DataLoader(
                    data, batch_size=batch_size, shuffle=False, num_workers=part.workers,
                    pin_memory=device.type == "cuda")
                for xb, yb in loader:
                    yield _place(xb, torch.as_tensor(yb), device, dtype)
                continue
            x, y = part.source.x, part.source.y
            for s in range(0, len(part), batch_size):
                if part.index is None:
                    yield _place(x[s:s + batch_size], y[s:s + batch_size], device, dtype)
                else:
                    rows = part.index[s:s + batch_size]
                    yield _place(x[rows.to(x.device)], y[rows.to(y.device)], device, dtype)

    def describe(self) -> dict[str, Any]:
        """What a result records: the splits, how many examples, whole or subsampled."""
        return {"splits": [p.name for p in self.parts], "examples": self.n,
                "subsample": self.subsample, "subsample_seed": self.seed if self.subsample
                else None, **self.info}


def _place(x: Tensor, y: Tensor, device: torch.device, dtype: torch.dtype):
    x = x.to(device, non_blocking=True)
    x = x.to(dtype) if x.is_floating_point() else x  # token ids stay integers
    y = y.to(device, non_blocking=True)
    return x, (y.to(dtype) if y.is_floating_point() else y.long())


def examples_of(data: Any, splits: Sequence[str] | str = ("train",), subsample: int | None = None,
                seed: int = 0) -> Examples:
    """The examples of ``data``'s ``splits`` (a dataset with ``train``/``test``, or one split:
    anything with ``x``/``y``, or a streamed split with ``dataset``), all of them or a seeded
    ``subsample`` of them (drawn over the splits together)."""
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    splits = ("train", "test") if splits == ("both",) else splits
    if hasattr(data, "x") or hasattr(data, "loader"):
        raw = [("data", data)]
    else:
        raw = []
        for name in splits:
            split = getattr(data, name, None)
            if split is None:
                raise InputError(f"the dataset has no {name} split")
            raw.append((name, split))
    parts = [_part(name, s) for name, s in raw]
    total = sum(len(p) for p in parts)
    if total == 0:
        raise InputError("there are no examples to compute the curvature on")
    if subsample is None or int(subsample) >= total:
        return Examples(parts, None, int(seed))
    if int(subsample) < 1:
        raise InputError(f"subsample must be >= 1 examples, got {subsample}")
    gen = torch.Generator().manual_seed(int(seed))
    chosen = torch.randperm(total, generator=gen)[: int(subsample)].sort().values
    out, start = [], 0
    for p in parts:
        idx = chosen[(chosen >= start) & (chosen < start + len(p))] - start
        start += len(p)
        if len(idx):
            out.append(_subset(p, idx))
    return Examples(out, int(subsample), int(seed))


def _part(name: str, split: Any) -> Part:
    if hasattr(split, "x"):
        if split.x.shape[0] != split.y.shape[0]:
            raise InputError(f"the {name} split's inputs and targets differ in length")
        return Part(name, split)
    if hasattr(split, "dataset"):
        return Part(name, split.dataset, stream=True, workers=int(getattr(split, "workers", 0)))
    raise InputError(f"the {name} split is neither tensors nor a dataset")


def _subset(p: Part, idx: Tensor) -> Part:
    return Part(p.name, p.source, idx, p.stream, p.workers)
