"""``cifar10``: CIFAR-10 in torchvision's on-disk layout, read without torchvision's md5 check.

The python-pickle batches are read by a restricted unpickler (numpy arrays and lists only,
never code); the download goes through torchvision and happens only when asked for.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from lossviz_core.data.base import RawDataset, Split
from lossviz_core.data.registry import DataSource
from lossviz_core.errors import DataError
from lossviz_core.params import NameParts
from lossviz_core.recipe.spec import DatasetSpec

CIFAR_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
CIFAR_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILES = ("test_batch",)


def default_cifar_root() -> Path:
    """Where CIFAR-10 lives unless ``--data-root`` says otherwise."""
    return Path("~/.cache/lossviz/cifar10").expanduser()


def _cifar_folder(root: Path) -> Path | None:
    """The folder holding the batches: ``root/cifar-10-batches-py`` or ``root`` itself."""
    for folder in (root / CIFAR_FOLDER, root):
        if all((folder / f).is_file() for f in CIFAR_TRAIN_FILES + CIFAR_TEST_FILES):
            return folder
    return None


def load(spec: DatasetSpec) -> RawDataset:
    if spec.transform != "auto" or spec.size or spec.mean or spec.std:
        raise DataError("cifar10 is normalized as the reference does; for another transform, "
                        "size, mean or std use torchvision:CIFAR10")
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
    return RawDataset("cifar10", train, test, 10, normalize=(CIFAR_MEAN, CIFAR_STD))


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


SOURCE = DataSource(name="cifar10", label="CIFAR-10", matches=lambda n: n == "cifar10",
                    load=load, example="cifar10", name_parts=NameParts(prefix="cifar10"),
                    uses=("root", "download"))
