"""The surface file: HDF5 readable by the reference's plotting scripts, resumable, shareable.

Layout (design: Files)::

    xcoordinates (nx,)   ycoordinates (ny,)  [absent for a line]
    train_loss, train_acc, test_loss, test_acc, ...   (ny, nx) or (nx,), NaN where not computed
    lossviz/             attrs: specs (JSON: the recipe and how it ran), plans (JSON),
                         version, created, updated
    lossviz/done         (ny, nx) or (nx,) uint8
    lossviz/plan         (ny, nx) or (nx,) uint8: which of ``plans`` computed each point
    lossviz/trajectory/  epochs, x, y, off_plane, loss, explained_variance [, x_lstsq, y_lstsq,
                         run, runs (several runs), labels (A, B, C), unit (b"step" for a
                         tracker's steps; none: epochs): byte strings]

Every array is allocated whole when the file is made; a chunk of finished points then
writes exactly its own cells (an HDF5 point selection) and no metadata, so a chunk costs
the same on a 101 × 101 grid as on a 2001 × 2001 one, the file never grows, and a full disk
cannot stop a resume. The writer opens the file without HDF5's file lock, once per chunk,
so a reader holding the file open (a notebook, the window watching it fill in, a script
polling it) can never make it fail; one writer at a time is guaranteed by
:class:`~lossviz_core.results.paths.OutputLock` instead. Values are written before the done
mask and :func:`read_result` reads the mask first, so a reader never sees a point as done
without its value.

The reference writes its grids as arrays declared (nx, ny) but filled in the flat order
of ``numpy.meshgrid(x, y)``, i.e. index ``j * nx + i``, and marks missing points with -1.
Reading any file therefore reshapes the flat data to (ny, nx), which is exact for both,
and writing into one uses each array's own shape for the same flat index.
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
from lossviz_core.limits import MAX_POINTS
from lossviz_core.results.hdf5 import (
    open_file,
    read_array,
    read_text,
    read_trajectory,
    refuse_foreign_storage,
    write_hdf5,
)
from lossviz_core.results.paths import (
    OutputLock,
    check_input,
    check_output,
    clean_stale_temporaries,
    partial_path,
)
from lossviz_core.results.quantities import main_quantity, registered
from lossviz_core.results.result import SurfaceResult, Trajectory

GROUP = "lossviz"
COORDINATES = ("xcoordinates", "ycoordinates")
READ_RETRIES = 5


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


STAMP_BYTES = 32


def _stamp() -> np.bytes_:
    """A timestamp of fixed width: rewriting it later changes bytes in place, never the
    file's layout (a variable-length string would take new space, a full disk refuses it)."""
    return np.bytes_(_now().encode().ljust(STAMP_BYTES)[:STAMP_BYTES])


def _write_all(f: h5py.File, result: SurfaceResult, plans: list[dict] | None = None) -> None:
    f["xcoordinates"] = result.x
    if result.y is not None:
        f["ycoordinates"] = result.y
    for q in result.quantities:
        f[q] = result.values[q]
    g = f.create_group(GROUP)
    g.attrs["specs"] = json.dumps(result.specs)
    g.attrs["plans"] = json.dumps(plans or [])
    g.attrs["version"] = __version__
    g.attrs["created"] = _now()
    g.attrs["updated"] = _stamp()
    g["done"] = result.done.astype(np.uint8)
    g["plan"] = np.zeros(result.shape, dtype=np.uint8)
    if result.trajectory is not None:
        _write_trajectory(g, result.trajectory)


def _write_trajectory(g: h5py.Group, traj: Trajectory) -> None:
    if "trajectory" in g:
        del g["trajectory"]
    t = g.create_group("trajectory")
    for k, v in traj.to_arrays().items():
        t[k] = v


def save_result(result: SurfaceResult, path: str | os.PathLike) -> Path:
    """Write a whole result atomically (temporary file, then rename): *Save as*."""
    path = check_output(path, "result file", may_exist=True)
    with atomic_path(path, "result file") as tmp:
        write_hdf5(tmp, lambda f: _write_all(f, result))
    result.path = str(path)
    return path


def read_result(path: str | os.PathLike) -> SurfaceResult:
    """Read a surface or line file, ours or the reference implementation's.

    Never locks the file (a running job may be writing it); a read that overlaps a write
    of the file's metadata is retried."""
    path = check_input(path, "result file")
    for attempt in range(READ_RETRIES):
        try:
            return _read(path)
        except StoreError:
            raise
        except (OSError, KeyError, RuntimeError) as exc:  # a write in progress: try again
            if attempt == READ_RETRIES - 1:
                raise StoreError(f"cannot read {path}: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _read(path: Path) -> SurfaceResult:
    with open_file(path, "r") as f:
        refuse_foreign_storage(f, path)
        if "xcoordinates" not in f:
            raise StoreError(f"{path} is not a loss-surface file: it has no 'xcoordinates'")
        x = read_array(f["xcoordinates"], path).reshape(-1)
        y = read_array(f["ycoordinates"], path).reshape(-1) if "ycoordinates" in f else None
        shape = (len(x),) if y is None else (len(y), len(x))
        n = int(np.prod(shape))
        if n > MAX_POINTS:  # each axis alone may pass; their grid must too
            raise StoreError(f"{path}: its coordinates make a {'x'.join(map(str, shape))} "
                             f"grid, over the {MAX_POINTS:.0e} points LossViz reads")
        g = f.get(GROUP)
        ours = isinstance(g, h5py.Group)
        done = None
        if ours and "done" in g:  # the mask first: values are written before it
            done = _grid_array(g["done"], path, shape, dtype=bool)
        values: dict[str, np.ndarray] = {}
        known = {k.name for k in registered()}
        for q in f:
            ds = f[q]
            if q in COORDINATES or not isinstance(ds, h5py.Dataset):
                continue
            if (ds.dtype.kind not in "fiub" or ds.size != n) and q not in known:
                continue  # not a grid quantity (text, a scalar, someone else's array)
            a = _grid_array(ds, path, shape)  # a quantity's name: numbers, one per point
            if not ours:
                a[a == -1] = np.nan  # the reference's "not computed" sentinel
            values[q] = a
        if not values:
            raise StoreError(f"{path} holds no loss or accuracy arrays")
        specs: dict[str, Any] = {}
        trajectory = None
        if ours:
            specs = _specs(g, path)
            if "trajectory" in g:
                trajectory = read_trajectory(g["trajectory"], path)
        if done is None:  # the reference marks points not computed with -1 (now NaN)
            done = np.isfinite(values[main_quantity(values)])
        for a in values.values():
            a[~done] = np.nan  # what is not done is not a value, whatever the file holds
    return SurfaceResult(x=x, y=y, values=values, done=done, specs=specs,
                         trajectory=trajectory, path=str(path))


def _grid_array(ds: h5py.Dataset, path: Path, shape: tuple[int, ...],
                dtype: type = float) -> np.ndarray:
    """A quantity or mask, its size checked against the grid before it is read."""
    n = int(np.prod(shape))
    if isinstance(ds, h5py.Dataset) and ds.size != n:
        raise StoreError(f"{path}: '{ds.name.lstrip('/')}' holds {ds.size} values but the "
                         f"coordinates make a {'x'.join(map(str, shape))} grid")
    return read_array(ds, path, n, dtype=dtype).reshape(shape)


def _specs(g: h5py.Group, path: Path) -> dict[str, Any]:
    try:
        specs = json.loads(read_text(g, "specs", path, "{}"))
    except ValueError:
        raise StoreError(f"{path}: the stored specs are not valid JSON") from None
    if not isinstance(specs, dict):
        raise StoreError(f"{path}: the stored specs are a JSON {type(specs).__name__}, not "
                         "an object (was the file written by LossViz?)")
    return specs


def read_decisions(path: str | os.PathLike) -> list[dict]:
    """How the points of a file were computed (the evaluator's decisions, oldest first);
    anything but a list of JSON objects counts as none."""
    path = check_input(path, "result file")
    with open_file(path, "r") as f:
        g = f.get(GROUP)
        if not isinstance(g, h5py.Group):
            return []
        try:
            plans = json.loads(read_text(g, "plans", path, "[]"))
        except (ValueError, StoreError):
            return []
    if not isinstance(plans, list) or not all(isinstance(p, dict) for p in plans):
        return []
    return plans


class SurfaceStore:
    """Writes chunks of finished points into a surface file as they arrive.

    The file is opened for each chunk and closed again, so a crash loses at most the chunk
    being written and the file is always readable. ``written``: points the file holds.
    With ``overwrite`` the new result goes to ``NAME.partial.h5`` and replaces the old file
    only when it is complete (:meth:`finish`); an interrupted run leaves the old file as it
    was and the new points in the partial file.
    """

    def __init__(self, path: Path, target: Path, lock: OutputLock, written: int) -> None:
        self.path, self.target, self.lock, self.written = path, target, lock, written
        self.decision_log: list[dict] = []

    @classmethod
    def open(cls, path: str | os.PathLike, result: SurfaceResult, resume: bool = False,
             overwrite: bool = False, lock: OutputLock | None = None,
             decisions: list[dict] | None = None) -> SurfaceStore:
        """Create ``path`` for ``result``, or with ``resume`` load its finished points into it.

        An existing file is never replaced unless ``overwrite`` (and then only once the new
        one is complete); resuming a file made for another grid, model, dataset, direction or
        precision raises :class:`StoreError`. ``lock``: an :class:`OutputLock` the caller
        took already (before a long preparation); else it is taken here.
        """
        target = check_output(path, "result file", may_exist=True)
        lock = lock or OutputLock.acquire(target)
        try:
            clean_stale_temporaries(target)
            exists = target.exists()
            if exists and resume:
                store = cls._resume(target, result, lock)
            elif exists and not overwrite:
                raise StoreError(f"{target} already exists: pass --resume to continue it, or "
                                 "--overwrite to replace it once the new one is complete")
            else:
                work = partial_path(target) if exists else target
                if exists:
                    check_output(work, "result file", may_exist=True)
                    clean_stale_temporaries(work)
                with atomic_path(work, "result file", exclusive=not exists) as tmp:
                    write_hdf5(tmp, lambda f: _write_all(f, result, decisions))
                store = cls(work, target, lock, int(result.done.sum()))
        except BaseException:
            lock.release()
            raise
        store.decision_log = list(decisions or [])
        result.path = str(store.path)
        return store

    @classmethod
    def _resume(cls, path: Path, result: SurfaceResult, lock: OutputLock) -> SurfaceStore:
        old = read_result(path)
        _check_compatible(path, old, result)
        missing = [q for q in result.quantities if q not in old.values]
        with open_file(path, "r+") as f:
            if GROUP not in f:  # a reference file: give it our group, its done mask and plan
                g = f.create_group(GROUP)
                g.attrs["specs"] = json.dumps(result.specs)
                g.attrs["plans"] = "[]"
                g.attrs["version"] = __version__
                g.attrs["created"] = _now()
                g.attrs["updated"] = _now()
                g["done"] = old.done.astype(np.uint8)
                g["plan"] = np.zeros(old.shape, dtype=np.uint8)
                for q, a in old.values.items():  # -1 sentinels become NaN, as read
                    f[q][...] = a.reshape(f[q].shape)
            if missing:  # a quantity deleted from the file: every point needs it again
                for q in missing:
                    f[q] = np.full(old.shape, np.nan)
                f[GROUP]["done"][...] = 0
                old.done[:] = False
            if "plan" not in f[GROUP]:
                f[GROUP]["plan"] = np.zeros(old.shape, dtype=np.uint8)
        for q in result.quantities:
            if q in old.values:
                result.values[q][old.done] = old.values[q][old.done]
        result.done[:] = old.done
        if old.trajectory is not None and result.trajectory is not None:
            result.trajectory.loss = old.trajectory.loss
        return cls(path, path, lock, int(old.done.sum()))

    def set_decisions(self, plans: list[dict]) -> None:
        """Record how points are computed (the evaluator's decisions); ids index this list."""
        if plans == self.decision_log:
            return
        with open_file(self.path, "r+") as f:
            f[GROUP].attrs["plans"] = json.dumps(plans)
        self.decision_log = list(plans)

    def add_quantities(self, names: list[str], shape: tuple[int, ...]) -> None:
        """Give the file arrays (NaN) for quantities it does not hold yet."""
        with open_file(self.path, "r+") as f:
            for q in names:
                if q not in f:
                    f[q] = np.full(shape, np.nan)

    def write_chunk(self, indices: np.ndarray, values: dict[str, np.ndarray],
                    plan: int = 0) -> None:
        """Store finished points (flat C-order indices into the grid) and flush."""
        order = np.argsort(indices)
        idx = np.asarray(indices, dtype=np.int64)[order]
        try:
            with open_file(self.path, "r+") as f:
                for q, v in values.items():
                    if q in f:
                        _write_cells(f[q], idx, np.asarray(v, dtype=float)[order])
                g = f[GROUP]
                if "plan" in g:
                    _write_cells(g["plan"], idx, np.full(len(idx), plan, dtype=np.uint8))
                _write_cells(g["done"], idx, np.ones(len(idx), dtype=np.uint8))  # last: see above
                f.flush()
        except (OSError, RuntimeError) as exc:  # the disk, not us: the file keeps what it had
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreError(f"cannot write to {self.path} ({text}); it keeps the "
                             f"{self.written} points written so far: free space and --resume"
                             ) from None
        self.written += len(idx)

    def write_trajectory(self, traj: Trajectory) -> None:
        """Store the trajectory's losses: in place where the file holds the same trajectory
        (the file made with it allocated them), so no new space is needed."""
        with open_file(self.path, "r+") as f:
            t = f[GROUP].get("trajectory")
            if isinstance(t, h5py.Group) and "loss" in t and t["loss"].shape == traj.loss.shape:
                t["loss"][...] = np.asarray(traj.loss, dtype=float)
            else:
                _write_trajectory(f[GROUP], traj)

    def finish(self) -> Path:
        """The run is complete: stamp it, put a replacing file in place, release the lock."""
        try:
            with open_file(self.path, "r+") as f:
                attrs = f[GROUP].attrs
                if "updated" in attrs and attrs.get_id("updated").dtype == np.dtype(
                        f"S{STAMP_BYTES}"):  # in place; an older file's keeps its creation's
                    attrs.modify("updated", _stamp())
            if self.path != self.target:
                os.replace(self.path, self.target)
                self.path = self.target
        except OSError as exc:
            raise StoreError(f"cannot finish {self.target}: {exc.strerror or exc}") from None
        finally:
            self.lock.release()
        return self.path

    def close(self) -> None:
        """The run stopped early: the file keeps what was written; release the lock."""
        self.lock.release()


def _write_cells(ds: h5py.Dataset, flat: np.ndarray, v: np.ndarray) -> None:
    """Write ``v`` at flat C-order positions of ``ds`` (its own shape), touching only them."""
    coords = np.stack(np.unravel_index(flat, ds.shape), axis=1).astype(np.uint64)
    space = ds.id.get_space()
    space.select_elements(coords)
    mem = h5py.h5s.create_simple((len(flat),))
    ds.id.write(mem, space, np.ascontiguousarray(v, dtype=ds.dtype))


def _check_compatible(path: Path, old: SurfaceResult, new: SurfaceResult) -> None:
    if old.shape != new.shape or not np.allclose(old.x, new.x) or (
        new.y is not None and (old.y is None or not np.allclose(old.y, new.y))
    ):
        raise StoreError(f"{path} holds a different grid ({'x'.join(map(str, old.shape))}); "
                         "cannot resume it with these ranges")
    a, b = old.recipe, new.recipe
    if a is None or b is None:
        return
    # where data is cached, how many workers decode it, whether it may download: none of
    # these changes a value, so they may differ between the runs of one file
    same_data = {"cache": "auto", "workers": None, "download": False}
    if a.dataset.replace(**same_data) != b.dataset.replace(**same_data):
        raise StoreError(f"{path} was computed with different dataset settings; cannot resume")
    for key in ("model", "directions"):
        if getattr(a, key) != getattr(b, key):
            raise StoreError(f"{path} was computed with different {key} settings; cannot resume")
    for key, what in (("split", "split"), ("name", "loss"), ("label_smoothing", "label smoothing")):
        va, vb = getattr(a.loss, key), getattr(b.loss, key)
        if va != vb:
            raise StoreError(f"{path} was computed with {what}={va}, not {vb}; cannot resume")
    if a.measures != b.measures:
        raise StoreError(f"{path} holds the measures {', '.join(a.measures)}, not "
                         f"{', '.join(b.measures)}; cannot resume")
