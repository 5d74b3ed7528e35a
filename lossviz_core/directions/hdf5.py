"""Direction files in the reference's HDF5 layout (``h5_util.write_list``).

Groups ``xdirection`` / ``ydirection`` hold datasets ``"0".."n-1"`` aligned with
``weights_of(model, dir_type)``. Our extras (names, dir_type, info, a PCA trajectory)
live in a ``lossviz`` group the reference ignores.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor, nn

from lossviz_core.atomic import atomic_path
from lossviz_core.directions.base import Directions
from lossviz_core.directions.weights import check_dir_type, is_perturbable, names_of, weights_of
from lossviz_core.errors import InputError, LossVizError, StoreError
from lossviz_core.recipe.spec import json_default
from lossviz_core.results.hdf5 import (
    open_file,
    read_array,
    read_text,
    read_trajectory,
    refuse_foreign_storage,
    write_hdf5,
)

_GROUPS = ("xdirection", "ydirection")


def _to_numpy(t: Tensor) -> np.ndarray:
    t = t.detach().cpu()
    # h5py has no bfloat16; float32/float64 are kept so a round trip is bit-identical
    if t.dtype not in (torch.float32, torch.float64, torch.float16):
        t = t.float()
    return t.numpy()


def save_directions(path: str | os.PathLike, dirs: Directions) -> None:
    """Write ``dirs`` in the reference's HDF5 layout, atomically (temp file + ``os.replace``)."""
    path = Path(path)
    with atomic_path(path, "direction file") as tmp:
        write_hdf5(tmp, lambda f: _fill(f, dirs))


def _fill(f: h5py.File, dirs: Directions) -> None:
    for name, d in zip(_GROUPS, (dirs.x, dirs.y), strict=True):
        if d is None:
            continue
        grp = f.create_group(name)
        for i, t in enumerate(d):
            grp.create_dataset(str(i), data=_to_numpy(t))
    ev = dirs.info.get("explained_variance")
    if ev is not None:  # where the reference's PCA files keep it
        f["explained_variance_ratio_"] = np.asarray(ev, dtype=float)
    meta = f.create_group("lossviz")
    meta.attrs["format"] = "lossviz-directions-1"
    meta.attrs["dir_type"] = dirs.dir_type
    meta.attrs["names"] = json.dumps(list(dirs.names))
    meta.attrs["info"] = json.dumps(dirs.info, default=json_default)
    if dirs.trajectory is not None:
        tg = meta.create_group("trajectory")
        for k, v in dirs.trajectory.to_arrays().items():
            tg.create_dataset(k, data=v)


def _group(f: h5py.File, name: str, path: Path) -> list[h5py.Dataset]:
    """The datasets ``"0".."n-1"`` of group ``name``, not read yet."""
    grp = f[name]
    if not isinstance(grp, h5py.Group):
        raise StoreError(f"direction file {path}: {name} is not a group")
    n = len(grp)
    missing = [str(i) for i in range(n) if str(i) not in grp]
    if missing:
        raise StoreError(
            f"direction file {path}: {name} lacks dataset(s) {', '.join(missing[:5])}"
            f" (expected '0'..'{n - 1}')"
        )
    out = [grp[str(i)] for i in range(n)]
    bad = next((i for i, ds in enumerate(out) if not isinstance(ds, h5py.Dataset)), None)
    if bad is not None:
        raise StoreError(f"direction file {path}: {name}/{bad} is not an array")
    return out


def _check_fits(
    arrays: list[h5py.Dataset], model: nn.Module, dir_type: str, group: str, path: Path
) -> list[Tensor]:
    """The group's tensors for ``model``: every declared shape is compared with the model's
    before any array is read (a crafted file may declare gigabytes in a few KiB)."""
    names, ref = names_of(model, dir_type), weights_of(model, dir_type)
    pairs = enumerate(zip(arrays, ref, strict=False))
    i = next((k for k, (a, w) in pairs if a.shape != w.shape), min(len(arrays), len(ref)))
    if i < max(len(arrays), len(ref)):  # a wrong shape, or one list runs out first
        mine = str(arrays[i].shape) if i < len(arrays) else "nothing"
        theirs = f"{names[i]} {tuple(ref[i].shape)}" if i < len(ref) else "nothing"
        count = ""
        if len(arrays) != len(ref):
            other = "states" if dir_type == "weights" else "weights"
            fits = len(arrays) == len(weights_of(model, other))
            count = f"{len(arrays)} tensors but the model has {len(ref)} {dir_type}" + (
                f" (it fits dir_type {other}); " if fits else "; "
            )
        raise InputError(
            f"direction file {path} does not fit the model: {count}first mismatch "
            f"{group}/{i}: file {mine}, model {theirs}"
        )
    out = []
    for i, (ds, w) in enumerate(zip(arrays, ref, strict=True)):
        a = read_array(ds, path, max_values=max(w.numel(), 1), dtype=None)
        if not is_perturbable(w):
            out.append(torch.zeros_like(w))  # integer buffers are never perturbed
            continue
        if not np.all(np.isfinite(a)):
            raise StoreError(f"direction file {path}: {group}/{i} ({names[i]}) has NaN or inf")
        out.append(torch.from_numpy(np.ascontiguousarray(a)).to(device=w.device, dtype=w.dtype))
    return out


def load_directions(
    path: str | os.PathLike, model: nn.Module, dir_type: str = "weights"
) -> Directions:
    """Read a direction file (ours or the reference's) and check it fits ``model``.

    A corrupted or non-HDF5 file raises :class:`StoreError`; a file made for another
    model (count or shapes differ) raises :class:`InputError` naming the first mismatch.
    """
    path = Path(path)
    check_dir_type(dir_type)
    if not path.is_file():
        raise StoreError(f"direction file {path} does not exist")
    stored: dict[str, Any] = {}
    traj = None
    try:
        with open_file(path, "r") as f:
            refuse_foreign_storage(f, path)
            if "xdirection" not in f:
                raise StoreError(f"{path} is not a direction file: it has no xdirection group")
            groups = [_group(f, g, path) if g in f else None for g in _GROUPS]
            meta = f.get("lossviz")
            if isinstance(meta, h5py.Group):
                stored_type = read_text(meta, "dir_type", path, dir_type)
                if stored_type != dir_type:
                    raise InputError(
                        f"direction file {path} holds {stored_type} directions; "
                        f"choose dir_type {stored_type}"
                    )
                stored = json.loads(read_text(meta, "info", path, "{}"))
                if not isinstance(stored, dict):
                    raise StoreError(f"direction file {path}: lossviz/info is not a JSON object")
                if "trajectory" in meta:
                    traj = read_trajectory(meta["trajectory"], path)
            elif "explained_variance_ratio_" in f:  # a reference PCA file
                stored["explained_variance"] = [
                    float(v) for v in read_array(f["explained_variance_ratio_"], path, 64)
                ]
            x = _check_fits(groups[0], model, dir_type, "xdirection", path)
            y = None if groups[1] is None else _check_fits(groups[1], model, dir_type,
                                                           "ydirection", path)
    except LossVizError:
        raise
    except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise StoreError(f"cannot read direction file {path}: {exc}") from None
    info = {**stored, "method": "file", "file": str(path), "source_method": stored.get("method")}
    return Directions(x, y, dir_type, names_of(model, dir_type), info, traj).fill_info()
