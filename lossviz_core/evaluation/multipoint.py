"""How a pass over the data runs: many grid points at once, streamed batches, the probe.

On a GPU a small model is bound by kernel launches, not arithmetic: running K weight
sets in one pass (``torch.func.vmap`` over stacked θ + a_k·d₁ + b_k·d₂, which turns each
convolution into one grouped convolution) divides the launches by K. On a CPU one point
at a time is usually faster, so the evaluator times both on one batch and picks. The
probe also picks the CPU memory format and batch, and whether ``torch.compile`` pays.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from lossviz_core.data.base import as_inputs
from lossviz_core.device import fits_on_device
from lossviz_core.errors import InputError

# a model above this many parameters is not launch-bound: never probe the stacked path
PROBE_ROUNDS = 3
# Largest models worth probing: multi-point pays where kernel launches, not arithmetic,
# bound a pass (small models on a GPU); on the CPU it only helped tiny models, if ever.
MULTI_MAX_PARAMS = {"cuda": 5_000_000, "cpu": 100_000, "mps": 1_000_000}
CPU_K = 4
COMPILE_MIN_POINTS = 200
COMPILE_MIN_SECONDS = 60.0  # eager time of the grid that repays an autotuned compile
CPU_BATCH, CPU_BIG_BATCH = 256, 2048
MAX_K = 32


def _identity(out):
    return out


@dataclass
class EvalSplit:
    """One evaluation split, sharing its tensors with the dataset (one copy, converted in
    place). ``kind``: ``device`` (sliced there), ``pinned`` (pinned host memory copied on a
    side stream, CUDA only) or ``loader`` (a DataLoader decodes it every pass)."""

    name: str
    source: Any
    kind: str

    @property
    def x(self) -> Tensor:
        return self.source.x

    @property
    def y(self) -> Tensor:
        return self.source.y

    @property
    def stream(self) -> bool:
        return self.kind != "device"

    @property
    def n(self) -> int:
        return len(self.source) if self.kind == "loader" else int(self.source.y.shape[0])


def load_split(data: Any, name: str, device: torch.device) -> EvalSplit:
    """``data.<name>`` on ``device`` once; streamed from pinned memory if it cannot fit.

    Data already on ``device`` is shared with the dataset (one copy: the evaluator converts
    the dataset's own tensors); data kept on the host (too large, or on purpose) is streamed;
    data elsewhere is copied for this evaluator, the dataset keeping its own."""
    split = getattr(data, name, None)
    if split is None:
        raise InputError(f"the dataset has no {name} split; evaluate on train only")
    if hasattr(split, "loader"):
        if len(split) == 0:
            raise InputError(f"the {name} split is empty")
        return EvalSplit(name, split, "loader")
    x, y = split.x, split.y
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise InputError(f"the {name} split is empty or its x and y lengths differ")
    if not y.is_floating_point() and y.dtype != torch.int64:
        y = y.long()
    on_host = device.type == "cuda" and x.device.type == "cpu" and (
        getattr(split, "host", False) or not fits_on_device(x.numel() * x.element_size(), device))
    if on_host:
        split.x = x if x.is_pinned() else x.pin_memory()  # pinned once, in place
        split.y = y.to(device)
        return EvalSplit(name, split, "pinned")
    if x.device == device or (x.device.type == device.type == "cpu"):
        split.y = y.to(device)
        return EvalSplit(name, split, "device")
    return EvalSplit(name, _Local(x.to(device), y.to(device)), "device")


@dataclass
class _Local:
    """This evaluator's own copy of a split that lives on another device."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


def from_loader(split: EvalSplit, bs: int, device: torch.device, channels_last: bool):
    """Batches a DataLoader decodes (pinned for CUDA), moved to ``device``."""
    for xb, yb in split.source.loader(bs, pin=device.type == "cuda"):
        xb = as_inputs(xb.to(device, non_blocking=True))
        if channels_last and xb.dim() == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yb = yb.to(device, non_blocking=True)
        yield xb, (yb.float() if yb.is_floating_point() else yb.long())


def sample_of(split: Any, k: int) -> tuple[Tensor, Tensor]:
    """The first ``k`` examples of a split, an evaluator's or a dataset's (from the
    DataLoader for a streamed one)."""
    src = getattr(split, "source", split)
    if not hasattr(src, "loader"):
        return src.x[:k], src.y[:k]
    return next(iter(torch.utils.data.DataLoader(src.dataset, batch_size=k)))


def stacked_forward(
    module: nn.Module, params: dict[str, Tensor], x: Tensor, select: Callable = _identity
) -> Tensor:
    """Outputs of K weight sets (leading dim K of every tensor in ``params``) on one batch.

    Returns shape (K, B, ...). Tensors of ``module`` not in ``params`` are shared by all K.
    ``select`` picks the logits out of the forward's output.
    """

    def one(p: dict[str, Tensor]) -> Tensor:
        return select(functional_call(module, p, (x,)))

    return vmap(one)(params)


def choose_k(device: torch.device, param_bytes: int, sample_bytes: float, batch: int) -> int:
    """Points per pass: the stacked weights and K× the activations fit in ~40 % of free memory."""
    if device.type != "cuda":
        return CPU_K
    free, _ = torch.cuda.mem_get_info(device)
    per_point = 3 * param_bytes + sample_bytes * batch
    return int(max(1, min(MAX_K, 0.4 * free // max(per_point, 1))))


def synchronize(device: torch.device) -> None:
    """Wait for queued device work (timings are meaningless without it)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_call(
    fn: Callable[[], object], device: torch.device, min_seconds: float = 0.02, max_reps: int = 3
) -> float:
    """Seconds per call of ``fn``: the fastest of a few, after one warm-up call.

    The minimum, not the mean: other processes only ever add time (a shared CPU).
    """
    fn()
    synchronize(device)
    best, spent = float("inf"), 0.0
    for _ in range(max_reps):
        start = time.perf_counter()
        fn()
        synchronize(device)
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent >= min_seconds:
            break
    return best


def sample_bytes(fn: Callable[[Tensor], object], x: Tensor, device: torch.device) -> float:
    """Peak activation memory per sample of one forward (CUDA only; 0 elsewhere)."""
    if device.type != "cuda":
        return 0.0
    fn(x)  # once first: cudnn.benchmark's trial workspaces are not activations
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    fn(x)
    synchronize(device)
    return max(torch.cuda.max_memory_allocated(device) - base, 1) / x.shape[0]


def probe_cpu_layout(
    model: nn.Module, x: Tensor, bf16: bool, select: Callable = _identity,
    layouts: tuple[bool, ...] = (False, True),
) -> tuple[bool, int]:
    """(channels_last?, batch) fastest per sample on the CPU for this model, among
    ``layouts`` (channels_last or not; one of them when the user pinned the memory format).

    Measured on 2 cores: a small digits CNN runs ~2x faster with contiguous weights and in
    one large batch; larger CNNs gain from channels_last and batches of a few hundred.
    """
    cpu = torch.device("cpu")
    best: tuple[float, bool, int] | None = None
    for channels_last in layouts:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model.to(memory_format=fmt)
        xs = x.contiguous(memory_format=fmt)

        def run(xb: Tensor) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                select(model(xb))

        small = xs[:CPU_BATCH]
        t = time_call(lambda xb=small: run(xb), cpu) / len(small)
        candidates = [(t, channels_last, len(small))]
        if len(xs) > len(small) and t * len(small) < 0.02:  # tiny model: per-call overhead
            candidates.append(
                (time_call(lambda xb=xs: run(xb), cpu) / len(xs), channels_last, len(xs))
            )
        best = min([best] + candidates if best else candidates)
    return best[1], best[2]


def probe_multi(
    option, device: torch.device, plan, xb: Tensor, autocast: Callable, single_per_sample: float,
    select: Callable = _identity,
) -> tuple[bool, int, float]:
    """(multi?, K, seconds per sample per point): time K stacked points against one.

    ``option``: "auto" (probe), True (force), False (never). ``plan``: the evaluator's
    plane (a Plane or FoldedPlane: ``theta``, ``stacked``, ``module``).
    """
    if not getattr(plan, "stackable", True):  # seeded directions: one point at a time
        if option is True:
            raise InputError("seeded directions are evaluated one point at a time; use "
                             "multi-point off (or --dir-storage stored)")
        return False, 1, single_per_sample
    n_params = sum(t.numel() for t in plan.theta)
    if option is False or (option == "auto" and n_params > MULTI_MAX_PARAMS.get(device.type, 0)):
        return False, 1, single_per_sample
    if option == "auto" and device.type == "cuda" and single_per_sample * xb.shape[0] > 5e-3:
        return False, 1, single_per_sample  # a batch takes > 5 ms: arithmetic-bound already
    param_bytes = sum(t.numel() * t.element_size() for t in plan.theta)

    def single(x: Tensor) -> Tensor:
        with autocast():
            return select(plan.module(x))

    k = choose_k(device, param_bytes, sample_bytes(single, xb[:64], device), xb.shape[0])
    if option == "auto" and k < 2:
        return False, 1, single_per_sample
    k = max(k, 2)
    z = torch.zeros(k, device=device)
    params = plan.stacked(z, z)

    def run() -> Tensor:
        with autocast():
            return stacked_forward(plan.module, params, xb, select)

    # Interleave the two timings and keep each one's best: on a shared machine a load spike
    # during one measurement would otherwise decide the mode (seen: multi chosen, 2-17x
    # slower).
    try:
        per_sample = float("inf")
        for _ in range(PROBE_ROUNDS):
            per_sample = min(per_sample, time_call(run, device, max_reps=1) / (k * xb.shape[0]))
            single_per_sample = min(
                single_per_sample, time_call(lambda: single(xb), device, max_reps=1) / xb.shape[0]
            )
    except torch.cuda.OutOfMemoryError:
        per_sample = float("inf")
    params.clear()  # free the stacked weights before the real work
    if per_sample == float("inf"):
        torch.cuda.empty_cache()
        if option is not True:
            return False, 1, single_per_sample
        k, per_sample = 2, single_per_sample  # forced: start small, halve on OOM
    threshold = 0.8 if device.type == "cuda" else 0.5  # CPU: single is usually faster
    if option is True or per_sample < threshold * single_per_sample:
        return True, k, per_sample
    return False, 1, single_per_sample


def choose_compile(
    option: str, device: torch.device, multi: bool, n_points: int | None, seconds_per_point: float
) -> str:
    """The torch.compile mode, or "off": "auto" compiles on CUDA when the grid repays it."""
    if multi or option == "off":
        return "off"  # the stacked path runs eagerly (vmap under compile: not worth the risk)
    if getattr(sys, "frozen", False):
        # A packaged app has no C compiler or Python headers for inductor to build with.
        if option != "auto":
            raise InputError("torch.compile is not available in the packaged LossViz; "
                             "use compile 'off' or a pip-installed LossViz")
        return "off"
    if option == "auto":
        n = n_points or 0
        worth_it = (
            device.type == "cuda"
            and n >= COMPILE_MIN_POINTS
            and n * seconds_per_point >= COMPILE_MIN_SECONDS
        )
        return "max-autotune-no-cudagraphs" if worth_it else "off"
    # weights change in place between calls: keep CUDA graphs out of it
    return "max-autotune-no-cudagraphs" if option == "max-autotune" else option


def compile_module(module: nn.Module, mode: str) -> Callable[[Tensor], Tensor]:
    """torch.compile with the inductor cache on disk, so the next run skips the autotune."""
    # The cache folder is chosen in lossviz_core/__init__.py, before torch is imported.
    Path(os.environ["TORCHINDUCTOR_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)
    # dynamic=False: a batch halved after an OOM compiles a second static graph instead of
    # a dynamic one (which would autotune again and run slower).
    return torch.compile(module, dynamic=False, **({} if mode == "default" else {"mode": mode}))
