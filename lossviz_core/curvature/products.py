"""How a Hessian-vector product is computed, and the forward it differentiates.

Four ways to get H·v of the mean loss, all exact (they differ in cost, not in value):

- ``graph``: the gradient ∇L is built once per point with its graph kept (a forward and a
  ``create_graph`` backward over every batch, summed) and each product is one backward
  pass through that graph (autograd's double backward). Nothing is re-traced per product,
  so a product costs about two gradients where the others cost three to five
  (benchmarks/RESULTS.md, *Curvature*). The graph holds every batch's activations: it is
  used only while it fits (:data:`GRAPH_MEMORY_FRACTION` of the free memory, measured on
  the first batch by the tensors autograd saves), else the operator falls back per batch.
- ``fwd-rev``: ``jvp(grad(L))`` per batch (forward over reverse, torch.func);
- ``rev-rev``: ``vjp(grad(L))`` per batch;
- ``rev-fwd``: ``grad(jvp(L))`` per batch (reverse over forward).

:class:`FoldedForward` evaluates the model with eval-mode BatchNorm folded into the
preceding convolution (``W' = s·W``, ``b' = β − s·μ + s·b``, ``s = γ/√(σ² + ε)``), computed
inside the differentiated function from the original tensors, so H is the Hessian with
respect to the original parameters (BN's γ and β included) while every pass runs fewer
operations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, jvp, vjp

from lossviz_core.device import host_memory_available
from lossviz_core.evaluation.bnfold import (
    FoldPair,
    build_folded_module,
    find_conv_bn_pairs,
    fold_conv_bn,
)

HVP_MODES = ("auto", "graph", "fwd-rev", "rev-rev", "rev-fwd")
FOLD_OPTIONS = ("auto", True, False)
GRAPH_MEMORY_FRACTION = 0.25  # of the device's (or host's) free memory
# per batch when the graph does not fit: vjp of grad measured 15-20 % faster on the CPU
FALLBACK_MODE = {"cpu": "rev-rev"}


class FoldedForward:
    """The model's forward with every eval-mode conv → BatchNorm pair folded into one conv.

    ``tensors(named)`` turns the original named tensors (a point's variables and fixed
    tensors) into the folded module's, differentiably; ``module`` is the folded copy (the
    model itself is never changed).
    """

    def __init__(self, module: torch.fx.GraphModule, pairs: Sequence[FoldPair]) -> None:
        self.module, self.pairs = module, list(pairs)
        self.consumed = set().union(*(p.consumed() for p in self.pairs))

    def tensors(self, named: Mapping[str, Tensor]) -> dict[str, Tensor]:
        out = {k: v for k, v in named.items() if k not in self.consumed}
        for p in self.pairs:
            w, b = fold_conv_bn(named[f"{p.conv}.weight"], named.get(f"{p.conv}.bias"),
                                named.get(f"{p.bn}.weight"), named.get(f"{p.bn}.bias"),
                                named[f"{p.bn}.running_mean"], named[f"{p.bn}.running_var"],
                                p.eps)
            out[f"{p.conv}.weight"], out[f"{p.conv}.bias"] = w, b
        return out


def folded_forward(model: nn.Module, option: str | bool = "auto") -> FoldedForward | None:
    """The folded forward of ``model``, or None (``option`` False, nothing to fold, or a
    forward torch.fx cannot trace)."""
    if option is False:
        return None
    traced = find_conv_bn_pairs(model)
    if traced is None or not traced[1]:
        return None
    gm, pairs = traced
    build_folded_module(gm, pairs, model)  # gm's parents are its own: the model is untouched
    return FoldedForward(gm.eval(), pairs)


def forward(model: nn.Module, fold: FoldedForward | None, variables: Mapping[str, Tensor],
            fixed: Mapping[str, Tensor], x: Tensor) -> Any:
    """The model's output on ``x`` at the point ``variables`` ∪ ``fixed``."""
    if fold is None:
        return functional_call(model, (dict(variables), dict(fixed)), (x,))
    return functional_call(fold.module, fold.tensors({**fixed, **variables}), (x,))


def func_product(mode: str, loss: Callable[[dict[str, Tensor]], Tensor],
                 theta: dict[str, Tensor], tangent: dict[str, Tensor]) -> dict[str, Tensor]:
    """H·v of ``loss`` (a function of the named variables) by torch.func, one of
    ``fwd-rev``, ``rev-rev``, ``rev-fwd``."""
    if mode == "rev-rev":
        return vjp(grad(loss), theta)[1](tangent)[0]
    if mode == "rev-fwd":
        return grad(lambda p: jvp(loss, (p,), (tangent,))[1])(theta)
    return jvp(grad(loss), (theta,), (tangent,))[1]


class GradientGraph:
    """∇L at one point with its autograd graph kept: each product is one backward pass.

    ``build(batches, loss)`` sums the per-batch gradients of ``loss(variables, x, y)`` (the
    batch's share of the mean) and returns False, keeping nothing, when the whole graph
    would not fit in ``budget`` bytes (estimated from the first batch's saved tensors).
    """

    def __init__(self, theta: Mapping[str, Tensor], budget: float) -> None:
        self.names = list(theta)
        self.variables = {n: t.detach().clone().requires_grad_(True) for n, t in theta.items()}
        self.budget = budget
        self.grads: list[Tensor] | None = None
        self.value = 0.0
        self.saved_bytes = 0.0

    def build(self, batches: Iterable[tuple[Tensor, Tensor]], n_batches: int,
              loss: Callable[[dict[str, Tensor], Tensor, Tensor], Tensor]) -> bool:
        leaves = list(self.variables.values())
        total: list[Tensor] | None = None
        for i, (x, y) in enumerate(batches):
            counter = _SavedBytes() if i == 0 else None
            with torch.enable_grad(), (counter.hooks() if counter else nullcontext()):
                value = loss(self.variables, x, y)
                g = torch.autograd.grad(value, leaves, create_graph=True, allow_unused=True)
            if counter is not None:
                self.saved_bytes = counter.bytes * n_batches
                if self.saved_bytes > self.budget:
                    return False
            g = [torch.zeros_like(v) if t is None else t for t, v in zip(g, leaves, strict=True)]
            total = g if total is None else [a + b for a, b in zip(total, g, strict=True)]
            self.value += float(value.detach())
        self.grads = total
        return True

    def product(self, tangent: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """H·v for named tangents shaped like the variables."""
        leaves = list(self.variables.values())
        outs = [t for t, v in zip(self.grads, leaves, strict=True) if t.requires_grad]
        vs = [tangent[n] for n, t in zip(self.names, self.grads, strict=True) if t.requires_grad]
        with torch.enable_grad():
            # d⟨∇L, v⟩/dθ with v held constant: the same backward as grad_outputs=v (the
            # product's first step multiplies v by 1.0), without grad_outputs, whose checks
            # load torch's symbolic shapes and sympy (most of a second at start)
            dot = sum((g * v).sum() for g, v in zip(outs, vs, strict=True))
            hv = torch.autograd.grad(dot, leaves, retain_graph=True, allow_unused=True)
        return {n: torch.zeros_like(v) if h is None else h
                for n, h, v in zip(self.names, hv, leaves, strict=True)}


def graph_budget(device: torch.device) -> float:
    """Bytes a kept gradient graph may hold on ``device``."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return GRAPH_MEMORY_FRACTION * free
    return GRAPH_MEMORY_FRACTION * host_memory_available()


class _SavedBytes:
    """Counts the bytes of the distinct storages autograd saves while the hooks are on."""

    def __init__(self) -> None:
        self.bytes = 0.0
        self._seen: set[int] = set()

    def hooks(self):
        def pack(t: Tensor) -> Tensor:
            try:
                storage = t.untyped_storage()
                key = storage.data_ptr()
                if key not in self._seen:
                    self._seen.add(key)
                    self.bytes += storage.nbytes()
            except (RuntimeError, NotImplementedError):  # a tensor with no plain storage
                self.bytes += t.numel() * t.element_size()
            return t

        return torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
