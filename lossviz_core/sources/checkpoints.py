"""Reading and writing checkpoints: raw state_dicts, the reference's ``.t7``, safetensors.

Loading always uses ``torch.load(weights_only=True)``: a checkpoint is data, never code.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lossviz_core.errors import CheckpointError

# Wrappers that hold the state_dict inside a checkpoint dict, tried in this order (nested
# ones too: {"model": {"state_dict": ...}}).
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "ema")
# Name prefixes wrappers add: nn.DataParallel / DDP ("module."), torch.compile ("_orig_mod.").
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
MAX_NESTING = 4
# The longest list of names a mismatch message spells out.
MAX_NAMES = 5


def _numpy_safe_globals() -> list[Any]:
    """numpy scalars and arrays in checkpoint metadata (``acc``, ``epoch``): plain data."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar  # numpy >= 2
    except ImportError:
        from numpy.core.multiarray import _reconstruct, scalar

    mod = getattr(np, "dtypes", None)  # numpy >= 1.25
    dtypes = [getattr(mod, n) for n in getattr(mod, "__all__", []) if n.endswith("DType")]
    # Checkpoints pickled under numpy 1.x name the same functions numpy.core.multiarray.*
    old = [(scalar, "numpy.core.multiarray.scalar"),
           (_reconstruct, "numpy.core.multiarray._reconstruct")]
    return [scalar, _reconstruct, np.ndarray, np.dtype, *dtypes, *old]


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # Old checkpoints store numpy scalars as metadata; allow those plain-data types only.
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state_dict and the metadata (``epoch``, ``acc``, ...) stored in a checkpoint file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    from lossviz_core.sources.archives import archive_kind

    kind = archive_kind(str(path))
    if kind is not None:  # torch.load would warn at length, then refuse it
        prefix = "torchscript" if kind == "torchscript" else "export"
        raise CheckpointError(f"{path} is a {kind} archive (a whole model with its weights), "
                              f"not a checkpoint: give it as the model, --model {prefix}:{path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt", device="cpu") as f:
                obj: Any = {k: f.get_tensor(k) for k in f.keys()}
                raw_meta = f.metadata() or {}
            meta = json.loads(raw_meta.get("lossviz", "{}"))
            return _as_state_dict(obj, path), meta
        obj = _torch_load(path)
    except CheckpointError:
        raise
    except Exception as exc:  # torch.load/safetensors raise many types; all mean "unreadable"
        raise CheckpointError(f"cannot read checkpoint {path}: {_reason(exc)}") from None
    state = _as_state_dict(obj, path)
    meta = {}
    if isinstance(obj, Mapping) and not _is_tensor_dict(obj):
        meta = {k: v for k, v in obj.items() if k not in WRAPPER_KEYS}
    return state, meta


def _reason(exc: Exception) -> str:
    """One short line out of torch.load's long weights-only error text."""
    text = str(exc)
    if text.startswith("Weights only load failed"):
        body = text.split("Check the documentation")[0].replace("WeightsUnpickler error:", "\n")
        lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
        detail = lines[-1].split(". Please use")[0] if len(lines) > 1 else "unsupported content"
        return f"not a weights-only PyTorch checkpoint ({detail[:160]})"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:200]


def load_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state_dict in a checkpoint file: a raw state_dict, ``{'state_dict': ...}`` (the
    reference's ``.t7``), ``{'model': ...}``, or ``.safetensors``; ``module.`` is stripped."""
    return load_checkpoint(path)[0]


def _is_tensor_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    )


def _as_state_dict(obj: Any, path: Path | None) -> dict[str, torch.Tensor]:
    """Unwrap a checkpoint object to a plain ``{name: tensor}`` without wrapper prefixes."""
    where = f" {path}" if path is not None else ""
    for _ in range(MAX_NESTING):
        if not isinstance(obj, Mapping) or _is_tensor_dict(obj):
            break
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not _is_tensor_dict(obj) or len(obj) == 0:
        raise CheckpointError(
            f"not a checkpoint{where}: expected a state_dict of tensors "
            f"(raw, or under {', '.join(repr(k) for k in WRAPPER_KEYS)})"
        )
    return strip_prefixes(dict(obj))


def strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove the prefixes DataParallel/DDP and torch.compile put before every name."""
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if state and all(k.startswith(prefix) for k in state):
                state = {k[len(prefix):]: v for k, v in state.items()}
                changed = True
    return state


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_NAMES])
    return shown + (f" and {len(keys) - MAX_NAMES} more" if len(keys) > MAX_NAMES else "")


def load_into(
    model: nn.Module,
    path_or_state: str | os.PathLike | Mapping[str, torch.Tensor],
    source: str | None = None,
) -> None:
    """Load a checkpoint into ``model`` in place; a mismatch raises ``CheckpointError`` naming
    the missing, unexpected and wrongly shaped keys (``source`` names the file in it)."""
    if isinstance(path_or_state, (str, os.PathLike)):
        source = source or str(path_or_state)
        state = load_state_dict(path_or_state)
    else:
        source = source or "the given state"
        state = _as_state_dict(path_or_state, None)
    own = model.state_dict()
    # Checkpoints from PyTorch < 0.4 lack num_batches_tracked; it does not affect evaluation.
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} (checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing: {_names(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected: {_names(unexpected)}")
        if wrong:
            parts.append(f"{len(wrong)} wrongly shaped: {_names(wrong)}")
        raise CheckpointError(
            f"checkpoint {source} does not fit model {type(model).__name__}: " + "; ".join(parts)
        )
    for k in own:
        if k.endswith("num_batches_tracked") and k not in state:
            state[k] = own[k]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {source} does not fit the model: {exc}") from None


def _plain(value: Any) -> Any:
    """Metadata as plain Python, loadable under ``weights_only=True``."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def save_checkpoint(
    model_or_state: nn.Module | Mapping[str, torch.Tensor], path: str | os.PathLike, **meta: Any
) -> Path:
    """Write ``{'state_dict': <cpu state_dict>, **meta}`` to ``path`` atomically (temp file +
    ``os.replace``); a ``.safetensors`` path gets safetensors with ``meta`` as JSON."""
    path = Path(path).expanduser()
    source = (
        model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    )
    state = {k: v.detach().to("cpu") for k, v in source.items()}
    meta = {k: _plain(v) for k, v in meta.items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc}") from None
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import save_file

            # safetensors refuses shared or strided storage: give each tensor its own.
            tensors = {k: v.contiguous().clone() for k, v in state.items()}
            save_file(tensors, tmp, metadata={"lossviz": json.dumps(meta, default=str)})
        else:
            # Saving through a file object names the archive folder "archive/", not after the
            # random temp name, so the same weights always give the same bytes.
            with open(tmp, "wb") as fh:
                torch.save({"state_dict": state, **meta}, fh)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; checkpoints are ordinary files
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(f"cannot write checkpoint {path}: {exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
