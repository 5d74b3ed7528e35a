"""θ kept once, outside the process's memory: read back block by block from a file.

A seeded plane (:mod:`.seeded`) must put θ back exactly before it writes the next point,
yet holding a copy of θ would cost the model's size again. So θ of the tensors it moves
is read, a block of rows at a time, from a file: the model's own safetensors checkpoint
when its tensors equal the model's (checked once, entry by entry), else a temporary file
written once (unlinked at once, so nothing is left behind even after a crash; in
``$LOSSVIZ_THETA_DIR`` or the system's temporary folder). The operating system's page
cache keeps the file in memory while memory is free and gives it back when another needs
it: it is not the process's memory.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import threading
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lossviz_core.errors import InputError

_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
           "BF16": torch.bfloat16}
_PREFIXES = ("", "module.", "_orig_mod.")


class ThetaFile:
    """θ of ``tensors`` (aligned with ``names``), read back by rows: :meth:`read`.

    ``checkpoint``: a file the model was loaded from; used when it is a safetensors file
    holding every tensor with the model's dtype, shape and values. ``source`` says which
    was used (``checkpoint FILE`` or ``temporary file``).
    """

    def __init__(self, names: list[str], tensors: list[Tensor],
                 checkpoint: str | os.PathLike | None = None) -> None:
        self.shapes = [tuple(t.shape) for t in tensors]
        self.dtypes = [t.dtype for t in tensors]
        self._lock = threading.Lock()
        offsets = _matching_checkpoint(checkpoint, names, tensors) if checkpoint else None
        if offsets is not None:
            self._file = open(checkpoint, "rb", buffering=0)  # noqa: SIM115 - kept open
            self.offsets, self.source = offsets, f"checkpoint {checkpoint}"
        else:
            self._file, self.offsets = _spill(tensors)
            self.source = "temporary file"
        self._fd = self._file.fileno()

    def row_bytes(self, i: int) -> int:
        shape = self.shapes[i]
        per_row = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        return per_row * self.dtypes[i].itemsize

    def read(self, i: int, r0: int, r1: int, out: Tensor) -> Tensor:
        """Rows ``r0:r1`` of θ's tensor ``i`` (all of it for a 0-dim tensor), read into the
        uint8 buffer ``out``; returns them viewed in the tensor's dtype and shape."""
        shape = self.shapes[i]
        size = self.row_bytes(i) * (r1 - r0)
        view = out[:size]
        _pread(self._fd, view.numpy(), self.offsets[i] + r0 * self.row_bytes(i), self._lock)
        rows = view.view(self.dtypes[i])
        return rows.view(()) if not shape else rows.view((r1 - r0, *shape[1:]))

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown
            pass


def theta_dir() -> str:
    """Where a temporary θ file goes: ``$LOSSVIZ_THETA_DIR`` or the system's temporary folder."""
    return os.environ.get("LOSSVIZ_THETA_DIR") or tempfile.gettempdir()


def _spill(tensors: list[Tensor]):
    """θ written once to an unlinked temporary file: (file, byte offset of each tensor)."""
    folder = theta_dir()
    try:
        f = tempfile.TemporaryFile(dir=folder, prefix="lossviz-theta-")  # noqa: SIM115
        offsets, at = [], 0
        for t in tensors:
            offsets.append(at)
            for piece in _pieces(t):
                f.write(memoryview(piece))
                at += piece.nbytes
        f.flush()
    except OSError as exc:
        raise InputError(f"seeded directions keep θ in a temporary file in {folder}, which "
                         f"failed ({exc.strerror or exc}); set LOSSVIZ_THETA_DIR to a folder "
                         "with room for the model's weights") from None
    return f, offsets


PIECE = 1 << 22  # bytes copied at a time when θ is written or compared


def _pieces(t: Tensor):
    """A tensor's bytes in logical (row-major) order, a few MB at a time, as uint8 arrays
    (never a whole copy: the tensor may live on a GPU or in channels_last)."""
    t = t.detach()
    if t.dim() == 0 or t.shape[0] == 0:
        yield t.reshape(-1).to("cpu").view(torch.uint8).numpy()
        return
    per = max(1, PIECE // max(1, t[0].numel() * t.element_size()))
    for r in range(0, t.shape[0], per):
        yield t[r:r + per].to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy()


def _pread(fd: int, out: np.ndarray, offset: int, lock: threading.Lock) -> None:
    got = 0
    while got < out.nbytes:
        part = memoryview(out)[got:]
        if hasattr(os, "preadv"):
            n = os.preadv(fd, [part], offset + got)
        else:  # no preadv: seek and read under a lock
            with lock:
                os.lseek(fd, offset + got, os.SEEK_SET)
                n = os.readv(fd, [part])
        if n <= 0:
            raise InputError("the θ file ended early: it changed while a plane was reading it")
        got += n


def _matching_checkpoint(path: str | os.PathLike, names: list[str], tensors: list[Tensor]
                         ) -> list[int] | None:
    """Byte offsets of ``tensors`` in a safetensors checkpoint holding exactly them; None
    when ``path`` is not one, or any tensor's dtype, shape or values differ."""
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error):
        return None
    offsets = []
    with open(path, "rb", buffering=0) as f:
        for name, t in zip(names, tensors, strict=True):
            entry = next((header[p + name] for p in _PREFIXES if p + name in header), None)
            if (entry is None or _DTYPES.get(entry.get("dtype")) != t.dtype
                    or tuple(entry.get("shape", ())) != tuple(t.shape)):
                return None
            start, end = entry["data_offsets"]
            at = 8 + n + start
            if end - start != t.numel() * t.element_size():
                return None
            f.seek(at)
            for piece in _pieces(t):
                if f.read(piece.nbytes) != piece.tobytes():
                    return None
            offsets.append(at)
    return offsets
