"""The other models a direction method relates the model to (an interpolation's B, the
three-model plane's B and C, a curve's far end): each a checkpoint or a training run's
final one, read as a state dict of the model's architecture and, on request, aligned to
the model's own θ_A by permuting its hidden units (:mod:`lossviz_core.align`)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from lossviz_core.align import align_state
from lossviz_core.directions.weights import names_of, tensors_from_state
from lossviz_core.errors import InputError
from lossviz_core.runs import checkpoint_in


def own_state(model: nn.Module) -> dict[str, Tensor]:
    """θ_A: a copy of every tensor of the model's state, by name."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def other_state(model: nn.Module, path: Any, what: str = "B", align: bool = False,
                own: dict[str, Tensor] | None = None) -> tuple[dict[str, Tensor], dict]:
    """Model ``what``'s state (``path``: a checkpoint or a run folder), keyed like the model's
    state dict, and what was done to it (``{"checkpoint": ..., "align": {...}}``)."""
    if not path:
        raise InputError(f"choose checkpoint {what} (a file or a run folder)")
    file = checkpoint_in(path)
    names = names_of(model, "states")
    state = dict(zip(names, tensors_from_state(model, str(file), "states"), strict=True))
    info: dict[str, Any] = {"checkpoint": str(file)}
    if align:
        state, done = align_state(model, own if own is not None else own_state(model), state)
        info["align"] = done.to_dict()
    return state, info
