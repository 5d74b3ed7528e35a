"""The plane with stored directions: θ, d₁ and d₂ held as tensors beside the model.

A :class:`Plane` holds θ (a copy of the model's tensors the directions perturb), d₁ and d₂
aligned with them, and the model's own tensors. ``write(α, β)`` puts θ + α·d₁ + β·d₂ into
the model in place (one ``torch._foreach_*`` pass on the device), ``restore()`` puts θ
back exactly, and ``params(α, β)`` gives the same point functionally, as named tensors for
``torch.func.functional_call`` (differentiable, for Hessian work). ``stacked(a, b)`` gives
K points at once (leading dimension K) for ``torch.func.vmap``.

BatchNorm folding (:mod:`lossviz_core.evaluation.bnfold`) is an optimization wrapped
around a plane; the plane itself knows nothing of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lossviz_core.directions.weights import names_of, weights_of
from lossviz_core.errors import InputError


def write_point(live: Sequence[Tensor], theta: Sequence[Tensor], d1: Sequence[Tensor],
                d2: Sequence[Tensor], a: float, b: float) -> None:
    """``live`` = θ + a·d₁ + b·d₂, in place, element by element in that order (θ, then
    + a·d₁, then + b·d₂): the one arithmetic every stored point is written with, so a folded
    view and a resumed grid give the same bits."""
    torch._foreach_copy_(live, theta)
    if a != 0.0:
        torch._foreach_add_(live, d1, alpha=a)
    if b != 0.0:
        torch._foreach_add_(live, d2, alpha=b)


class Plane:
    """θ + α·d₁ + β·d₂ on ``model``'s tensors (``directions``: ``x``, ``y``|None, ``dir_type``).

    ``names`` / ``live`` / ``theta`` / ``d1`` / ``d2``: the float tensors one point writes
    (integer buffers are never perturbed); ``d2`` is zeros for a line. ``state_*``: every
    float tensor of the model's state, restored after each use.
    """

    pairs: tuple = ()  # no BatchNorm folded here (see bnfold.FoldedPlane)
    stackable = True  # K points at once (stacked) for multi-point evaluation
    foldable = True  # BatchNorm may be folded around it
    refold = False
    linear = True  # a point is θ + α·d₁ + β·d₂ and nothing more (connect.path: not so)
    generation = 0  # bumped by reattach(): views built on older tensors know they are stale

    def __init__(self, model: nn.Module, directions: Any) -> None:
        check_directions(model, directions)
        self.directions = directions
        self.model = model
        self.dir_type = getattr(directions, "dir_type", "weights")
        self.two_d = directions.y is not None
        state = model.state_dict()
        # every float tensor of the state: restored after each call, loaded by load_state;
        # a tied tensor under its first name only (checkpoints often store it once)
        self.state_names = first_names(state)
        self.state_live = [state[k] for k in self.state_names]
        self.state_theta = [t.clone() for t in self.state_live]
        theta_by_name = dict(zip(self.state_names, self.state_theta, strict=True))
        names, weights = names_of(model, self.dir_type), weights_of(model, self.dir_type)
        keep, seen = [], set()
        for i, w in enumerate(weights):  # a tied tensor appears under two names: move it once
            if w.is_floating_point() and w.data_ptr() not in seen:
                keep.append(i)
                seen.add(w.data_ptr())
        self.names = [names[i] for i in keep]
        self.live = [weights[i] for i in keep]
        self.d1 = [_like(weights[i], directions.x[i]) for i in keep]
        self.d2 = (
            [_like(weights[i], directions.y[i]) for i in keep]
            if directions.y is not None
            else [torch.zeros_like(weights[i]) for i in keep]
        )
        self.theta = [
            theta_by_name[n] if n in theta_by_name else t.clone()
            for n, t in zip(self.names, self.live, strict=True)
        ]

    @property
    def module(self) -> nn.Module:
        """The module that evaluates a point written by :meth:`write`."""
        return self.model

    @property
    def theta_by_name(self) -> dict[str, Tensor]:
        return dict(zip(self.state_names, self.state_theta, strict=True))

    # ---- in place ------------------------------------------------------------------------
    @torch.no_grad()
    def write(self, a: float, b: float = 0.0) -> None:
        """Write θ + a·d₁ + b·d₂ into the model's tensors (in place, on their device)."""
        write_point(self.live, self.theta, self.d1, self.d2, a, b)

    @torch.no_grad()
    def restore(self) -> None:
        """Put θ back into the model exactly."""
        torch._foreach_copy_(self.state_live, self.state_theta)

    @torch.no_grad()
    def load_state(self, state: Mapping[str, Tensor]) -> None:
        """Write an arbitrary state (a trajectory checkpoint) into the model's float tensors."""
        for dst, k in zip(self.state_live, self.state_names, strict=True):
            dst.copy_(state[k])

    def is_stale(self) -> bool:
        """True when someone replaced the model's tensors (moved it, changed memory format)."""
        state = self.model.state_dict()
        return any(
            k not in state or state[k].data_ptr() != t.data_ptr()
            for k, t in zip(self.state_names, self.state_live, strict=True)
        )

    @torch.no_grad()
    def reattach(self) -> None:
        """Follow the model after its tensors were replaced (``model.to(device)``, a memory
        format change): θ, d₁, d₂ move to the new tensors' device and layout, values kept."""
        state = self.model.state_dict()
        self.state_live = [state[k] for k in self.state_names]
        self.state_theta = [_like(t, s) for t, s in zip(self.state_live, self.state_theta,
                                                        strict=True)]
        by_name = dict(zip(names_of(self.model, self.dir_type),
                           weights_of(self.model, self.dir_type), strict=True))
        self.live = [by_name[n] for n in self.names]
        theta_by_name = self.theta_by_name
        self.theta = [
            theta_by_name[n] if n in theta_by_name else _like(w, t)
            for n, w, t in zip(self.names, self.live, self.theta, strict=True)
        ]
        self.d1 = [_like(w, d) for w, d in zip(self.live, self.d1, strict=True)]
        self.d2 = [_like(w, d) for w, d in zip(self.live, self.d2, strict=True)]
        self.generation += 1

    # ---- functional ------------------------------------------------------------------------
    def params(self, a: float | Tensor = 0.0, b: float | Tensor = 0.0) -> dict[str, Tensor]:
        """θ + a·d₁ + b·d₂ as named tensors for ``functional_call`` (the model is untouched).

        ``a`` and ``b`` may be tensors that require grad: the result is differentiable in
        them (and, through ``theta``, in nothing else).
        """
        return {
            n: t + a * d1 + b * d2
            for n, t, d1, d2 in zip(self.names, self.theta, self.d1, self.d2, strict=True)
        }

    def stacked(self, a: Tensor, b: Tensor) -> dict[str, Tensor]:
        """Named tensors of K points at once (leading dimension K) for ``vmap``."""
        return {
            n: stack_points(t, d1, d2, a, b)
            for n, t, d1, d2 in zip(self.names, self.theta, self.d1, self.d2, strict=True)
        }


def first_names(state: Mapping[str, Tensor]) -> list[str]:
    """The float tensors of a state dict, each storage once, under its first name."""
    seen, out = set(), []
    for k, v in state.items():
        if not v.is_floating_point():
            continue
        if v.numel():
            if v.data_ptr() in seen:
                continue
            seen.add(v.data_ptr())
        out.append(k)
    return out


def stack_points(theta: Tensor, d1: Tensor, d2: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """θ + a_k·d₁ + b_k·d₂ for every k: shape (K, *θ.shape)."""
    shape = (a.shape[0],) + (1,) * theta.dim()
    return theta + a.view(shape) * d1 + b.view(shape) * d2


def check_directions(model: nn.Module, directions: Any) -> None:
    """InputError unless d₁ (and d₂) match ``weights_of(model, dir_type)`` tensor by tensor."""
    dir_type = getattr(directions, "dir_type", "weights")
    names, weights = names_of(model, dir_type), weights_of(model, dir_type)
    for d, label in ((directions.x, "x"), (directions.y, "y")):
        if d is None:
            continue
        if len(d) != len(weights):
            raise InputError(
                f"the {label} direction has {len(d)} tensors but the model has "
                f"{len(weights)} {dir_type}; it was made for another model"
            )
        shapes = getattr(d, "shapes", None) or [tuple(t.shape) for t in d]  # seeded: no tensors
        bad = [
            n for n, w, s in zip(names, weights, shapes, strict=True) if tuple(w.shape) != tuple(s)
        ]
        if bad:
            raise InputError(
                f"the {label} direction does not fit the model: wrong shape at {bad[:3]}"
            )


def _like(weight: Tensor, d: Tensor) -> Tensor:
    """A direction tensor on the weight's device, dtype and memory format: ``d`` itself when
    it is that already and is not the weight itself (``ignore none`` makes a 1-D tensor's
    direction θ): the plane only reads it, and a copy would hold the weights once more."""
    if (d.device, d.dtype, d.shape, d.stride()) == (weight.device, weight.dtype, weight.shape,
                                                    weight.stride()) and \
            d.untyped_storage().data_ptr() != weight.untyped_storage().data_ptr():
        return d
    return torch.empty_like(weight).copy_(d)
