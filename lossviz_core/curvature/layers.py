"""The top eigenvalue per layer: λmax of each diagonal block of H.

A layer's block is the Hessian with respect to that layer's tensors alone, the rest held at
the point (PyHessian's per-layer analysis; Yao et al. 2020). Grouped ``by="layer"`` (a
module's weight and bias together, by the name before the last dot) or ``by="tensor"``.
Each block is a smaller operator, so its products cost less than whole ones.
"""

from __future__ import annotations

from typing import Any

from lossviz_core.curvature.eigen import top_eigenpairs
from lossviz_core.errors import InputError

GROUPINGS = ("layer", "tensor")


def layer_groups(names: list[str], by: str = "layer") -> dict[str, list[str]]:
    """Tensor names grouped into layers (insertion order kept)."""
    if by not in GROUPINGS:
        raise InputError(f"unknown per-layer grouping {by!r}; choose layer or tensor")
    groups: dict[str, list[str]] = {}
    for n in names:
        key = n if by == "tensor" else (n.rsplit(".", 1)[0] if "." in n else n)
        groups.setdefault(key, []).append(n)
    return groups


def per_layer_top(op: Any, by: str = "layer", tol: float = 1e-3, maxiter: int | None = None,
                  solver: str = "scipy", seed: int = 0) -> dict[str, dict[str, Any]]:
    """``{layer: {value, converged, hvps, params, tensors}}``: each block's top eigenvalue."""
    out: dict[str, dict[str, Any]] = {}
    for layer, names in layer_groups(op.names, by).items():
        block = op.restricted(names)
        res = top_eigenpairs(block, 1, tol, maxiter, solver, seed, vectors=False)
        op.hvps += block.hvps  # the parent counts all the work done for it
        out[layer] = {"value": float(res.values[0]), "converged": bool(res.converged[0]),
                      "hvps": res.hvps, "params": block.size, "tensors": names}
    return out
