"""``torchvision:NAME``: a ``torchvision.datasets`` dataset (MNIST, FashionMNIST, CIFAR10,
CIFAR100, SVHN, ...) with train/test as torchvision names them, downloaded only when asked.

Datasets whose images torchvision keeps as one uint8 array (``.data``) are converted in one
vectorized step when the transform only normalizes; others are decoded example by example.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import torch

from lossviz_core.data.base import RawDataset, Split
from lossviz_core.data.cifar10 import CIFAR_MEAN, CIFAR_STD
from lossviz_core.data.registry import DataSource
from lossviz_core.data.transforms import ImageTransform, resolve_transform
from lossviz_core.errors import DataError, InputError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import DatasetSpec

PREFIX = "torchvision:"
# Each dataset's usual normalization (transform "auto"): per-channel mean and std.
NORMALIZATION = {
    "MNIST": ((0.1307,), (0.3081,)),
    "FashionMNIST": ((0.2860,), (0.3530,)),
    "CIFAR10": (CIFAR_MEAN, CIFAR_STD),
    "CIFAR100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "SVHN": ((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)),
}
SUPPORTED = tuple(NORMALIZATION)


def default_root(name: str) -> Path:
    return Path(f"~/.cache/lossviz/{name.lower()}").expanduser()


def _transform(spec: DatasetSpec, name: str) -> ImageTransform:
    if spec.transform == "auto" and spec.size is None and spec.mean is None:
        mean, std = NORMALIZATION.get(name, (None, None))
        return ImageTransform("auto", None, mean, std)
    return resolve_transform(spec, "none")


def load(spec: DatasetSpec) -> RawDataset:
    import torchvision

    name = spec.name[len(PREFIX) :]
    cls = getattr(torchvision.datasets, name, None)
    if not inspect.isclass(cls):
        raise InputError(f"torchvision has no dataset {name!r}; for example "
                         f"{', '.join(f'{PREFIX}{n}' for n in SUPPORTED)}")
    root = Path(spec.root).expanduser() if spec.root else default_root(name)
    tf = _transform(spec, name)
    params = inspect.signature(cls).parameters
    if "train" in params:
        kinds = {"train": {"train": True}, "test": {"train": False}}
    elif "split" in params:
        kinds = {"train": {"split": "train"}, "test": {"split": "test"}}
    else:
        kinds = {"train": {}}
    if "download" in params:
        kinds = {k: {**kw, "download": spec.download} for k, kw in kinds.items()}
    parts, classes = {}, None
    for split, kw in kinds.items():
        try:
            ds = cls(str(root), transform=tf.torchvision(), **kw)
        except (RuntimeError, OSError, ValueError, TypeError) as exc:
            if not spec.download and "download" in str(exc).lower():
                raise DataError(
                    f"{name} not found under {root}: download it (needs internet: --download, "
                    "or the Download button) or point the data folder (--data-root) at it"
                ) from None
            raise DataError(f"cannot read torchvision {name} from {root}: "
                            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                            ) from None
        classes = classes or (len(ds.classes) if getattr(ds, "classes", None) else None)
        parts[split] = _fast(ds, tf) or ds
    normalize = None
    if all(isinstance(p, Split) and p.x.dtype == torch.uint8 for p in parts.values()):
        c = parts["train"].x.shape[1]
        normalize = (tf.mean or (0.0,) * c, tf.std or (1.0,) * c)
    return RawDataset(spec.name, parts["train"], parts.get("test"), classes, normalize)


def _fast(ds, tf: ImageTransform) -> Split | None:
    """uint8 images as one NCHW tensor, when the transform is to-tensor (+ normalize) only."""
    data = getattr(ds, "data", None)
    labels = getattr(ds, "targets", getattr(ds, "labels", None))
    if tf.resizes or data is None or labels is None or ds.target_transform is not None:
        return None
    x = torch.as_tensor(np.asarray(data))
    if x.dtype != torch.uint8 or len(x) != len(labels):
        return None
    if x.dim() == 3:  # (N, H, W) greyscale
        x = x.unsqueeze(1)
    elif x.dim() == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):  # NHWC
        x = x.permute(0, 3, 1, 2)
    elif x.dim() != 4:
        return None
    return Split(x.contiguous(), torch.as_tensor(np.asarray(labels), dtype=torch.int64))


SOURCE = DataSource(
    name="torchvision", label="torchvision dataset", matches=lambda n: n.startswith(PREFIX),
    load=load, example="torchvision:NAME",
    name_parts=NameParts((Param("tv_dataset", default="CIFAR10", label="Dataset",
                                suggestions=lambda: sorted(NORMALIZATION),
                                help="a dataset class of torchvision.datasets"),),
                         prefix=PREFIX),
    uses=("root", "download", "transform", "size", "mean", "std", "cache", "workers"))
