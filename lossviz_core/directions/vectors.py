"""Direction math: normalization, random and target directions, norms and cosines.

Definitions follow Li et al. (NeurIPS 2018) and the reference implementation
(tomgoldstein/loss-landscape, ``net_plotter.py``): a direction is a list of tensors
aligned with :func:`~lossviz_core.directions.weights.weights_of`, so the surface point
(α, β) is ``θ + α·d1 + β·d2`` tensor by tensor. Integer buffers (``num_batches_tracked``)
get zero tensors of their own dtype and are never perturbed. Pure math: no files.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from lossviz_core.directions.weights import (
    is_perturbable,
    names_of,
    tensors_from_state,
    weights_of,
)
from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import IGNORES, NORMS, canonical_ignore


def output_axes(model: nn.Module, dir_type: str = "weights") -> list[int]:
    """The axis of each tensor's output units (its "filters"), aligned with ``weights_of``.

    0 for a convolution's output filters, a Linear's rows (attention projections included)
    and an Embedding's token rows; 1 for the weight of transformers' ``Conv1D`` (GPT-2's
    attention and MLP projections), which stores its matrix as (in, out).
    """
    modules = dict(model.named_modules())
    axes = []
    for name in names_of(model, dir_type):
        owner, _, leaf = name.rpartition(".")
        module = modules.get(owner)
        transposed = type(module).__name__ == "Conv1D" and hasattr(module, "nf")
        axes.append(1 if leaf == "weight" and transposed else 0)
    return axes


def normalize_direction(
    direction: Tensor, weights: Tensor, norm: str = "filter", axis: int = 0
) -> Tensor:
    """Rescale one direction tensor in place against its weights; returns it.

    ``filter``: each slice along ``axis`` (the output units, see :func:`output_axes`) gets
    ‖d_i‖ = ‖θ_i‖; ``layer``: ‖d‖ = ‖θ‖; ``weight``: d ⊙ θ; ``dfilter`` / ``dlayer``: unit
    norm per filter / per tensor; ``none``: unchanged. The 1e-10 guards are the reference's.
    """
    if norm not in NORMS:
        raise InputError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    if axis and norm in ("filter", "dfilter") and direction.dim() > axis:
        normalize_direction(direction.transpose(0, axis), weights.transpose(0, axis), norm)
        return direction
    if norm in ("filter", "dfilter"):
        n = direction.shape[0] if direction.dim() else 1
        scale = 1.0 / (direction.reshape(n, -1).norm(dim=1) + 1e-10)
        if norm == "filter":
            scale = weights.reshape(n, -1).norm(dim=1) * scale
        # one scale per slice along dim 0 (a conv output filter, a Linear row)
        direction.mul_(
            scale.reshape((-1,) + (1,) * (direction.dim() - 1)) if direction.dim() else scale[0]
        )
    elif norm == "layer":
        direction.mul_(weights.norm() / (direction.norm() + 1e-10))
    elif norm == "weight":
        direction.mul_(weights)
    elif norm == "dlayer":
        direction.div_(direction.norm() + 1e-10)
    return direction


def random_direction(
    model: nn.Module,
    dir_type: str = "weights",
    norm: str = "filter",
    ignore: str = "biasbn",
    generator: torch.Generator | None = None,
    chosen: list[bool] | None = None,
) -> list[Tensor]:
    """A Gaussian direction with the shapes of ``weights_of(model, dir_type)``, normalized.

    Drawn on the CPU in float32 from ``generator`` (the global RNG if ``None``) and
    normalized there (per output unit, :func:`output_axes`), then moved to each tensor's
    device and dtype: the same seed gives the same direction on any device. Tensors with
    dim <= 1 (biases and norm layers: BatchNorm, LayerNorm, RMSNorm) are zero with
    ``ignore='biasbn'``, else a copy of θ (reference semantics); integer buffers are zero.
    ``chosen``: one flag per tensor (:class:`~lossviz_core.directions.select.Selection`);
    the others are zero, after drawing, so the chosen entries do not depend on the choice.
    """
    ignore = check_ignore(ignore)
    if norm not in NORMS:
        raise InputError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    weights = weights_of(model, dir_type)
    chosen = [True] * len(weights) if chosen is None else chosen
    out = []
    for w, axis, keep in zip(weights, output_axes(model, dir_type), chosen, strict=True):
        if not is_perturbable(w):
            out.append(torch.zeros_like(w))
            continue
        # every float tensor draws, so d's conv entries do not depend on ``ignore``
        d = torch.randn(w.shape, generator=generator, dtype=torch.float32)
        if not keep or (w.dim() <= 1 and ignore == "biasbn"):
            d = torch.zeros_like(d)
        elif w.dim() <= 1:
            d = w.detach().to("cpu", torch.float32)
        else:
            normalize_direction(d, w.detach().to("cpu", torch.float32), norm, axis)
        out.append(d.to(device=w.device, dtype=w.dtype))
    return out


def check_ignore(ignore: str) -> str:
    """``ignore`` as the recipe stores it (``biasnorm`` reads ``biasbn``); InputError if
    unknown."""
    if ignore not in IGNORES:
        raise InputError(f"unknown ignore {ignore!r}; choose one of {', '.join(IGNORES)}")
    return canonical_ignore(ignore)


def target_direction(
    model: nn.Module, state_b: Any, dir_type: str = "weights", state_a: Any = None,
    chosen: list[bool] | None = None,
) -> list[Tensor]:
    """d = θ_B − θ_A, unnormalized (θ_A: the model's current weights when ``state_a`` is None).

    ``state_a`` / ``state_b``: state dicts or checkpoint paths. Integer buffers get zeros,
    and so do the tensors ``chosen`` leaves out.
    """
    theta_b = tensors_from_state(model, state_b, dir_type)
    if state_a is None:
        theta_a = [w.detach() for w in weights_of(model, dir_type)]
    else:
        theta_a = tensors_from_state(model, state_a, dir_type)
    chosen = [True] * len(theta_a) if chosen is None else chosen
    return [
        b - a if is_perturbable(a) and keep else torch.zeros_like(a)
        for a, b, keep in zip(theta_a, theta_b, chosen, strict=True)
    ]


def _dot(d1: list[Tensor], d2: list[Tensor]) -> float:
    # float64 accumulation: a sum over millions of entries
    return sum(
        float((a.double() * b.to(a.device).double()).sum())
        for a, b in zip(d1, d2, strict=True)
        if is_perturbable(a)
    )


def direction_norm(d: list[Tensor]) -> float:
    """The global Euclidean norm of a direction (all tensors flattened together)."""
    return math.sqrt(_dot(d, d))


def cosine_similarity(d1: list[Tensor], d2: list[Tensor]) -> float:
    """cos(d1, d2) over the flattened lists; NaN when either is zero."""
    if len(d1) != len(d2):
        raise InputError(f"directions have {len(d1)} and {len(d2)} tensors")
    n1, n2 = direction_norm(d1), direction_norm(d2)
    if n1 == 0.0 or n2 == 0.0:
        return float("nan")
    return _dot(d1, d2) / (n1 * n2)

