"""Datasets as device-resident tensors, normalized once.

``load_dataset(DatasetSpec(...), device)`` returns a ``Dataset`` whose splits hold
``x`` (float32, NCHW, normalized) and ``y`` (int64) on ``device``: an evaluation pass is then
pure arithmetic, with no DataLoader and no per-image transforms (design: Speed).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from lossviz_core.device import fits_on_device
from lossviz_core.errors import DataError, InputError
from lossviz_core.recipe.spec import DatasetSpec

CIFAR_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
CIFAR_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILES = ("test_batch",)
DIGITS_TEST_SIZE = 360


@dataclass
class Split:
    """One split: inputs ``x`` (float32, NCHW, normalized) and labels ``y`` (int64)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class Dataset:
    """A named dataset: a train split, an optional test split, classes and input shape."""

    name: str
    train: Split
    test: Split | None
    num_classes: int
    input_shape: tuple[int, ...]

    def split(self, which: str) -> Split:
        """The ``train`` or ``test`` split; ``DataError`` if the dataset has no test split."""
        if which == "train":
            return self.train
        if which == "test":
            if self.test is None:
                raise DataError(f"dataset {self.name!r} has no test split")
            return self.test
        raise InputError(f"unknown split {which!r}; choose train or test")


def default_cifar_root() -> Path:
    """Where CIFAR-10 lives unless ``--data-root`` says otherwise."""
    return Path("~/.cache/lossviz/cifar10").expanduser()


def load_dataset(spec: DatasetSpec, device: torch.device | str = "cpu") -> Dataset:
    """Load ``spec.name`` (``digits`` | ``cifar10`` | ``tensors:FILE.npz``) onto ``device``."""
    if spec.subsample is not None and int(spec.subsample) < 1:
        raise InputError(f"subsample must be >= 1 examples, got {spec.subsample}")
    device = torch.device(device)
    if spec.name == "digits":
        ds = _load_digits(spec)
    elif spec.name == "cifar10":
        ds = _load_cifar10(spec)
    elif spec.name.startswith("tensors:"):
        ds = _load_tensors(spec)
    else:
        raise InputError(
            f"unknown dataset {spec.name!r}; choose digits, cifar10 or tensors:FILE.npz"
        )
    return _finish(ds, spec, device)


def _finish(ds: Dataset, spec: DatasetSpec, device: torch.device) -> Dataset:
    """Subsample (before any conversion, to save memory), move to ``device``, normalize."""
    gen = torch.Generator().manual_seed(int(spec.subsample_seed))
    train = _subsample(ds.train, spec.subsample, gen)
    test = None if ds.test is None else _subsample(ds.test, spec.subsample, gen)
    test = None if test is None else _to_device(test, device, spec.name)
    return Dataset(
        ds.name, _to_device(train, device, spec.name), test, ds.num_classes, ds.input_shape
    )


def _subsample(split: Split, k: int | None, gen: torch.Generator) -> Split:
    n = len(split)
    if k is None or k >= n:
        return split
    idx = torch.randperm(n, generator=gen)[: int(k)].sort().values
    return Split(split.x[idx], split.y[idx])


def _to_device(split: Split, device: torch.device, name: str) -> Split:
    # Too large for the GPU: normalize on the host and keep it there, pinned; the
    # evaluator streams it with copy/compute overlap.
    host = not fits_on_device(split.x.numel() * 4, device)
    if host:
        device = torch.device("cpu")
    # CIFAR travels as uint8 (4x smaller) and is normalized on the device.
    x = split.x.to(device)
    if name == "cifar10":
        mean = torch.tensor(CIFAR_MEAN, device=device).view(1, 3, 1, 1) * 255
        std = torch.tensor(CIFAR_STD, device=device).view(1, 3, 1, 1) * 255
        x = (x.float() - mean) / std
    x = x.float().contiguous()
    if host:
        x = x.pin_memory()
    return Split(x, split.y.to(device=device, dtype=torch.int64))


# ---------------------------------------------------------------------------- digits


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.data.astype(np.float32) / 16.0
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, random_state=0, stratify=y
    )
    # One scalar mean and std, from the training split only.
    mean, std = float(x_tr.mean()), float(x_tr.std())
    x_tr = ((x_tr - mean) / std).reshape(-1, 1, 8, 8)
    x_te = ((x_te - mean) / std).reshape(-1, 1, 8, 8)
    for a in (x_tr, x_te, y_tr, y_te):
        a.setflags(write=False)
    return x_tr, y_tr, x_te, y_te


def _load_digits(spec: DatasetSpec) -> Dataset:
    x_tr, y_tr, x_te, y_te = _digits_arrays()
    # Copies: the cached arrays are read-only and shared between calls.
    train = Split(torch.tensor(x_tr), torch.tensor(y_tr))
    test = Split(torch.tensor(x_te), torch.tensor(y_te))
    return Dataset("digits", train, test, 10, (1, 8, 8))


# ---------------------------------------------------------------------------- cifar10


def _cifar_folder(root: Path) -> Path | None:
    """The folder holding the batches: ``root/cifar-10-batches-py`` or ``root`` itself."""
    for folder in (root / CIFAR_FOLDER, root):
        if all((folder / f).is_file() for f in CIFAR_TRAIN_FILES + CIFAR_TEST_FILES):
            return folder
    return None


def _load_cifar10(spec: DatasetSpec) -> Dataset:
    root = Path(spec.root).expanduser() if spec.root else default_cifar_root()
    folder = _cifar_folder(root)
    if folder is None and spec.download:
        _download_cifar10(root)
        folder = _cifar_folder(root)
    if folder is None:
        raise DataError(
            f"CIFAR-10 not found under {root}: download it (needs internet: --download, or the "
            f"Download button) or point the data folder (--data-root) at the folder holding "
            f"{CIFAR_FOLDER}"
        )
    train = _read_cifar_batches(folder, CIFAR_TRAIN_FILES)
    test = _read_cifar_batches(folder, CIFAR_TEST_FILES)
    return Dataset("cifar10", train, test, 10, (3, 32, 32))


def _download_cifar10(root: Path) -> None:
    """Fetch and verify the archive with torchvision (md5-checked there)."""
    import torchvision

    try:
        root.mkdir(parents=True, exist_ok=True)
        torchvision.datasets.CIFAR10(str(root), train=False, download=True)
    except Exception as exc:  # network, disk or checksum failure: the user can act on it
        raise DataError(f"could not download CIFAR-10 to {root}: {exc}") from None


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches only: numpy arrays, lists, strings; never arbitrary code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 (pickle API)
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a CIFAR batch")
        return super().find_class(module, name)


def _read_cifar_batches(folder: Path, files: tuple[str, ...]) -> Split:
    """Read the python-pickle batches (as torchvision does, without its md5 check)."""
    xs, ys = [], []
    for name in files:
        path = folder / name
        try:
            with open(path, "rb") as f:
                entry = _BatchUnpickler(f, encoding="latin1").load()
            data = entry.get("data", entry.get(b"data"))
            labels = entry.get("labels", entry.get(b"labels"))
            data = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
            labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        except (
            OSError,
            pickle.UnpicklingError,
            EOFError,
            AttributeError,
            ValueError,
            TypeError,
        ) as exc:
            raise DataError(f"malformed CIFAR-10 batch {path}: {exc}") from None
        if len(labels) != len(data):
            raise DataError(
                f"malformed CIFAR-10 batch {path}: {len(data)} images, {len(labels)} labels"
            )
        xs.append(data)
        ys.append(labels)
    # CIFAR rows are channel-major, so (N, 3072) -> (N, 3, 32, 32) is already NCHW.
    return Split(torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)))


# ---------------------------------------------------------------------------- tensors


def _load_tensors(spec: DatasetSpec) -> Dataset:
    path = Path(spec.name[len("tensors:") :]).expanduser()
    if not path.is_file():
        raise DataError(f"tensor file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path} as a .npz file: {exc}") from None
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise DataError(
            f"{path} lacks array(s) {', '.join(missing)}; it needs x and y "
            "(optional x_test, y_test)"
        )
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: x_test and y_test must come together")
    train = _tensor_split(path, arrays["x"], arrays["y"], "x", "y")
    test = None
    if "x_test" in arrays:
        test = _tensor_split(path, arrays["x_test"], arrays["y_test"], "x_test", "y_test")
        if test.x.shape[1:] != train.x.shape[1:]:
            raise DataError(
                f"{path}: x_test shape {tuple(test.x.shape[1:])} per example differs "
                f"from x {tuple(train.x.shape[1:])}"
            )
    top = max(int(s.y.max()) for s in (train, test) if s is not None and len(s) > 0)
    return Dataset(spec.name, train, test, top + 1, tuple(train.x.shape[1:]))


def _tensor_split(path: os.PathLike, x: np.ndarray, y: np.ndarray, xn: str, yn: str) -> Split:
    if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(y) == 0:
        raise DataError(f"{path}: {xn} must be (N, ...) and {yn} (N,), got {x.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise DataError(f"{path}: {yn} must hold non-negative integer class labels")
    return Split(
        torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        torch.from_numpy(y.astype(np.int64)),
    )
