"""The surface file: HDF5 readable by the reference's plotting scripts, resumable.

Layout (design: Files)::

    xcoordinates (nx,)   ycoordinates (ny,)  [absent for a line]
    train_loss, train_acc, test_loss, test_acc   (ny, nx) or (nx,), NaN where not computed
    lossviz/             attrs: specs (JSON), version, created, updated
    lossviz/done         (ny, nx) or (nx,) uint8
    lossviz/trajectory/  epochs, x, y, off_plane, loss, explained_variance [, x_lstsq, y_lstsq]

The reference writes its grids as arrays declared (nx, ny) but filled in the flat order
of ``numpy.meshgrid(x, y)``, i.e. index ``j * nx + i``, and marks missing points with -1.
Reading any file therefore reshapes the flat data to (ny, nx), which is exact for both.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lossviz_core import __version__
from lossviz_core.atomic import atomic_path
from lossviz_core.errors import StoreError
from lossviz_core.results.quantities import main_quantity, registered
from lossviz_core.results.result import SurfaceResult, Trajectory

GROUP = "lossviz"
COORDINATES = ("xcoordinates", "ycoordinates")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _open(path: str | os.PathLike, mode: str) -> h5py.File:
    try:
        return h5py.File(path, mode)
    except FileNotFoundError:
        raise StoreError(f"no such file: {path}") from None
    except OSError as exc:
        raise StoreError(f"cannot open {path} as an HDF5 result file ({exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0]})") from None


def _write_all(f: h5py.File, result: SurfaceResult) -> None:
    f["xcoordinates"] = result.x
    if result.y is not None:
        f["ycoordinates"] = result.y
    for q in result.quantities:
        f[q] = result.values[q]
    g = f.create_group(GROUP)
    g.attrs["specs"] = json.dumps(result.specs)
    g.attrs["version"] = __version__
    g.attrs["created"] = _now()
    g.attrs["updated"] = _now()
    g["done"] = result.done.astype(np.uint8)
    if result.trajectory is not None:
        _write_trajectory(g, result.trajectory)


def _write_trajectory(g: h5py.Group, traj: Trajectory) -> None:
    if "trajectory" in g:
        del g["trajectory"]
    t = g.create_group("trajectory")
    for k, v in traj.to_arrays().items():
        t[k] = v


def save_result(result: SurfaceResult, path: str | os.PathLike) -> Path:
    """Write a whole result atomically (temporary file, then rename)."""
    path = Path(path)
    with atomic_path(path, "result file") as tmp, h5py.File(tmp, "w") as f:
        _write_all(f, result)
    result.path = str(path)
    return path


def read_result(path: str | os.PathLike) -> SurfaceResult:
    """Read a surface or line file, ours or the reference implementation's."""
    with _open(path, "r") as f:
        try:
            x = np.asarray(f["xcoordinates"][()], dtype=float).reshape(-1)
        except KeyError:
            raise StoreError(f"{path} is not a loss-surface file: it has no 'xcoordinates'") from None
        y = np.asarray(f["ycoordinates"][()], dtype=float).reshape(-1) if "ycoordinates" in f else None
        shape = (len(x),) if y is None else (len(y), len(x))
        ours = GROUP in f
        values: dict[str, np.ndarray] = {}
        for q in f:
            if q in COORDINATES or not isinstance(f[q], h5py.Dataset):
                continue
            known = q in {k.name for k in registered()}
            if f[q].dtype.kind not in "fiub" or (f[q].size != int(np.prod(shape)) and not known):
                continue  # not a grid quantity (text, a scalar, someone else's array)
            a = np.asarray(f[q][()], dtype=float)
            if a.size != int(np.prod(shape)):
                raise StoreError(
                    f"{path}: '{q}' holds {a.size} values but the coordinates make a "
                    f"{'x'.join(map(str, shape))} grid"
                )
            a = a.reshape(shape)
            if not ours:
                a[a == -1] = np.nan  # the reference's "not computed" sentinel
            values[q] = a
        if not values:
            raise StoreError(f"{path} holds no loss or accuracy arrays")
        specs: dict[str, Any] = {}
        trajectory = None
        if ours:
            g = f[GROUP]
            done = np.asarray(g["done"][()], dtype=bool).reshape(shape) if "done" in g else None
            try:
                specs = json.loads(g.attrs.get("specs", "{}"))
            except ValueError:
                raise StoreError(f"{path}: the stored specs are not valid JSON") from None
            if "trajectory" in g:
                t = g["trajectory"]
                trajectory = Trajectory.from_arrays({k: t[k][()] for k in t})
        else:
            done = None
        if done is None:  # the reference marks points not computed with -1 (now NaN)
            done = np.isfinite(values[main_quantity(values)])
    result = SurfaceResult(x=x, y=y, values=values, done=done, specs=specs,
                           trajectory=trajectory, path=str(path))
    return result


class SurfaceStore:
    """Writes chunks of finished points into a surface file as they arrive.

    The file is opened for each chunk and closed again, so a crash or Ctrl-C loses at
    most the chunk being written, and the file is always readable.
    """

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike, result: SurfaceResult, resume: bool = False,
             overwrite: bool = False) -> SurfaceStore:
        """Create ``path`` for ``result``, or with ``resume`` load its finished points into it.

        An existing file is never overwritten unless ``overwrite``; resuming a file made for
        another grid, model, dataset or direction raises :class:`StoreError`.
        """
        path = Path(path)
        if path.exists() and resume:
            old = read_result(path)
            _check_compatible(path, old, result)
            for q in result.quantities:
                if q in old.values:
                    result.values[q][old.done] = old.values[q][old.done]
            result.done[:] = old.done
            if old.trajectory is not None and result.trajectory is not None:
                result.trajectory.loss = old.trajectory.loss
        elif path.exists() and not overwrite:
            raise StoreError(f"{path} already exists: pass --resume to continue it, or choose "
                             "another output file")
        else:
            if not path.parent.exists():
                raise StoreError(f"folder {path.parent} does not exist")
            save_result(result, path)
        result.path = str(path)
        return cls(path)

    def write_chunk(self, indices: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Store finished points (flat C-order indices into the grid) and flush."""
        order = np.argsort(indices)
        idx = np.asarray(indices)[order]
        with _open(self.path, "r+") as f:
            shape = f[GROUP]["done"].shape
            multi = np.unravel_index(idx, shape)
            # h5py fancy indexing wants increasing indices along one axis: write per row.
            for q, v in values.items():
                if q in f:
                    _scatter(f[q], multi, np.asarray(v, dtype=float)[order], shape)
            _scatter(f[GROUP]["done"], multi, np.ones(len(idx), dtype=np.uint8), shape)
            f[GROUP].attrs["updated"] = _now()
            f.flush()

    def write_trajectory(self, traj: Trajectory) -> None:
        with _open(self.path, "r+") as f:
            _write_trajectory(f[GROUP], traj)


def _scatter(ds: h5py.Dataset, multi: tuple[np.ndarray, ...], v: np.ndarray, shape) -> None:
    # Read-modify-write of the whole grid: grids are small (≤ a few 10^5 points) and this
    # keeps one code path for scattered coarse-to-fine indices.
    a = ds[()]
    a[multi] = v
    ds[...] = a


def _check_compatible(path: Path, old: SurfaceResult, new: SurfaceResult) -> None:
    if old.shape != new.shape or not np.allclose(old.x, new.x) or (
        new.y is not None and (old.y is None or not np.allclose(old.y, new.y))
    ):
        raise StoreError(f"{path} holds a different grid ({'x'.join(map(str, old.shape))}); "
                         "cannot resume it with these ranges")
    a, b = old.recipe, new.recipe
    if a is None or b is None:
        return
    for key in ("model", "dataset", "directions"):
        if getattr(a, key) != getattr(b, key):
            raise StoreError(f"{path} was computed with different {key} settings; cannot resume")
    for key, what in (("split", "split"), ("name", "loss")):
        va, vb = getattr(a.loss, key), getattr(b.loss, key)
        if va != vb:
            raise StoreError(f"{path} was computed with {what}={va}, not {vb}; cannot resume")
    if a.measures != b.measures:
        raise StoreError(f"{path} holds the measures {', '.join(a.measures)}, not "
                         f"{', '.join(b.measures)}; cannot resume")
