"""HDF5 files: opened, made and read so that nothing from elsewhere can hurt.

An HDF5 file can make the library open other files (external links), read a dataset's
bytes from any file on disk (external storage, e.g. ``/etc/hostname``), or stitch datasets
out of other files (virtual datasets). A result or direction file that does any of this is
refused with one line before any of its data is read. A crafted file can also loop (a hard
link from a group to its parent: the walk keeps the objects it has seen) or declare arrays
far larger than itself (a few KiB of compressed zeros that read as gigabytes): every array
is read through :func:`read_array`, which checks the declared size first.

:func:`open_file` is how LossViz opens a result file (without HDF5's file lock, also when
this process holds the file open already); :func:`write_hdf5` how it makes a new one.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from typing import Any

import h5py
import numpy as np

from lossviz_core.errors import StoreError
from lossviz_core.limits import MAX_CHECKPOINTS, MAX_POINTS
from lossviz_core.results.result import Trajectory

#: declared bytes an array may hold beyond the file's own size (compression of real
#: values never gains this much; a crafted file of zeros does)
EXPANSION = 100


def write_hdf5(path: str | os.PathLike, fill: Callable[[h5py.File], None]) -> None:
    """Make a new HDF5 file at ``path``: ``fill(f)`` builds it in memory, then its bytes are
    written with one plain write. A full disk is then an ``OSError`` like any other write
    (HDF5 that cannot flush a file it builds on disk cannot close it either: h5py printed
    tracebacks from its finalizers and the process crashed at exit)."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        fill(f)
    view = buf.getbuffer()
    try:
        with open(path, "xb") as fh:
            fh.write(view)
    finally:
        view.release()


@contextlib.contextmanager
def open_file(path: str | os.PathLike, mode: str) -> Iterator[h5py.File]:
    """A handle on ``path`` to read (``"r"``) or for the writer (``"r+"``), never HDF5's file
    lock: readers never stop the writer (one writer at a time is ``OutputLock``'s job).

    This process may hold the file open already (a notebook's ``h5py.File(out, "r")`` beside
    ``job.iter(out=...)``): HDF5 keeps one handle per file and process and refuses another
    with other flags ("already open for read-only", "file locking flag values don't
    match"), so the file is then opened through a Python file object of ours, which HDF5
    does not take for the same file."""
    fh = None
    try:
        try:
            f = _handle(path, mode)
        except OSError as exc:
            if not any(t in str(exc) for t in HELD_HERE):
                raise
            fh = open(path, "r+b" if mode == "r+" else "rb")  # noqa: SIM115 - closed below
            f = _handle(path, mode, fh)
    except FileNotFoundError:
        raise StoreError(f"no such file: {path}") from None
    except OSError as exc:
        if fh is not None:
            fh.close()
        text = str(exc).splitlines()[0] if str(exc) else ""
        if "No space left" in text or getattr(exc, "errno", None) == 28:
            raise StoreError(f"cannot write {path}: the disk is full") from None
        raise StoreError(f"cannot open {path} as an HDF5 file ({exc.__class__.__name__}: "
                         f"{text})") from None
    try:
        with f:
            yield f
    finally:
        if fh is not None:
            fh.close()


HELD_HERE = ("already open", "file locking flag values don't match")


def _handle(path: str | os.PathLike, mode: str, fh: Any = None) -> h5py.File:
    """No HDF5 file lock; the writer also without a sieve buffer, which would rewrite 64 KiB
    around every scattered cell of a chunk. ``fh``: go through this file object instead."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_file_locking(False, True)
    if mode == "r+":
        fapl.set_fclose_degree(h5py.h5f.CLOSE_STRONG)
        fapl.set_sieve_buf_size(0)
    name = os.fsencode(path)
    if fh is not None:
        fapl.set_fileobj_driver(h5py.h5fd.fileobj_driver, fh)
        name = repr(fh).encode("ascii", "replace")
    flags = h5py.h5f.ACC_RDWR if mode == "r+" else h5py.h5f.ACC_RDONLY
    return h5py.File(h5py.h5f.open(name, flags, fapl=fapl))


def refuse_foreign_storage(f: h5py.File, path: str | os.PathLike) -> None:
    """StoreError if ``f`` holds an external link, external storage or a virtual dataset."""
    todo = [f]
    seen = {f.id}  # an object reached twice (hard links, a cycle) is checked once
    while todo:
        group = todo.pop()
        for name in group:
            link = group.get(name, getlink=True)
            where = f"{group.name.rstrip('/')}/{name}"
            if isinstance(link, h5py.ExternalLink):
                raise StoreError(f"{path}: {where} is a link to another file "
                                 f"({link.filename}); refusing to follow it")
            if isinstance(link, h5py.SoftLink):
                continue  # a name for something inside this file, checked where it lives
            obj = group[name]
            if obj.id in seen:
                continue
            seen.add(obj.id)
            if isinstance(obj, h5py.Group):
                todo.append(obj)
            elif isinstance(obj, h5py.Dataset):
                if obj.external:
                    raise StoreError(f"{path}: {where} keeps its data in another file "
                                     f"({obj.external[0][0]}); refusing to read it")
                if obj.is_virtual:
                    raise StoreError(f"{path}: {where} is a virtual dataset made of other "
                                     "files; refusing to read it")


def read_array(ds: object, path: str | os.PathLike, max_values: int = MAX_POINTS,
               dtype: type | None = float) -> np.ndarray:
    """The values of dataset ``ds``, once its declared shape and size are plausible: a
    number type (not complex, not text), at most ``max_values`` values, and not many times
    more bytes than the whole file holds."""
    if not isinstance(ds, h5py.Dataset):
        raise StoreError(f"{path}: {getattr(ds, 'name', ds)} is not an array")
    kind = ds.dtype.kind
    if kind not in "fiub":
        what = "complex numbers" if kind == "c" else f"{ds.dtype} values"
        raise StoreError(f"{path}: {ds.name} holds {what}, not real numbers")
    if ds.size > max_values:
        raise StoreError(f"{path}: {ds.name} declares {ds.size:.3g} values (shape "
                         f"{'x'.join(map(str, ds.shape))}); at most {max_values:.3g} are read")
    declared = ds.size * ds.dtype.itemsize
    if declared > 2**20 and declared > EXPANSION * _file_size(ds.file):
        raise StoreError(f"{path}: {ds.name} declares {declared / 2**20:.0f} MiB of values in "
                         f"a file of {_file_size(ds.file) / 2**10:.0f} KiB; refusing to read it")
    a = ds[()]
    return np.asarray(a, dtype=dtype) if dtype is not None else np.asarray(a)


def read_text(obj: h5py.Group | h5py.Dataset, key: str, path: str | os.PathLike,
              default: str) -> str:
    """Attribute ``key`` of ``obj`` as text (``default`` when absent). (An attribute is
    stored uncompressed, so it is never larger than the file.)"""
    if key not in obj.attrs:
        return default
    value = obj.attrs[key]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise StoreError(f"{path}: the attribute {obj.name.rstrip('/')}/{key} is not text")
    return value


def read_trajectory(t: object, path: str | os.PathLike) -> Trajectory:
    """A stored trajectory (``lossviz/trajectory``), its arrays' sizes and lengths checked."""
    if not isinstance(t, h5py.Group):
        raise StoreError(f"{path}: {getattr(t, 'name', 'the trajectory')} is not a group")
    arrays = {k: _read_names(t[k], path) if k in TEXT_ARRAYS else
              read_array(t[k], path, MAX_CHECKPOINTS + 2, dtype=None) for k in t}
    try:
        traj = Trajectory.from_arrays(arrays)
        sizes = {len(traj.epochs), len(traj.x), len(traj.y), len(traj.loss)}
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise StoreError(f"{path}: the stored trajectory is malformed ({exc})") from None
    if len(sizes) != 1:
        raise StoreError(f"{path}: the stored trajectory's arrays differ in length")
    return traj


# a trajectory's arrays of names: the models on a plane (A, B, C), the runs of a joint PCA plane
TEXT_ARRAYS = ("labels", "runs", "unit")
MAX_NAME_BYTES = 4096


def _read_names(ds: object, path: str | os.PathLike) -> np.ndarray:
    """An array of short byte strings (names), its count and item size checked first."""
    if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "SO" or ds.ndim != 1:
        raise StoreError(f"{path}: {getattr(ds, 'name', ds)} is not a list of names")
    if ds.shape[0] > MAX_CHECKPOINTS + 2 or (ds.dtype.kind == "S"
                                              and ds.dtype.itemsize > MAX_NAME_BYTES):
        raise StoreError(f"{path}: {ds.name} holds more names, or longer, than any result's")
    try:
        names = ds[()]
    except (OSError, ValueError, TypeError) as exc:
        raise StoreError(f"{path}: cannot read {ds.name} ({exc})") from None
    if any(len(n) > MAX_NAME_BYTES for n in names):
        raise StoreError(f"{path}: {ds.name} holds a name longer than any result's")
    return names


def _file_size(f: h5py.File) -> int:
    try:
        return int(f.id.get_filesize())
    except Exception:  # noqa: BLE001 - a driver that cannot say: no expansion limit
        return 2**62
