"""The quantities a landscape holds (train loss, test accuracy, ...): one registry.

A measure declares the quantities it computes; the store writes every one of them, and
``lossviz info`` / ``lossviz plot``, the figures and the GUI's *Show* list read their
labels, units, colour maps and whether a log scale makes sense from here, so a new
quantity needs no edits anywhere else. A name nobody registered still flows through
(:func:`quantity` gives it a plain default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lossviz_core.registry import load_plugins

SPLIT_NAMES = ("train", "test")


@dataclass(frozen=True)
class Quantity:
    """How to show one quantity. ``kind``: ``loss`` (lower is better, log-able), ``accuracy``
    (percent), or any other word a measure uses (``curvature``, ``error``, ...)."""

    name: str
    label: str
    unit: str = ""
    colormap: str = "viridis"
    loggable: bool = False
    kind: str = "other"
    order: int = 100  # the Show list and `info` list quantities by this, then by name
    # a fixed colour scale (values beyond it saturate), so colours mean the same in every
    # result (the convexity map: blue = 0 = convex, red = 1); None: each result's range
    scale: tuple[float, float] | None = None

    @property
    def split(self) -> str | None:
        head = self.name.split("_", 1)[0]
        return head if head in SPLIT_NAMES else None

    def axis_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


_REGISTRY: dict[str, Quantity] = {}


def register_quantity(q: Quantity) -> Quantity:
    """Add (or replace) a quantity's presentation."""
    _REGISTRY[q.name] = q
    return q


def quantity(name: str) -> Quantity:
    """The registered quantity ``name``, or a plain default for an unknown one."""
    q = _REGISTRY.get(name)
    if q is None:
        load_plugins()  # measures register their quantities with themselves
        q = _REGISTRY.get(name)
    if q is not None:
        return q
    derived = _over_seeds(name)
    if derived is not None:
        return derived
    return Quantity(name, name.replace("_", " "))


# several direction seeds (run/seeds.py): each seed's value and the spread over the seeds
_SEEDED = re.compile(r"^(?P<base>.+?)_(?:(?P<std>std)|seed(?P<seed>-?\d+))$")
SPREAD_SUFFIX, SEED_INFIX = "_std", "_seed"
STRAIGHT_PREFIX = "line_"  # a curve's straight line beside it (measures/straight.py)


def over_seeds(name: str) -> bool:
    """``{q}_std`` or ``{q}_seed{s}``: a spread over direction seeds or one seed's value."""
    return _SEEDED.match(name) is not None and _SEEDED.match(name)["base"] in _REGISTRY


def drawn_quantities(names) -> list[str]:
    """What a 1-D view or figure draws as curves: the means over seeds, not each seed's
    values or their spread (drawn as a band around the mean)."""
    return [n for n in ordered(names) if not over_seeds(n)]


def _over_seeds(name: str) -> Quantity | None:
    """``{q}_std`` (the standard deviation over direction seeds) and ``{q}_seed{s}`` (seed
    s's own value) shown as ``q`` is."""
    m = _SEEDED.match(name)
    if m is None or m["base"] not in _REGISTRY:
        return None
    base = _REGISTRY[m["base"]]
    if m["std"]:
        return Quantity(name, f"{base.label}, spread over seeds (std)", base.unit, "cividis",
                        kind="spread", order=200 + base.order)
    return Quantity(name, f"{base.label}, seed {m['seed']}", base.unit, base.colormap,
                    base.loggable, base.kind, order=300 + base.order, scale=base.scale)


def registered() -> list[Quantity]:
    load_plugins()
    return sorted(_REGISTRY.values(), key=lambda q: (q.order, q.name))


def ordered(names) -> tuple[str, ...]:
    """``names`` in display order (registered order first, then by name)."""
    return tuple(sorted(names, key=lambda n: (quantity(n).order, n)))


def is_loss(name: str) -> bool:
    return quantity(name).kind == "loss"


def is_accuracy(name: str) -> bool:
    return quantity(name).kind == "accuracy"


def main_quantity(names) -> str:
    """The quantity to show by default: the train loss if present, else the first loss."""
    names = ordered(names)
    losses = [n for n in names if is_loss(n)]
    return (losses or list(names))[0]


for _order, _split in enumerate(SPLIT_NAMES):
    register_quantity(Quantity(f"{_split}_loss", f"{_split} loss", colormap="viridis",
                               loggable=True, kind="loss", order=10 * _order))
    register_quantity(Quantity(f"{_split}_acc", f"{_split} accuracy", unit="%",
                               colormap="magma", kind="accuracy", order=10 * _order + 1))
    # sharded evaluation (run/shards.py): the standard error of the mean over the shards
    register_quantity(Quantity(f"{_split}_loss_se", f"{_split} loss standard error",
                               colormap="cividis", kind="error", order=10 * _order + 2))
    register_quantity(Quantity(f"{_split}_acc_se", f"{_split} accuracy standard error",
                               unit="%", colormap="cividis", kind="error", order=10 * _order + 3))
