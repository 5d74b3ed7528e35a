"""Weight matching (Ainsworth et al., *Git Re-Basin*, ICLR 2023, Algorithm 1).

Find permutations π of model B's hidden units maximizing Σ_ℓ ⟨W_ℓ^A, P_ℓ W_ℓ^B P_{ℓ−1}ᵀ⟩, the
inner product of the two models' weights: coordinate descent over the permutations, each
step a linear assignment problem (``scipy.optimize.linear_sum_assignment``) with the other
permutations held fixed, in a seeded random order, until no step improves. A permutation is
an index array ``π`` with ``B_aligned[..., i, ...] = B[..., π[i], ...]`` along its axes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from lossviz_core.align.spec import Axis, PermutationSpec

MAX_ITERATIONS = 100

State = Mapping[str, Tensor]
Perms = dict[str, np.ndarray]


def permute_axis(t: Tensor, axis: Axis, perm: np.ndarray) -> Tensor:
    """``t`` with the units along ``axis`` reordered by ``perm`` (blocks kept together)."""
    index = torch.as_tensor(perm, dtype=torch.long, device=t.device)
    if axis.block == 1:
        return t.index_select(axis.axis, index)
    shape = list(t.shape)
    units = shape[axis.axis] // axis.block
    blocked = t.reshape(*shape[:axis.axis], units, axis.block, *shape[axis.axis + 1:])
    return blocked.index_select(axis.axis, index).reshape(shape)


def apply_permutations(spec: PermutationSpec, perms: Perms, state: State) -> dict[str, Tensor]:
    """``state`` with every permutation applied along each of its axes (a new dict; tensors
    no permutation touches are the same objects)."""
    out = dict(state)
    for name, pairs in spec.axes_of().items():
        if name not in out:
            continue
        t = out[name]
        for group, axis in pairs:
            t = permute_axis(t, axis, perms[group])
        out[name] = t
    return out


def _units_by_rows(t: Tensor, axis: Axis) -> Tensor:
    """(units, everything else) in float64: the rows a unit's weights make."""
    t = t.detach().to("cpu", torch.float64).movedim(axis.axis, 0)
    return t.reshape(t.shape[0] // axis.block, -1)


def weight_matching(spec: PermutationSpec, state_a: State, state_b: State,
                    keys: set[str] | None = None, seed: int = 0,
                    max_iterations: int = MAX_ITERATIONS) -> tuple[Perms, int]:
    """The permutations aligning ``state_b`` to ``state_a`` and the sweeps it took.

    ``keys``: the tensors the objective sums over (default: every tensor a permutation
    touches; the caller passes the parameters, leaving BatchNorm's running statistics out).
    """
    perms: Perms = {g: np.arange(n) for g, n in spec.sizes.items()}
    if not perms:
        return perms, 0
    by_tensor = spec.axes_of()
    from scipy.optimize import linear_sum_assignment  # scipy.optimize: half a second to load

    rng = np.random.default_rng(seed)
    order = list(perms)
    for sweep in range(1, max_iterations + 1):
        improved = False
        for group in rng.permutation(order):
            n = spec.sizes[group]
            cost = np.zeros((n, n))
            for axis in spec.groups[group]:
                if keys is not None and axis.name not in keys:
                    continue
                wb = state_b[axis.name]
                for other, other_axis in by_tensor[axis.name]:  # the other units held fixed
                    if other_axis is not axis:
                        wb = permute_axis(wb, other_axis, perms[other])
                wa = _units_by_rows(state_a[axis.name], axis)
                cost += (wa @ _units_by_rows(wb, axis).T).numpy()
            _, cols = linear_sum_assignment(cost, maximize=True)
            old = cost[np.arange(n), perms[group]].sum()
            new = cost[np.arange(n), cols].sum()
            if new > old + 1e-12 * max(1.0, abs(old)):
                perms[group] = cols
                improved = True
        if not improved:
            return perms, sweep
    return perms, max_iterations
