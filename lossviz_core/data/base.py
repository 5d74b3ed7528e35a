"""Splits and datasets, and how they reach the device: decoded once, kept where they fit.

A split is either tensors (:class:`Split`: ``x`` inputs, ``y`` targets) on the device, or in
(pinned) host memory when the device cannot hold them, or, when even the host cannot, a
:class:`StreamSplit` that decodes its examples through a ``DataLoader`` (workers, pinned
memory) on every pass. :func:`finish` subsamples first (before anything is decoded), then
places each split and says where in :attr:`Dataset.storage`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from lossviz_core.device import fits_on_device, host_memory_available
from lossviz_core.errors import DataError, InputError
from lossviz_core.recipe.spec import DatasetSpec

HOST_FRACTION = 0.4  # decoded data may take this share of the host's available memory
DECODE_BATCH = 256
# integer inputs a model takes as ids (token ids, categories), never as values
ID_DTYPES = (torch.int16, torch.int32, torch.int64)


def as_inputs(x: torch.Tensor) -> torch.Tensor:
    """Inputs as a model takes them: ids (int16, int32, int64: token ids) keep their integer
    dtype, for an embedding; everything else (pixels in uint8, bools, float64 features) is
    a value, in float32."""
    return x if x.dtype in ID_DTYPES else x.float()


@dataclass
class Split:
    """One split as tensors: inputs ``x`` (float32, normalized; or integer ids, see
    :func:`as_inputs`) and targets ``y`` (int64 class labels or token ids, or float targets
    for regression/BCE)."""

    x: torch.Tensor
    y: torch.Tensor
    host: bool = False  # kept in (pinned) host memory on purpose: stream it, never move it

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class StreamSplit:
    """A split too large to keep: a torch ``Dataset`` decoded by a ``DataLoader`` each pass."""

    dataset: Any
    workers: int = 0
    input_shape: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.dataset)

    def loader(self, batch_size: int, pin: bool = False):
        """Batches ``(x, y)`` in order (no shuffling: every pass sums the same examples)."""
        return torch.utils.data.DataLoader(
            self.dataset, batch_size=batch_size, shuffle=False, num_workers=self.workers,
            pin_memory=pin, persistent_workers=False,
        )


@dataclass
class Dataset:
    """A named dataset: a train split, an optional test split, classes and input shape.

    ``num_classes``: what the data declares (class folders, a dataset's class list), or
    ``max(label) + 1``, or None for float targets. ``storage``: where the examples live.
    """

    name: str
    train: Split | StreamSplit
    test: Split | StreamSplit | None
    num_classes: int | None
    input_shape: tuple[int, ...]
    storage: str = "on the device"
    classes_from_labels: bool = False  # num_classes is max(label) + 1, not declared
    normalize: tuple[tuple[float, ...], tuple[float, ...]] | None = field(default=None,
                                                                         repr=False)

    def split(self, which: str) -> Split | StreamSplit:
        """The ``train`` or ``test`` split; ``DataError`` if the dataset has no test split."""
        if which == "train":
            return self.train
        if which == "test":
            if self.test is None:
                raise DataError(f"dataset {self.name!r} has no test split")
            return self.test
        raise InputError(f"unknown split {which!r}; choose train or test")

    def distinct_labels(self) -> int:
        """How many different class labels the tensor splits hold."""
        labels = [s.y for s in (self.train, self.test)
                  if isinstance(s, Split) and len(s) and not s.y.is_floating_point()]
        return int(torch.unique(torch.cat([y.cpu() for y in labels])).numel()) if labels else 0

    def max_label(self) -> int | None:
        """The largest class label over both splits (None for float targets or streams)."""
        tops = [int(s.y.max()) for s in (self.train, self.test)
                if isinstance(s, Split) and len(s) and not s.y.is_floating_point()]
        return max(tops) if tops else None


@dataclass
class RawDataset:
    """What a data source returns, before subsampling and placement: each split either as
    tensors (``Split``, ``x`` possibly uint8 with ``normalize`` to apply on the device) or as
    a torch ``Dataset`` of (tensor, target) pairs to decode."""

    name: str
    train: Any
    test: Any
    num_classes: int | None
    normalize: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    classes_from_labels: bool = False  # num_classes is max(label) + 1 of the whole file


def finish(raw: RawDataset, spec: DatasetSpec, device: torch.device) -> Dataset:
    """Subsample (seeded, before decoding), decode once, and place each split."""
    gen = torch.Generator().manual_seed(int(spec.subsample_seed))
    places: list[str] = []
    splits = []
    for part in (raw.train, raw.test):
        if part is None:
            splits.append(None)
            continue
        part = _subsample(part, spec.subsample, gen)
        split, where = _place(part, spec, device, raw.normalize, raw.name)
        splits.append(split)
        places.append(where)
    train, test = splits
    if train is None or len(train) == 0:
        raise DataError(f"dataset {raw.name} has no training examples")
    shape = _input_shape(train)
    storage = places[0] if len(set(places)) == 1 else ", ".join(places)
    return Dataset(raw.name, train, test, raw.num_classes, shape, storage,
                   classes_from_labels=raw.classes_from_labels, normalize=raw.normalize)


def _input_shape(split: Split | StreamSplit) -> tuple[int, ...]:
    if isinstance(split, Split):
        return tuple(split.x.shape[1:])
    return split.input_shape


def _subsample(part: Any, k: int | None, gen: torch.Generator) -> Any:
    n = len(part)
    if k is None or k >= n:
        return part
    idx = torch.randperm(n, generator=gen)[: int(k)].sort().values
    if isinstance(part, Split):
        return Split(part.x[idx], part.y[idx])
    return torch.utils.data.Subset(part, idx.tolist())


def _place(part: Any, spec: DatasetSpec, device: torch.device, normalize, name: str):
    """A split on the device, in host memory (pinned for CUDA), or streamed; and where."""
    if not isinstance(part, Split):
        workers = default_workers() if spec.workers is None else int(spec.workers)
        decoded = None
        if spec.cache != "stream":
            decoded = decode(part, workers, None if spec.cache in ("host", "device") else
                             HOST_FRACTION * host_memory_available())
        if decoded is None:
            return StreamSplit(part, workers, _sample_shape(part)), (
                f"streamed through a DataLoader ({workers} workers), decoded every pass")
        part = decoded
    if spec.cache == "host" and device.type == "cuda":
        split = _to_device(part, torch.device("cpu"), name, normalize, pin=True)
        split.host = True
        return split, "decoded once, in pinned host memory"
    split = _to_device(part, device, name, normalize)
    where = "decoded once, on the device" if split.x.device.type == device.type else \
        "decoded once, in pinned host memory (too large for the device)"
    return split, where


def _to_device(split: Split, device: torch.device, name: str, normalize=None,
               pin: bool = False) -> Split:
    """``split`` on ``device`` as float32 (ids as they are, :func:`as_inputs`); too large
    for the GPU: kept pinned on the host.

    ``normalize`` ((mean, std) per channel): ``x`` travels as uint8 (4x smaller) and is
    normalized there, ``(x / 255 − mean) / std``.
    """
    host = pin or not fits_on_device(split.x.numel() * 4, device)
    if host:
        device = torch.device("cpu")
    x = split.x.to(device)
    if normalize is not None:
        mean = torch.tensor(normalize[0], device=device).view(1, -1, 1, 1) * 255
        std = torch.tensor(normalize[1], device=device).view(1, -1, 1, 1) * 255
        x = (x.float() - mean) / std
    x = as_inputs(x).contiguous()
    if host and torch.cuda.is_available():
        x = x.pin_memory()
    y = split.y.to(device)
    y = y.to(torch.int64) if not y.is_floating_point() else y.float()
    return Split(x, y)


def default_workers() -> int:
    """DataLoader workers: the cores but one, at most 8 (0: decode in this process)."""
    import os

    return max(0, min(8, (os.cpu_count() or 1) - 1))


def _sample_shape(ds: Any) -> tuple[int, ...]:
    x, _ = ds[0]
    return tuple(torch.as_tensor(x).shape)


def decode(ds: Any, workers: int, budget: float | None,
           progress: Callable[[int, int], None] | None = None) -> Split | None:
    """Every example of a torch ``Dataset`` as one tensor pair, or None over ``budget`` bytes."""
    n = len(ds)
    if n == 0:
        raise DataError("the dataset has no examples")
    try:
        x0, y0 = ds[0]
        x0 = torch.as_tensor(x0)
    except Exception as exc:  # noqa: BLE001 - a user's Dataset or an unreadable file
        raise DataError(f"cannot read the first example: {_short(exc)}") from None
    if budget is not None and n * x0.numel() * 4 > budget:
        return None
    try:
        x = torch.empty((n, *x0.shape), dtype=as_inputs(x0).dtype)
    except RuntimeError:
        return None
    y_float = isinstance(y0, float) or (isinstance(y0, torch.Tensor) and y0.is_floating_point())
    ys = []
    loader = torch.utils.data.DataLoader(ds, batch_size=DECODE_BATCH, shuffle=False,
                                         num_workers=workers)
    i = 0
    try:
        for xb, yb in loader:
            x[i : i + len(xb)] = xb
            ys.append(torch.as_tensor(yb))
            i += len(xb)
            if progress is not None:
                progress(i, n)
    except Exception as exc:  # noqa: BLE001 - examples of different sizes, a broken file, ...
        hint = (" (images of different sizes: give --image-size to resize them)"
                if "stack expects each tensor to be equal size" in str(exc) else "")
        raise DataError(f"cannot decode example {i}..{i + DECODE_BATCH - 1}: "
                        f"{_short(exc)}{hint}") from None
    y = torch.cat(ys)
    return Split(x, y.float() if y_float else y.to(torch.int64))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
