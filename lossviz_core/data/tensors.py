"""``tensors:FILE.npz``: arrays ``x``, ``y`` (and optionally ``x_test``, ``y_test``), used as given.

``y`` holds integer class labels (ce, nll, mse) or float targets (mse, bce); ``x`` is
float32, or integer ids (int16, int32, int64) kept as they are. The file is
read with ``allow_pickle=False``: arrays only, never objects. The file declares no class
count: it comes from all its labels (``max(y) + 1``, marked as such, so that an absurd label
is refused before a model is sized by it), unless the recipe or a checkpoint gives one.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from lossviz_core.data.base import RawDataset, Split, as_inputs
from lossviz_core.data.registry import DataSource
from lossviz_core.errors import DataError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import DatasetSpec

PREFIX = "tensors:"


def load(spec: DatasetSpec) -> RawDataset:
    path = Path(spec.name[len(PREFIX) :]).expanduser()
    if not path.is_file():
        raise DataError(f"tensor file not found: {path}")
    if not zipfile.is_zipfile(path):
        kind = "a single .npy array" if path.read_bytes()[:6] == b"\x93NUMPY" else "not a .npz file"
        raise DataError(f"cannot read {path}: it is {kind}; save x and y with numpy.savez")
    check_members(path)
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
    # The class count from every label of the file (before a subsample could miss the top
    # class), marked as coming from the labels: the workspace checks it for plausibility.
    labels = [s.y for s in (train, test) if s is not None and not s.y.is_floating_point()]
    classes = max(int(y.max()) for y in labels) + 1 if labels else None
    return RawDataset(spec.name, train, test, classes, classes_from_labels=classes is not None)


def check_members(path: Path) -> None:
    """Read each array's header first: what it declares must be what the file holds
    (a header claiming 10¹¹ elements would otherwise allocate before failing), and it must
    hold numbers."""
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with z.open(info) as f:
                    fmt = np.lib.format
                    version = fmt.read_magic(f)
                    read = fmt.read_array_header_1_0 if version == (1, 0) else (
                        fmt.read_array_header_2_0)
                    shape, _, dtype = read(f)
                    header = f.tell()
                name = info.filename[: -len(".npy")]
                if dtype.kind not in "biuf":
                    raise DataError(f"{path}: array {name!r} holds {dtype} values, not numbers")
                declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if declared != info.file_size - header:
                    raise DataError(f"{path}: array {name!r} declares shape {shape} "
                                    f"({declared:.3g} bytes) but holds "
                                    f"{info.file_size - header} bytes; the file is damaged")
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"cannot read {path} as a .npz file: {exc}") from None


def _tensor_split(path: os.PathLike, x: np.ndarray, y: np.ndarray, xn: str, yn: str) -> Split:
    if x.ndim < 2 or y.ndim < 1 or len(x) != len(y) or len(y) == 0:
        raise DataError(f"{path}: {xn} must be (N, ...) and {yn} (N,), got {x.shape} and {y.shape}")
    if not np.issubdtype(x.dtype, np.number) or x.dtype.kind == "c":
        raise DataError(f"{path}: {xn} must hold real numbers, not {x.dtype}")
    if np.issubdtype(y.dtype, np.integer):
        if y.ndim != 1 or y.min() < 0:
            raise DataError(f"{path}: {yn} must hold non-negative integer class labels (N,)")
        target = torch.from_numpy(y.astype(np.int64))
    elif np.issubdtype(y.dtype, np.floating) or y.dtype == np.bool_:
        target = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
    else:
        raise DataError(f"{path}: {yn} must hold integer class labels or float targets, "
                        f"not {y.dtype}")
    x = np.ascontiguousarray(x, dtype=x.dtype if x.dtype.kind == "i" else np.float32)
    return Split(as_inputs(torch.from_numpy(x)), target)


SOURCE = DataSource(
    name="tensors", label="Tensors file (.npz)", matches=lambda n: n.startswith(PREFIX),
    load=load, example="tensors:FILE.npz",
    name_parts=NameParts((Param("tensors_file", "file", label="File", portable=True,
                                help="an .npz file with x, y (and x_test, y_test)"),),
                         prefix=PREFIX))
