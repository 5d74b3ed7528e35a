"""The tensors a direction perturbs: ``parameters()`` (``weights``) or ``state_dict()``
(``states``), with their names, and a checkpoint's entries aligned with them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from lossviz_core.errors import CheckpointError, InputError
from lossviz_core.recipe.spec import DIR_TYPES
from lossviz_core.sources.checkpoints import load_state_dict


def check_dir_type(dir_type: str) -> None:
    """Raise :class:`InputError` unless ``dir_type`` is ``weights`` or ``states``."""
    if dir_type not in DIR_TYPES:
        raise InputError(f"unknown dir_type {dir_type!r}; choose one of {', '.join(DIR_TYPES)}")


def weights_of(model: nn.Module, dir_type: str = "weights") -> list[Tensor]:
    """The tensors a direction perturbs, sharing storage with the model (not copies).

    ``weights``: ``[p.data for p in model.parameters()]`` (BN running statistics kept);
    ``states``: ``list(model.state_dict().values())`` (buffers included).
    """
    check_dir_type(dir_type)
    if dir_type == "weights":
        return [p.data for p in model.parameters()]
    return list(model.state_dict().values())


def names_of(model: nn.Module, dir_type: str = "weights") -> list[str]:
    """The names of :func:`weights_of`'s tensors, in the same order."""
    check_dir_type(dir_type)
    if dir_type == "weights":
        return [n for n, _ in model.named_parameters()]
    return list(model.state_dict().keys())


def is_perturbable(t: Tensor) -> bool:
    """Float tensors move along directions; integer buffers never do."""
    return t.is_floating_point() or t.is_complex()


def with_tied(model: nn.Module, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``state`` with the names it lacks of tensors the model ties to one it has (a language
    model's output embedding, which safetensors files store once, under the input's name)."""
    own = model.state_dict(keep_vars=True)
    by_storage: dict[int, str] = {}
    for k, v in own.items():
        if k in state and v.numel():
            by_storage.setdefault(v.data_ptr(), k)
    out = dict(state)
    for k, v in own.items():
        if k not in out and v.numel() and v.data_ptr() in by_storage:
            out[k] = state[by_storage[v.data_ptr()]]
    return out


def tensors_from_state(model: nn.Module, state: Any, dir_type: str = "weights") -> list[Tensor]:
    """The entries of ``state`` (dict or checkpoint path) aligned with ``weights_of(model)``.

    A missing key or a wrong shape raises :class:`CheckpointError` naming them.
    """
    sd = with_tied(model, state if isinstance(state, Mapping) else load_state_dict(state))
    names, ref = names_of(model, dir_type), weights_of(model, dir_type)
    # integer buffers are never perturbed: a checkpoint may lack them (PyTorch < 0.4)
    sd = {**{n: w for n, w in zip(names, ref, strict=True) if not is_perturbable(w)}, **sd}
    missing = [n for n in names if n not in sd]
    bad = [
        f"{n} {tuple(sd[n].shape)} vs model {tuple(w.shape)}"
        for n, w in zip(names, ref, strict=True)
        if n in sd and tuple(sd[n].shape) != tuple(w.shape)
    ]
    if missing or bad:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
        if bad:
            parts.append(f"wrongly shaped {'; '.join(bad[:3])}" + (" ..." if len(bad) > 3 else ""))
        source = "the given state" if isinstance(state, Mapping) else str(state)
        raise CheckpointError(
            f"checkpoint {source} does not fit model {type(model).__name__}: {'; '.join(parts)}"
        )
    return [
        sd[n].detach().to(device=w.device, dtype=w.dtype) for n, w in zip(names, ref, strict=True)
    ]

