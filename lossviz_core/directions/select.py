"""Which parameters a direction moves: ``--only GLOB[,GLOB…]`` and ``--exclude GLOB[,GLOB…]``.

A direction restricted to some parameters (one transformer block, the attention of every
block, the LoRA adapters) is the unrestricted direction with zeros elsewhere: every tensor
still draws from the seeded stream, so the entries it keeps do not depend on the
restriction, and the tensors it leaves alone stay bit-identical to θ at every point.
A glob matches a tensor's name (``transformer.h.1.attn.c_attn.weight``) or, written
without a wildcard, a module and everything in it (``transformer.h.1``). Tied tensors
(one storage under two names) are chosen together.

:func:`parameter_tree` lists a model's parameter names as a tree of modules, for a window
that lets the user pick a module (its :attr:`ParamNode.glob` is what ``--only`` takes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from torch import nn

from lossviz_core.directions.weights import is_perturbable, names_of, weights_of
from lossviz_core.errors import InputError
from lossviz_core.params import Param

ONLY = Param("only", "str", label="Only parameters", metavar="GLOB[,GLOB…]", title="only {}",
             help="move only the parameters whose names match these globs, comma-separated "
             "(e.g. 'transformer.h.1.*', '*.attn.*', '*lora*'; a module name takes all of "
             "it); the rest stay exactly at θ")
EXCLUDE = Param("exclude", "str", label="Exclude parameters", metavar="GLOB[,GLOB…]",
                title="without {}", help="leave the parameters whose names match these globs "
                "exactly at θ (comma-separated, as --only)")
SELECTION_PARAMS = (ONLY, EXCLUDE)


def globs(text: str | None) -> tuple[str, ...]:
    """The comma-separated globs of an ``--only`` / ``--exclude`` value."""
    return tuple(g.strip() for g in str(text or "").split(",") if g.strip())


def matches(name: str, pattern: str) -> bool:
    """``name`` matches ``pattern`` itself, or lies inside the module ``pattern`` names."""
    return fnmatchcase(name, pattern) or fnmatchcase(name, pattern + ".*")


@dataclass(frozen=True)
class Selection:
    """The ``only`` and ``exclude`` globs of a direction spec (empty ``only``: every tensor)."""

    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, spec) -> Selection:  # noqa: ANN001 - a DirectionSpec
        return cls(globs(spec.param("only")), globs(spec.param("exclude")))

    @property
    def everything(self) -> bool:
        return not self.only and not self.exclude

    def chosen(self, model: nn.Module, dir_type: str = "weights") -> list[bool]:
        """One flag per tensor of ``weights_of(model, dir_type)``: does the direction move it?

        A glob that matches no tensor is a one-line :class:`InputError` naming the model's
        top-level modules, so a typo never silently gives a plane that moves nothing.
        """
        names, tensors = names_of(model, dir_type), weights_of(model, dir_type)
        if self.everything:
            return [True] * len(names)
        for flag, pats in (("--only", self.only), ("--exclude", self.exclude)):
            for p in pats:
                if not any(matches(n, p) for n in names):
                    raise InputError(f"{flag} {p!r} matches no parameter of the model; "
                                     f"{_nearest(parameter_tree(model, dir_type), p)}")
        keep = [(not self.only or any(matches(n, p) for p in self.only))
                and not any(matches(n, p) for p in self.exclude) for n in names]
        # tied tensors (one storage, two names): chosen together, as the plane moves them once
        by_storage: dict[int, bool] = {}
        for t, k in zip(tensors, keep, strict=True):
            if is_perturbable(t) and t.numel():
                by_storage[t.data_ptr()] = by_storage.get(t.data_ptr(), False) or k
        keep = [by_storage.get(t.data_ptr(), k) if is_perturbable(t) and t.numel() else k
                for t, k in zip(tensors, keep, strict=True)]
        if not any(k and is_perturbable(t) for t, k in zip(tensors, keep, strict=True)):
            raise InputError(f"{self.text()} leaves no parameter to move")
        return keep

    def info(self) -> dict:
        """What a direction's ``info`` records of it (nothing when every tensor may move)."""
        return {} if self.everything else {"only": list(self.only),
                                           "exclude": list(self.exclude)}

    def text(self) -> str:
        """How the selection reads on the command line (``--only 'x.*' --exclude 'y'``)."""
        parts = [f"{flag} {','.join(p)!r}" for flag, p in (("--only", self.only),
                                                           ("--exclude", self.exclude)) if p]
        return " ".join(parts) or "every parameter"


def _nearest(tree: ParamNode, pattern: str, limit: int = 8) -> str:
    """What the model has where ``pattern`` goes astray: the children of the deepest module
    its leading words name (``transformer.h holds 0, 1, ... 11``)."""
    node, path = tree, []
    for part in pattern.split("."):
        nxt = node.find(part) if not any(c in part for c in "*?[") else None
        if nxt is None or not nxt.children:
            break
        node, path = nxt, [*path, part]
    kids = [c.name for c in node.children]
    shown = ", ".join(kids[:limit]) + (f", ... ({len(kids)} in all)" if len(kids) > limit else "")
    return f"{'.'.join(path)} holds {shown}" if path else f"its top-level names are {shown}"


@dataclass
class ParamNode:
    """A module (or one tensor: a leaf) in a model's parameter tree.

    ``path``: the dotted name (``transformer.h.1.attn``; ``""`` for the model itself);
    ``numel``: the parameters at and below it (tied tensors counted once, where they first
    appear); ``shape``: a leaf tensor's shape (``None`` for a module).
    """

    name: str
    path: str
    numel: int = 0
    shape: tuple[int, ...] | None = None
    children: list[ParamNode] = field(default_factory=list)

    @property
    def glob(self) -> str:
        """What ``--only`` takes to choose this node (a module name takes all of it)."""
        return self.path

    def child(self, name: str) -> ParamNode:
        for c in self.children:
            if c.name == name:
                return c
        node = ParamNode(name, f"{self.path}.{name}" if self.path else name)
        self.children.append(node)
        return node

    def find(self, path: str) -> ParamNode | None:
        """The node at ``path`` (``None`` when there is none)."""
        node: ParamNode | None = self
        for part in filter(None, path.split(".")):
            node = next((c for c in node.children if c.name == part), None) if node else None
        return node

    def lines(self, depth: int = 99) -> list[str]:
        """The tree as indented text (``lossviz info`` or a message)."""
        out = []

        def walk(n: ParamNode, level: int) -> None:
            shape = "" if n.shape is None else f" {tuple(n.shape)}"
            out.append(f"{'  ' * level}{n.name}{shape}  {n.numel:,}")
            if level < depth:
                for c in n.children:
                    walk(c, level + 1)

        for c in self.children:
            walk(c, 0)
        return out


def parameter_tree(model: nn.Module, dir_type: str = "weights") -> ParamNode:
    """The names of ``weights_of(model, dir_type)`` as a tree of modules, in model order."""
    root = ParamNode("", "")
    seen: set[int] = set()
    for name, t in zip(names_of(model, dir_type), weights_of(model, dir_type), strict=True):
        count = 0 if t.numel() and t.data_ptr() in seen else t.numel()
        seen.add(t.data_ptr())
        node = root
        root.numel += count
        for part in name.split("."):
            node = node.child(part)
            node.numel += count
        node.shape = tuple(t.shape)
    return root
