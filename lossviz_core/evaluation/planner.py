"""How an evaluator computes points: its typed decisions, and the rules that make them.

A :class:`Decision` is what a result file records per point (the ``plans`` attribute and
``plan`` ids of the HDF5 layout, kept for old files): single or multi-point and K, batch,
precision, memory format, compile, CPU threads, and why it was taken (the probe, an out-of-memory
retry, a replan on a busy machine, or a resumed file's record). A :class:`Pin` is the part
of a decision a resumed file fixes, so the rest of its points sum in the same order.
The evaluator (:mod:`lossviz_core.evaluation.evaluate`) asks the probes in
:mod:`lossviz_core.evaluation.multipoint` and keeps the log of its decisions here.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
from torch import nn

CUDA_MAX_BATCH = 8192
CUDA_MEMORY_SHARE = 0.4  # of the free device memory a probe's batch may take
REPLAN_SECONDS, REPLAN_FACTOR = 3.0, 3.0  # probe again after 3 s running 3x slower than probed


@dataclass(frozen=True)
class Decision:
    """How points are computed now; ``why``: the probe, "out of memory", a replan, or "as
    the file records"."""

    mode: str = "single"  # or "multi": K points per pass
    multi_k: int = 1
    batch_size: int = 1
    precision: str = "fp32"
    channels_last: bool = False
    compile: str = "off"
    threads: int | None = None  # torch's CPU threads (None on a GPU): recorded, and a CLI
    # resume takes them (lossviz_core.device.resume_threads), not the evaluator
    why: str = "probe"

    def to_dict(self) -> dict[str, Any]:
        """The record a result file stores."""
        return asdict(self)


@dataclass(frozen=True)
class Pin:
    """What a resumed file's latest decision fixes (None: not recorded, decide afresh)."""

    mode: str | None = None
    multi_k: int | None = None
    batch_size: int | None = None
    precision: str | None = None
    channels_last: bool | None = None
    compile: str | None = None

    @classmethod
    def of(cls, record: dict[str, Any] | None) -> Pin | None:
        """The pin of a stored decision record (None for a new file)."""
        if not record:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known and v is not None})


class DecisionLog:
    """The decisions an evaluator took, in order; points name theirs by index."""

    def __init__(self) -> None:
        self.decisions: list[Decision] = []
        self.current = 0

    def start(self, first: Decision) -> None:
        self.decisions, self.current = [first], 0

    def add(self, decision: Decision) -> bool:
        """A changed decision (points from now on say so); False before the first one."""
        if not self.decisions:
            return False
        self.decisions.append(decision)
        self.current = len(self.decisions) - 1
        return True

    def amend(self, **changes: Any) -> None:
        """Correct the current decision (a compile that failed runs eagerly)."""
        self.decisions[self.current] = replace(self.decisions[self.current], **changes)

    def records(self) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.decisions]


def memory_format(channels_last: bool) -> torch.memory_format:
    return torch.channels_last if channels_last else torch.contiguous_format


def use_memory_format(model: nn.Module, splits: list[Any], channels_last: bool) -> None:
    """Put ``model`` and the device-resident inputs of ``splits`` in one memory format (the
    dataset's own tensor is replaced: one copy)."""
    fmt = memory_format(channels_last)
    model.to(memory_format=fmt)
    for s in splits:
        if s.kind == "device":
            s.source.x = s.x.contiguous(memory_format=fmt)


def layouts_allowed(option: str) -> tuple[bool, ...]:
    """The memory formats (channels_last or not) an option leaves to the probe."""
    return {"channels_last": (True,), "contiguous": (False,)}.get(option, (False, True))


def cuda_batch_size(bytes_per_sample: float, free_bytes: int, n_max: int) -> int:
    """The largest batch whose activations fit a share of the free device memory."""
    return int(max(1, min(CUDA_MAX_BATCH, n_max,
                          CUDA_MEMORY_SHARE * free_bytes // max(bytes_per_sample, 1))))


def should_replan(seconds: float, points: int, probed_seconds_per_point: float) -> bool:
    """Far slower than probed for long enough: the probe was likely taken under a load spike."""
    return (seconds >= REPLAN_SECONDS and points > 0
            and seconds / points >= REPLAN_FACTOR * probed_seconds_per_point)


def bf16_is_fast(device: torch.device) -> bool:
    """The ``auto`` precision rule: bf16 on CUDA GPUs with bf16 tensor cores (Ampere on)."""
    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8


@contextmanager
def cudnn_settings(exact: bool):
    """cudnn.benchmark on; TF32 convolutions off for ``fp32`` (exact work); restored after."""
    cudnn = torch.backends.cudnn
    conv = getattr(cudnn, "conv", None)
    # torch >= 2.9 has a per-op fp32_precision API, and refuses the legacy flag once a
    # process has used the new one.
    new_api = conv is not None and hasattr(conv, "fp32_precision")
    saved = cudnn.benchmark, (conv.fp32_precision if new_api else cudnn.allow_tf32)
    cudnn.benchmark = True
    if exact:
        if new_api:
            conv.fp32_precision = "ieee"
        else:
            cudnn.allow_tf32 = False
    try:
        yield
    finally:
        cudnn.benchmark = saved[0]
        if new_api:
            conv.fp32_precision = saved[1]
        else:
            cudnn.allow_tf32 = saved[1]
