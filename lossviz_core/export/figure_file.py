"""A figure's file: PNG, SVG or PDF written atomically with the specs that made it inside.

The specs (any JSON value: a result's specs and recipe, a compare grid's list of them, a
study's figure) go into the PNG text chunk ``lossviz-specs``, the SVG description and the
PDF subject, so a figure can be traced back to (and recomputed from) what made it.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from lossviz_core.atomic import atomic_path
from lossviz_core.errors import InputError, StoreError

FORMATS = (".png", ".svg", ".pdf")
SPECS_KEY = "lossviz-specs"


def check_format(path: Path) -> str:
    """The figure format of ``path`` ('.png', '.svg', '.pdf'); a one-line error otherwise."""
    fmt = Path(path).suffix.lower()
    if fmt not in FORMATS:
        raise InputError(
            f"cannot save a figure as {Path(path).name!r}: use a .png, .svg or .pdf file name"
        )
    return fmt


def save_figure(
    fig: Figure,
    path: str | os.PathLike,
    specs: dict[str, Any] | list[Any] | None = None,
    dpi: float = 150,
    fmt: str | None = None,
) -> Path:
    """Save ``fig`` with the specs that made it in the file's metadata (PNG text chunk
    ``lossviz-specs``, SVG description, PDF subject), creating parent folders.

    ``specs`` is any JSON-able value: a result's specs, or a list of them (a compare grid).
    """
    path = Path(path)
    fmt = fmt or check_format(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot write figure {path}: {exc.strerror or exc}") from None
    with atomic_path(path, "figure") as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt.lstrip("."), metadata=figure_metadata(specs, fmt))
    return path


def figure_metadata(specs: dict[str, Any] | list[Any] | None, fmt: str) -> dict[str, str]:
    """The metadata dict ``savefig`` takes for format ``fmt`` ('.png', '.svg', '.pdf')."""
    text = json.dumps(specs or {}, sort_keys=True, default=str)  # ASCII: fits a PNG tEXt chunk
    if fmt == ".png":
        return {SPECS_KEY: text, "Software": "LossViz"}
    if fmt == ".svg":
        return {"Description": text, "Title": "LossViz figure"}
    return {"Subject": text, "Title": "LossViz figure", "Creator": "LossViz"}


def read_png_specs(path: str | os.PathLike) -> dict[str, Any] | None:
    """The specs stored in a PNG written by :func:`save_figure` (``None`` if it has none);
    specs that are not JSON are one :class:`InputError` line."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read figure {path}: {exc.strerror or exc}") from None
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise InputError(f"{path} is not a PNG file")
    try:
        return _png_specs(data)
    except (ValueError, zlib.error, struct.error):
        raise InputError(f"{path}: the LossViz specs it carries are not valid JSON") from None


MAX_SPECS_BYTES = 64 * 2**20


def _png_specs(data: bytes) -> Any:
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if ctype == b"tEXt":
            key, _, value = body.partition(b"\0")
            if key.decode("latin-1") == SPECS_KEY:
                return json.loads(value.decode("latin-1"))
        elif ctype == b"zTXt":
            key, _, rest = body.partition(b"\0")
            if key.decode("latin-1") == SPECS_KEY:
                inflate = zlib.decompressobj()
                text = inflate.decompress(rest[1:], MAX_SPECS_BYTES)
                if inflate.unconsumed_tail:  # a few KiB that inflate to gigabytes
                    raise ValueError("specs larger than any figure's")
                return json.loads(text.decode("latin-1"))
        elif ctype == b"IEND":
            break
    return None
