"""Fold eval-mode BatchNorm2d into the preceding Conv2d, and the plan of what a point writes.

In eval mode BN is a per-channel affine map, so ``bn(conv(x))`` equals one convolution
with ``W' = s·W`` and ``b' = β − s·μ + s·b``, ``s = γ/√(σ² + ε)``. When a direction leaves
BN untouched (its entries there are all zero) the fold is linear in the conv weights, so
θ, d₁ and d₂ are folded once and a point costs what it costs without BN. When BN weights
or statistics are perturbed, the fold is recomputed per point from the perturbed values.

:class:`PerturbationPlan` says which tensors of the evaluated module follow
θ + α·d₁ + β·d₂ and how (with or without folding); the evaluator only calls it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lossviz_core.plane import Plane, stack_points, write_point

BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


@dataclass(frozen=True)
class FoldPair:
    """A Conv2d whose only consumer is an eval-mode BatchNorm2d (qualified module names)."""

    conv: str
    bn: str
    eps: float

    def consumed(self) -> set[str]:
        """Original tensor names the fold replaces (the conv's and all of the BN's)."""
        return {f"{self.conv}.weight", f"{self.conv}.bias"} | {f"{self.bn}.{k}" for k in BN_KEYS}


def fold_conv_bn(
    weight: Tensor,
    bias: Tensor | None,
    gamma: Tensor | None,
    beta: Tensor | None,
    mean: Tensor,
    var: Tensor,
    eps: float,
) -> tuple[Tensor, Tensor]:
    """``(W', b')`` of the folded convolution; leading (stacked-point) dimensions broadcast."""
    s = torch.rsqrt(var + eps)
    if gamma is not None:
        s = gamma * s
    w = weight * s[..., None, None, None]
    b = -s * mean
    if beta is not None:
        b = b + beta
    if bias is not None:
        b = b + s * bias
    return w, b


def find_conv_bn_pairs(model: nn.Module) -> tuple[torch.fx.GraphModule, list[FoldPair]] | None:
    """Trace ``model`` with torch.fx; None when it cannot be traced."""
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception:  # any untraceable forward: evaluate it unfolded
        return None
    modules = dict(gm.named_modules())
    calls = Counter(n.target for n in gm.graph.nodes if n.op == "call_module")
    tied = _tied_parameter_owners(model)
    pairs = []
    for node in gm.graph.nodes:
        bn = modules.get(node.target) if node.op == "call_module" else None
        if type(bn) is not nn.BatchNorm2d or len(node.args) != 1 or node.kwargs:
            continue
        src = node.args[0]
        if not isinstance(src, torch.fx.Node) or src.op != "call_module":
            continue
        conv = modules.get(src.target)
        ok = (
            type(conv) is nn.Conv2d
            and len(src.users) == 1
            and calls[src.target] == 1
            and calls[node.target] == 1
            and bn.track_running_stats
            and bn.running_mean is not None
            and conv.out_channels == bn.num_features
            and src.target not in tied
            and node.target not in tied
        )
        if ok:
            pairs.append(FoldPair(src.target, node.target, float(bn.eps)))
    return gm, pairs


def _tied_parameter_owners(model: nn.Module) -> set[str]:
    """Modules owning a parameter that is also used elsewhere (weight tying): never folded."""
    seen: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        seen.setdefault(id(p), []).append(name.rpartition(".")[0])
    return {owner for owners in seen.values() if len(owners) > 1 for owner in owners}


def build_folded_module(
    gm: torch.fx.GraphModule, pairs: Sequence[FoldPair], model: nn.Module
) -> dict[str, nn.Conv2d]:
    """Rewrite ``gm`` in place: each pair's conv -> a fresh biased conv, its BN removed.

    Other leaf modules stay shared with ``model`` (fx copies them by reference), so writing
    a perturbation into the model's own tensors reaches the folded module too.
    """
    nodes = {n.target: n for n in gm.graph.nodes if n.op == "call_module"}
    folded = {}
    for pair in pairs:
        conv = model.get_submodule(pair.conv)
        new = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
            bias=True,
            padding_mode=conv.padding_mode,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
        )
        new.weight.data = torch.empty_like(conv.weight)  # keeps the model's memory format
        new.requires_grad_(False)
        parent, _, leaf = pair.conv.rpartition(".")
        setattr(gm.get_submodule(parent) if parent else gm, leaf, new)
        bn_node = nodes[pair.bn]
        bn_node.replace_all_uses_with(nodes[pair.conv])
        gm.graph.erase_node(bn_node)
        folded[pair.conv] = new
    gm.graph.lint()
    gm.recompile()
    gm.delete_all_unused_submodules()
    return folded


class FoldedPlane:
    """A :class:`~lossviz_core.plane.Plane` evaluated through ``module``, BN folded into convs.

    ``names``/``live``/``theta``/``d1``/``d2``: the tensors one point writes in place,
    ``live = theta + a·d1 + b·d2`` (folded conv tensors when the fold is precomputed).
    ``refold``: BN is perturbed, so the fold is recomputed per point from the perturbed
    originals (the plane's own tensors).
    """

    def __init__(self, plane: Plane, gm: torch.fx.GraphModule, pairs: list[FoldPair]) -> None:
        self.plane = plane
        self.model = plane.model
        self.generation = plane.generation
        self.pairs = pairs
        self.folded = build_folded_module(gm, pairs, plane.model)
        self.module: nn.Module = gm.eval()
        self._named: dict[str, Tensor] | None = None
        bn_names = {f"{p.bn}.{k}" for p in pairs for k in BN_KEYS}
        dirs = dict(zip(plane.names, zip(plane.d1, plane.d2, strict=True), strict=True))
        self.refold = any(bool(t.any()) for n, ds in dirs.items() if n in bn_names for t in ds)
        self.consumed = set().union(*(p.consumed() for p in pairs))
        if self.refold:  # BN perturbed: write the originals, refold every point
            self.names, self.live = plane.names, plane.live
            self.theta, self.d1, self.d2 = plane.theta, plane.d1, plane.d2
            self.refold_all()
            return
        idx = [i for i, n in enumerate(plane.names) if n not in self.consumed]
        self.names = [plane.names[i] for i in idx]
        self.live = [plane.live[i] for i in idx]
        self.theta = [plane.theta[i] for i in idx]
        self.d1 = [plane.d1[i] for i in idx]
        self.d2 = [plane.d2[i] for i in idx]
        theta = plane.theta_by_name
        for p in pairs:  # fold θ with BN; fold d₁, d₂ with the same scale and no shift
            conv = self.folded[p.conv]
            th = self._fold_pair(p, theta.get)
            for which, vals in (("weight", 0), ("bias", 1)):
                self.names.append(f"{p.conv}.{which}")
                self.live.append(getattr(conv, which).data)
                self.theta.append(th[vals])
            for k, out in ((0, self.d1), (1, self.d2)):
                out.extend(self._fold_direction(p, {n: ds[k] for n, ds in dirs.items()}, theta))

    # the plane's state, restored and loaded through it
    @property
    def state_names(self) -> list[str]:
        return self.plane.state_names

    @property
    def state_live(self) -> list[Tensor]:
        return self.plane.state_live

    @property
    def state_theta(self) -> list[Tensor]:
        return self.plane.state_theta

    def _fold_pair(self, p: FoldPair, get) -> tuple[Tensor, Tensor]:
        return fold_conv_bn(
            get(f"{p.conv}.weight"),
            get(f"{p.conv}.bias"),
            get(f"{p.bn}.weight"),
            get(f"{p.bn}.bias"),
            get(f"{p.bn}.running_mean"),
            get(f"{p.bn}.running_var"),
            p.eps,
        )

    def _fold_direction(
        self, p: FoldPair, d: Mapping[str, Tensor], th: Mapping[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Scale a direction's conv entries by s (BN entries are zero here)."""
        gamma = th.get(f"{p.bn}.weight")
        s = torch.rsqrt(th[f"{p.bn}.running_var"] + p.eps)
        s = s if gamma is None else gamma * s
        dw = d.get(f"{p.conv}.weight")
        dw = torch.zeros_like(th[f"{p.conv}.weight"]) if dw is None else dw
        db = d.get(f"{p.conv}.bias")
        db = torch.zeros_like(s) if db is None else s * db
        w = torch.empty_like(self.folded[p.conv].weight).copy_(dw * s[:, None, None, None])
        return w, db.clone()

    # ---- per point -----------------------------------------------------------------------
    @torch.no_grad()
    def write(self, a: float, b: float = 0.0) -> None:
        """Write θ + a·d₁ + b·d₂ into the folded module's tensors (in place, on the device)."""
        write_point(self.live, self.theta, self.d1, self.d2, a, b)
        if self.refold:
            self.refold_all()

    @torch.no_grad()
    def refold_all(self) -> None:
        """Recompute every folded conv from the model's current (perturbed) tensors."""
        if self._named is None:  # the model's tensors are updated in place: cache once
            self._named = dict(self.model.named_parameters()) | dict(self.model.named_buffers())
        for p in self.pairs:
            w, b = self._fold_pair(p, self._named.get)
            self.folded[p.conv].weight.copy_(w)
            self.folded[p.conv].bias.copy_(b)

    @torch.no_grad()
    def load_state(self, state: Mapping[str, Tensor]) -> None:
        """Write an arbitrary state (a trajectory checkpoint) into the model, refolded."""
        self.plane.load_state(state)
        self.refold_all()

    def is_stale(self) -> bool:
        """Stale when the model's tensors changed, or the plane followed them (reattach) after
        this view was built on the old ones."""
        return self.plane.is_stale() or self.generation != self.plane.generation

    def restore(self) -> None:
        """Put θ back into the model exactly (the folded convs are rewritten per point)."""
        self.plane.restore()

    def stacked(self, a: Tensor, b: Tensor) -> dict[str, Tensor]:
        """Named tensors of K points at once (leading dim K) for ``functional_call``."""
        k = a.shape[0]
        if not self.refold:
            return {
                n: stack_points(*t, a, b)
                for n, *t in zip(self.names, self.theta, self.d1, self.d2, strict=True)
            }
        orig = self.plane.stacked(a, b)
        theta = self.plane.theta_by_name
        out = {n: v for n, v in orig.items() if n not in self.consumed}
        for p in self.pairs:
            w, bias = self._fold_pair(p, lambda n: orig.get(n, theta.get(n)))
            out[f"{p.conv}.weight"] = w.expand(k, *w.shape[-4:])
            out[f"{p.conv}.bias"] = bias.expand(k, bias.shape[-1])
        return out


def fold(plane: Plane, option: str | bool = "auto", traceable: bool = True) -> Plane | FoldedPlane:
    """``plane`` evaluated through a BN-folded copy of its module when that is possible.

    ``option`` False: never fold; ``traceable`` False (capabilities say fx cannot trace the
    model): nothing to fold. Returns the plane itself when no conv → BN pair is found, and for
    a plane that is not linear in its coordinates (``plane.linear`` False).
    """
    if option is False or not traceable or not getattr(plane, "linear", True):
        return plane  # a curve or re-estimated BN statistics: the plane writes them itself
    if not plane.foldable:  # seeded: no θ, d₁, d₂ whole
        return plane
    traced = find_conv_bn_pairs(plane.model)
    if traced is None or not traced[1]:
        return plane
    return FoldedPlane(plane, *traced)
