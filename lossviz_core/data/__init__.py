"""Datasets, decoded once and kept on the device where they fit; one module per source.

``load_dataset(DatasetSpec(...), device)`` returns a :class:`Dataset` whose splits hold
``x`` (float32, normalized) and ``y`` (int64 labels or float targets) on ``device``: an
evaluation pass is then pure arithmetic, with no DataLoader and no per-image transforms
(design: Speed). Data too large for the device stays in pinned host memory; data too large
for the host is streamed through a DataLoader (:class:`StreamSplit`).

Sources: ``digits`` (bundled), ``cifar10``, ``tensors:FILE.npz``, ``torchvision:NAME``,
``imagefolder:DIR``, ``FILE.py:FUNCTION`` (see :mod:`.registry`).
"""

from __future__ import annotations

import torch

from lossviz_core.data.base import (  # noqa: F401 (the package's API)
    Dataset,
    RawDataset,
    Split,
    StreamSplit,
    _to_device,
    decode,
)
from lossviz_core.data.cifar10 import CIFAR_MEAN, CIFAR_STD, default_cifar_root  # noqa: F401
from lossviz_core.data.digits import DIGITS_TEST_SIZE  # noqa: F401
from lossviz_core.data.registry import DataSource, data_source, register_data_source  # noqa: F401
from lossviz_core.recipe.spec import DatasetSpec


def load_dataset(spec: DatasetSpec, device: torch.device | str = "cpu") -> Dataset:
    """Load ``spec.name`` onto ``device`` (see the module docstring for the names)."""
    from lossviz_core.data.base import finish

    ds = finish(data_source(spec.name).load(spec), spec, torch.device(device))
    if ds.num_classes is None:
        top = ds.max_label()
        ds.num_classes = None if top is None else top + 1
        ds.classes_from_labels = top is not None
    return ds


def user_code_of(spec: DatasetSpec) -> str | None:
    """The Python file whose code reading this dataset runs, or None."""
    return data_source(spec.name).user_code(spec.name)

