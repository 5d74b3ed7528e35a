"""``torchscript:FILE`` (a ``torch.jit.save`` archive) and ``export:FILE.pt2`` (a
``torch.export.save`` archive): they carry their architecture and weights, so they need
no checkpoint (one may still be loaded into them). A bare path to either is recognized.

Both run code from the archive (``torch.export.load`` may fall back to full unpickling), so
they load only because the user named the file.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from lossviz_core.errors import CheckpointError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import ModelSpec
from lossviz_core.sources.registry import ModelSource

SCRIPT, EXPORT = "torchscript:", "export:"


def _zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (OSError, zipfile.BadZipFile):
        return []


@contextlib.contextmanager
def _quiet(*loggers: str):
    """torch logs failed loads with a traceback of its own; the one-line error says it all."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def archive_kind(name: str) -> str | None:
    """``torchscript`` or ``export`` for a name naming an archive (prefixed or bare), else None."""
    if name.startswith(SCRIPT):
        return "torchscript"
    if name.startswith(EXPORT):
        return "export"
    path = Path(name).expanduser()
    if not path.is_file():
        return None
    if path.suffix == ".pt2":
        return "export"
    if path.suffix in (".jit", ".ts"):  # named as TorchScript: a broken one is said so on load
        return "torchscript"
    entries = _zip_names(path)
    if any(e.split("/", 1)[-1].startswith("code/") for e in entries) and any(
        e.endswith("constants.pkl") for e in entries
    ):
        return "torchscript"
    return None


def archive_path(name: str) -> Path:
    for prefix in (SCRIPT, EXPORT):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return Path(name).expanduser().resolve()


def build(spec: ModelSpec, num_classes: int | None) -> nn.Module:
    kind, path = archive_kind(spec.name), archive_path(spec.name)
    if not path.is_file():
        raise CheckpointError(f"{kind} archive not found: {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"cannot load {path} as a {kind} archive: it is not a zip archive "
                              f"(torch.jit.save and torch.export.save write those)")
    try:
        with _quiet("torch.export", "torch.jit"):
            if kind == "torchscript":
                return torch.jit.load(str(path), map_location="cpu")
            return torch.export.load(str(path)).module()
    except Exception as exc:  # noqa: BLE001 - every unreadable archive becomes one line
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot load {path} as a {kind} archive: {text}") from None


SOURCE = ModelSource(
    name="archive", label="TorchScript / .pt2 archive",
    matches=lambda n: archive_kind(n) is not None, build=build,
    example="torchscript:FILE or export:FILE.pt2",
    name_parts=NameParts((Param("archive", "code", label="Archive",
                                help="a torch.jit.save or torch.export.save archive (it "
                                "carries its weights; its code runs)"),),
                         inner_prefixes=(SCRIPT, EXPORT)),
    user_code=lambda n: str(archive_path(n)) if archive_kind(n) else None,
    carries_weights=lambda spec: True, fixed_classes=lambda spec: True,
)
