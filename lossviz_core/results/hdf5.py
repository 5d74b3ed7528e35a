"""HDF5 files from elsewhere are data, never pointers: refuse external links and storage.

An HDF5 file can make the library open other files (external links), read a dataset's
bytes from any file on disk (external storage, e.g. ``/etc/hostname``), or stitch datasets
out of other files (virtual datasets). A result or direction file that does any of this is
refused with one line before any of its data is read.
"""

from __future__ import annotations

import os

import h5py

from lossviz_core.errors import StoreError


def refuse_foreign_storage(f: h5py.File, path: str | os.PathLike) -> None:
    """StoreError if ``f`` holds an external link, external storage or a virtual dataset."""
    todo = [f]
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
            if isinstance(obj, h5py.Group):
                todo.append(obj)
            elif isinstance(obj, h5py.Dataset):
                if obj.external:
                    raise StoreError(f"{path}: {where} keeps its data in another file "
                                     f"({obj.external[0][0]}); refusing to read it")
                if obj.is_virtual:
                    raise StoreError(f"{path}: {where} is a virtual dataset made of other "
                                     "files; refusing to read it")
