"""Which axes of which tensors a permutation of hidden units acts on, read off the model's graph.

Permuting the hidden units of a layer (the output rows of a Linear, the output filters of a
Conv2d) and, with them, the input columns of every layer that reads those units leaves the
network's function unchanged (Ainsworth, Hayase and Srinivasa, *Git Re-Basin*, ICLR 2023).
A :class:`PermutationSpec` lists, per permutation, the ``(tensor, axis)`` pairs it moves.

It is derived from a ``torch.fx`` trace instead of written per architecture: every activation
carries the "unit space" of its channel dimension; a Linear or Conv2d makes a new space, its
weight's axis 0 (and bias, and a following BatchNorm's vectors) in it and its axis 1 in the
input's; elementwise maps (ReLU, pooling, dropout) keep the space; a residual sum merges the
spaces it adds (so a ResNet stage shares one permutation); ``flatten`` after a convolution
turns a channel into a block of ``H·W`` features of the next Linear. The network's input and
output are never permuted, so a space joined to either is fixed. Anything else that touches
a permutable activation (concatenation, attention, LayerNorm, grouped convolutions, weights
used twice) is refused with one line naming the operation.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from lossviz_core.errors import InputError

# modules and functions that map each unit to itself (the channel dimension untouched)
ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ELU, nn.Tanh, nn.Sigmoid, nn.Softplus,
    nn.Dropout, nn.Dropout2d, nn.Identity, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d,
    nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
)
ELEMENTWISE_FUNCTIONS = {
    F.relu, F.relu6, F.leaky_relu, F.gelu, F.silu, F.elu, F.tanh, F.sigmoid, F.softplus,
    F.dropout, F.dropout2d, F.max_pool1d, F.max_pool2d, F.avg_pool1d, F.avg_pool2d,
    F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d,
    torch.relu, torch.tanh, torch.sigmoid,
}
ELEMENTWISE_METHODS = {"relu", "relu_", "tanh", "sigmoid", "contiguous", "clone", "float"}
SUMS = {operator.add, operator.iadd, torch.add, operator.mul, torch.mul}
SCALAR_OPS = {operator.mul, operator.truediv, torch.mul, operator.add, torch.add}
FLATTENS = {torch.flatten}
RESHAPES = {"flatten", "view", "reshape"}
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
BN_TENSORS = ("weight", "bias", "running_mean", "running_var")


@dataclass(frozen=True)
class Axis:
    """Axis ``axis`` of state tensor ``name`` holds one permutation's units; ``block``: each
    unit is ``block`` consecutive entries (a flattened conv channel's ``H·W`` features)."""

    name: str
    axis: int
    block: int = 1


@dataclass
class PermutationSpec:
    """``groups``: permutation name → the axes it moves; ``sizes``: its number of units."""

    groups: dict[str, list[Axis]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def axes_of(self) -> dict[str, list[tuple[str, Axis]]]:
        """State tensor name → ``(group, axis)`` pairs of every permutation acting on it."""
        out: dict[str, list[tuple[str, Axis]]] = {}
        for group, axes in self.groups.items():
            for a in axes:
                out.setdefault(a.name, []).append((group, a))
        return out

    @property
    def units(self) -> int:
        return sum(self.sizes.values())


class _Spaces:
    """Union-find over unit spaces; space 0 is the fixed one (input and output)."""

    def __init__(self) -> None:
        self.parent = [0]
        self.size: list[int | None] = [None]
        self.name = ["fixed"]

    def new(self, size: int, name: str) -> int:
        self.parent.append(len(self.parent))
        self.size.append(int(size))
        self.name.append(name)
        return len(self.parent) - 1

    def find(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def union(self, a: int, b: int, where: str) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if 0 not in (ra, rb) and self.size[ra] != self.size[rb]:
            raise InputError(f"cannot align this model: {where} adds {self.size[ra]} and "
                             f"{self.size[rb]} units")
        keep, drop = (ra, rb) if ra < rb else (rb, ra)  # the fixed space (0) always wins
        self.parent[drop] = keep
        return keep


@dataclass(frozen=True)
class _Act:
    """An activation's unit space; ``flat``: flattened from a (N, C, ...) map."""

    space: int
    flat: bool = False


def permutation_spec(model: nn.Module) -> PermutationSpec:
    """The permutations of ``model``'s hidden units, read off its ``torch.fx`` graph.

    MLPs, CNNs and ResNets (with BatchNorm) are understood; an architecture whose units
    cannot be permuted this way is one :class:`InputError` line naming what stops it.
    """
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - any untraceable forward
        raise InputError(f"cannot align {type(model).__name__}: torch.fx cannot trace its "
                         f"forward ({type(exc).__name__}); alignment understands MLPs, CNNs and "
                         "ResNets") from None
    modules = dict(gm.named_modules())
    spaces = _Spaces()
    acts: dict[torch.fx.Node, _Act] = {}
    axes: list[tuple[int, Axis]] = []
    seen_modules: set[str] = set()
    what = type(model).__name__

    def refuse(reason: str) -> InputError:
        return InputError(f"cannot align {what}: {reason}; alignment permutes the hidden units "
                          "of MLPs, CNNs and ResNets")

    def act_of(arg: object) -> _Act | None:
        return acts.get(arg) if isinstance(arg, torch.fx.Node) else None

    for node in gm.graph.nodes:
        ins = [act_of(a) for a in node.args]
        tensors = [a for a in ins if a is not None]
        if node.op == "placeholder":
            acts[node] = _Act(0)
        elif node.op == "call_module":
            mod = modules[node.target]
            if node.target in seen_modules and not isinstance(mod, ELEMENTWISE_MODULES):
                raise refuse(f"module {node.target} is used twice (shared weights)")
            seen_modules.add(node.target)
            if not tensors:
                raise refuse(f"module {node.target} takes no activation")
            acts[node] = _module(node.target, mod, tensors[0], spaces, axes, refuse)
        elif node.op in ("call_function", "call_method"):
            out = _function(node, ins, tensors, spaces, refuse)
            if out is not None:
                acts[node] = out
        elif node.op == "get_attr":
            raise refuse(f"its forward reads tensor {node.target} directly")
        elif node.op == "output":
            for a in tensors:
                spaces.union(a.space, 0, "the output")
            for a in node.args[0] if isinstance(node.args[0], (tuple, list)) else ():
                if act_of(a) is not None:
                    spaces.union(acts[a].space, 0, "the output")
    return _collect(spaces, axes)


def _module(name: str, mod: nn.Module, x: _Act, spaces: _Spaces, axes: list, refuse) -> _Act:
    if isinstance(mod, nn.Linear):
        out = spaces.new(mod.out_features, name)
        _input_axis(name, mod.in_features, x, spaces, axes, refuse)
        axes.append((out, Axis(f"{name}.weight", 0)))
        if mod.bias is not None:
            axes.append((out, Axis(f"{name}.bias", 0)))
        return _Act(out)
    if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
        if mod.groups != 1:
            raise refuse(f"{name} is a grouped convolution")
        if x.flat:
            raise refuse(f"{name} reads flattened features")
        out = spaces.new(mod.out_channels, name)
        axes.append((out, Axis(f"{name}.weight", 0)))
        axes.append((x.space, Axis(f"{name}.weight", 1)))
        if mod.bias is not None:
            axes.append((out, Axis(f"{name}.bias", 0)))
        return _Act(out)
    if isinstance(mod, NORMS):
        if x.flat:
            raise refuse(f"{name} normalizes flattened features")
        for t in BN_TENSORS:
            if getattr(mod, t, None) is not None:
                axes.append((x.space, Axis(f"{name}.{t}", 0)))
        return x
    if isinstance(mod, nn.Flatten):
        return _Act(x.space, flat=True)
    if isinstance(mod, ELEMENTWISE_MODULES):
        return x
    raise refuse(f"it has a {type(mod).__name__} ({name})")


def _input_axis(name: str, width: int, x: _Act, spaces: _Spaces, axes: list, refuse) -> None:
    """Axis 1 of a Linear's weight: the input's units, a block each when flattened."""
    root = spaces.find(x.space)
    size = spaces.size[root]
    if root == 0:
        axes.append((0, Axis(f"{name}.weight", 1)))
        return
    if width % size:
        raise refuse(f"{name} reads {width} features from {size} units")
    block = width // size
    if block > 1 and not x.flat:
        raise refuse(f"{name} reads {width} features from {size} units")
    axes.append((x.space, Axis(f"{name}.weight", 1, block)))


def _function(node: torch.fx.Node, ins: list, tensors: list[_Act], spaces: _Spaces,
              refuse) -> _Act | None:
    target = node.target
    if not tensors:
        return None  # sizes, shapes, constants: not activations
    if node.op == "call_method" and target in ("size", "dim"):
        return None  # x.size(0) and the like: numbers, not activations
    if node.op == "call_method" and target in ELEMENTWISE_METHODS:
        return tensors[0]
    if node.op == "call_function" and target in ELEMENTWISE_FUNCTIONS:
        return tensors[0]
    if target in FLATTENS or (node.op == "call_method" and target in RESHAPES):
        if not _flattens(node):
            raise refuse(f"it reshapes activations ({node.format_node()})")
        return _Act(tensors[0].space, flat=True)
    if node.op == "call_function" and target in SUMS:
        if len(tensors) == 1 and target in SCALAR_OPS:
            return tensors[0]  # scaled or shifted by a constant
        first = tensors[0]
        for other in tensors[1:]:
            if other.flat != first.flat:
                raise refuse(f"it adds flattened and unflattened activations ({node.name})")
            spaces.union(first.space, other.space, f"the sum {node.name}")
        return first
    if node.op == "call_function" and target is getattr and ins and ins[0] is not None:
        return None  # x.shape and the like
    name = getattr(target, "__name__", str(target))
    if all(spaces.find(t.space) == 0 for t in tensors):
        return _Act(0)  # an operation on the input only (normalization, casting)
    raise refuse(f"it applies {name} to hidden units ({node.name})")


def _flattens(node: torch.fx.Node) -> bool:
    """``flatten(1)``, ``view(n, -1)``, ``reshape(n, -1)``: features of one example kept."""
    args = list(node.args[1:])
    if node.target in ("view", "reshape"):
        return len(args) == 2 and args[1] == -1
    start = node.kwargs.get("start_dim", args[0] if args else 0)
    end = node.kwargs.get("end_dim", args[1] if len(args) > 1 else -1)
    return start == 1 and end == -1


def _collect(spaces: _Spaces, axes: list[tuple[int, Axis]]) -> PermutationSpec:
    spec = PermutationSpec()
    names: dict[int, str] = {}
    for space, axis in axes:
        root = spaces.find(space)
        if root == 0:
            continue
        group = names.setdefault(root, f"P_{spaces.name[root]}")
        spec.groups.setdefault(group, []).append(axis)
        spec.sizes[group] = int(spaces.size[root])
    return spec
