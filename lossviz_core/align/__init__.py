"""Permutation alignment of one trained model to another (Git Re-Basin's weight matching).

Two independently trained networks usually sit in different basins partly because their
hidden units are numbered differently; permuting B's units to match A's (a function-preserving
change) often lowers the loss barrier on the straight line between them (Ainsworth, Hayase
and Srinivasa, ICLR 2023). :func:`align_state` does it for MLPs, CNNs and ResNets with
BatchNorm (:mod:`.spec` reads the permutations off the model's graph, :mod:`.matching` finds
them); ``--align`` applies it to B (and C) before a line, plane or curve, and ``lossviz align
A B --out B_aligned.pt`` writes the aligned checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lossviz_core.align.matching import apply_permutations, permute_axis, weight_matching
from lossviz_core.align.spec import Axis, PermutationSpec, permutation_spec
from lossviz_core.errors import InputError

__all__ = ["AlignInfo", "Axis", "PermutationSpec", "align_state", "apply_permutations",
           "permutation_spec", "permute_axis", "weight_matching"]


@dataclass(frozen=True)
class AlignInfo:
    """What alignment did: permutations (``groups``) over ``units`` hidden units, how many
    units moved, coordinate-descent ``sweeps``, and ‖θ_B − θ_A‖ before and after."""

    groups: int
    units: int
    moved: int
    sweeps: int
    distance_before: float
    distance_after: float
    perms: dict[str, list[int]]

    def to_dict(self) -> dict[str, Any]:
        return {"groups": self.groups, "units": self.units, "moved": self.moved,
                "sweeps": self.sweeps, "distance_before": self.distance_before,
                "distance_after": self.distance_after}

    def text(self) -> str:
        return (f"aligned {self.moved} of {self.units} hidden units in {self.groups} "
                f"permutations; ‖θ_B − θ_A‖ {self.distance_before:.4g} → "
                f"{self.distance_after:.4g}")


def _distance(a: Mapping[str, Tensor], b: Mapping[str, Tensor], keys: list[str]) -> float:
    return float(sum(((a[k].double().cpu() - b[k].double().cpu()) ** 2).sum() for k in keys)
                 ) ** 0.5


def align_state(model: nn.Module, state_a: Mapping[str, Tensor], state_b: Mapping[str, Tensor],
                seed: int = 0) -> tuple[dict[str, Tensor], AlignInfo]:
    """``state_b`` with its hidden units permuted to match ``state_a`` (both state dicts of
    ``model``'s architecture), and what was done. The matching sums over the parameters;
    every tensor a permutation touches (BatchNorm's running statistics too) is permuted."""
    spec = permutation_spec(model)
    missing = [a.name for axes in spec.groups.values() for a in axes
               if a.name not in state_a or a.name not in state_b]
    if missing:
        raise InputError(f"cannot align: the checkpoints lack {', '.join(missing[:3])}")
    params = {n for n, _ in model.named_parameters()}
    perms, sweeps = weight_matching(spec, state_a, state_b, keys=params, seed=seed)
    aligned = apply_permutations(spec, perms, state_b)
    keys = [k for k in params if k in state_a and state_a[k].is_floating_point()]
    moved = int(sum((p != np.arange(len(p))).sum() for p in perms.values()))
    info = AlignInfo(groups=len(perms), units=spec.units, moved=moved, sweeps=sweeps,
                     distance_before=_distance(state_a, state_b, keys),
                     distance_after=_distance(state_a, aligned, keys),
                     perms={g: [int(i) for i in p] for g, p in perms.items()})
    return {k: v.contiguous() if torch.is_tensor(v) else v for k, v in aligned.items()}, info
