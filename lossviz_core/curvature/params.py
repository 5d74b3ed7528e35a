"""Which tensors a Hessian is taken in: the ones the directions perturb, or every parameter.

``perturbed`` makes the curvature and the surface describe the same space: a direction
with ``ignore=biasbn`` leaves biases and BatchNorm where they are, so the Hessian holds them
fixed too. ``all`` is every float parameter, as PyHessian does.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lossviz_core.directions.weights import names_of, weights_of
from lossviz_core.errors import InputError

PARAM_SETS = ("perturbed", "all")


def perturbed_names(model: nn.Module, dir_type: str = "weights", ignore: str = "biasbn") -> list[str]:
    """The tensors a direction of this kind moves: the float tensors of ``weights_of(model,
    dir_type)``, only those with dim > 1 when ``ignore='biasbn'`` (the paper's default)."""
    return [n for n, w in zip(names_of(model, dir_type), weights_of(model, dir_type), strict=True)
            if w.is_floating_point() and (ignore != "biasbn" or w.dim() > 1)]


def plane_names(plane: Any) -> list[str]:
    """The plane's tensors that d₁ or d₂ moves (entries not all zero)."""
    return [n for n, d1, d2 in zip(plane.names, plane.d1, plane.d2, strict=True)
            if bool(d1.any()) or bool(d2.any())]


def all_names(model: nn.Module) -> list[str]:
    """Every float parameter (PyHessian's choice: biases and BatchNorm included)."""
    return [n for n, p in model.named_parameters() if p.is_floating_point()]


def plane_point(plane: Any, a: float, b: float) -> dict[str, Tensor]:
    """Every float tensor of the state at θ + a·d₁ + b·d₂ (the plane's own copies of θ)."""
    with torch.no_grad():
        return {**plane.theta_by_name, **plane.params(float(a), float(b))}


def aliases(model: nn.Module, var: set[str]) -> set[str]:
    """State names that share storage with a variable (tied weights) but are not one."""
    state = model.state_dict(keep_vars=True)
    ptrs = {state[n].data_ptr() for n in var if n in state}
    return {k for k, v in state.items() if k not in var and v.data_ptr() in ptrs
            and v.is_floating_point() and v.numel()}


def check_params(params: str) -> None:
    """InputError unless ``params`` is ``perturbed`` or ``all``."""
    if params not in PARAM_SETS:
        raise InputError(f"unknown Hessian parameters {params!r}; choose perturbed or all")
