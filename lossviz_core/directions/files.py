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
from lossviz_core.errors import InputError, StoreError
from lossviz_core.recipe.spec import json_default
from lossviz_core.results.hdf5 import refuse_foreign_storage
from lossviz_core.results.result import Trajectory

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
        with h5py.File(tmp, "w") as f:
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


def _read_group(f: h5py.File, name: str, path: Path) -> list[np.ndarray]:
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
    return [np.asarray(grp[str(i)][()]) for i in range(n)]


def _check_fits(
    arrays: list[np.ndarray], model: nn.Module, dir_type: str, group: str, path: Path
) -> list[Tensor]:
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
    for i, (a, w) in enumerate(zip(arrays, ref, strict=True)):
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
        with h5py.File(path, "r", locking=False) as f:
            refuse_foreign_storage(f, path)
            if "xdirection" not in f:
                raise StoreError(f"{path} is not a direction file: it has no xdirection group")
            groups = [_read_group(f, g, path) if g in f else None for g in _GROUPS]
            meta = f.get("lossviz")
            if isinstance(meta, h5py.Group):
                stored_type = meta.attrs.get("dir_type")
                if stored_type is not None and str(stored_type) != dir_type:
                    raise InputError(
                        f"direction file {path} holds {stored_type} directions; "
                        f"choose dir_type {stored_type}"
                    )
                stored = json.loads(meta.attrs.get("info", "{}"))
                if "trajectory" in meta:
                    tg = meta["trajectory"]
                    traj = Trajectory.from_arrays({k: np.asarray(tg[k][()]) for k in tg})
            elif "explained_variance_ratio_" in f:  # a reference PCA file
                stored["explained_variance"] = [
                    float(v) for v in f["explained_variance_ratio_"][()]
                ]
    except StoreError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise StoreError(f"cannot read direction file {path}: {exc}") from None
    x = _check_fits(groups[0], model, dir_type, "xdirection", path)
    y = None if groups[1] is None else _check_fits(groups[1], model, dir_type, "ydirection", path)
    info = {**stored, "method": "file", "file": str(path), "source_method": stored.get("method")}
    return Directions(x, y, dir_type, names_of(model, dir_type), info, traj).fill_info()
