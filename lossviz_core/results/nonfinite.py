"""Why a computed point is not finite: a BatchNorm running variance below zero, or the loss.

With ``dir_type='states'`` the BatchNorm running variances move with the point too,
``var(α, β) = var + α·d₁ + β·d₂`` per channel, and an interpolation beyond its end points
makes some negative (Li et al.'s Figure 9 beyond α ≈ 1.1). Eval-mode BatchNorm divides by
``sqrt(var + eps)``, so the loss there is NaN: not a divergence of the loss. The loss
measure records, with the result, the per-channel constraints ``c + α·a + β·b ≥ 0``
(``c = var + eps``, ``a``/``b`` the directions' entries) that can fail, and
:func:`explain` says per point which layer's variance is negative.

The record (``specs["evaluator"]["non_finite"]``, made by :func:`running_var_record`)::

    {"bn_running_var": {"bn1": [[c, a, b], ...], ...}}   # only the constraints that bind

``{}`` means checked, with no running variance that moves. Files without the record (older
ones, the reference's) still open: perturbing ``weights`` leaves the statistics alone, so a
non-finite loss there diverged; otherwise the cause is "not recorded".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossviz_core.results.quantities import is_loss

RECORD_KEY = "non_finite"
BN_KEY = "bn_running_var"
BN_CAUSE = "BatchNorm running variance < 0"
_SUFFIX = ".running_var"


def running_var_record(model: Any, plane: Any) -> dict[str, Any]:
    """The record of ``plane``'s BatchNorm running variances (see the module docstring).

    ``plane``: a :class:`~lossviz_core.plane.Plane` (``names``, ``theta``, ``d1``, ``d2``
    aligned); ``model``: its module, whose BatchNorm layers give ``eps``."""
    modules = dict(model.named_modules())
    layers = []
    for j, name in enumerate(plane.names):
        if not name.endswith(_SUFFIX):
            continue  # only these tensors are made (a seeded plane draws each on request)
        layer = name[: -len(_SUFFIX)]
        eps = float(getattr(modules.get(layer), "eps", 0.0))
        layers.append((layer, _numpy(plane.theta[j]) + eps, _numpy(plane.d1[j]),
                       _numpy(plane.d2[j])))
    return bn_record(layers)


def bn_record(layers: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray]]
              ) -> dict[str, Any]:
    """``{"bn_running_var": {layer: [[c, a, b], ...]}}`` from ``(layer, c, a, b)`` arrays
    (``c = var + eps`` per channel), keeping only the constraints that can bind."""
    out: dict[str, list[list[float]]] = {}
    for layer, c, a, b in layers:
        rows = _binding(np.asarray(c, float).ravel(), np.asarray(a, float).ravel(),
                        np.asarray(b, float).ravel())
        if len(rows):
            out[layer] = [[float(f"{v:.9g}") for v in row] for row in rows]
    return {BN_KEY: out} if out else {}


@dataclass(frozen=True)
class NonFinite:
    """Computed points whose value is not finite, and why.

    ``mask``: the points explained (grid shape); ``layer``: per point the index into
    ``layers`` of the first BatchNorm layer whose running variance + eps is below zero
    there, else -1; ``known``: whether the other points are known to have diverged (the
    result records its BatchNorm variances, or perturbs no running statistics)."""

    mask: np.ndarray
    layer: np.ndarray
    layers: tuple[str, ...]
    known: bool
    x: np.ndarray
    is_line: bool

    @property
    def count(self) -> int:
        return int(self.mask.sum())

    def describe(self) -> str:
        """'9 non-finite: BatchNorm running variance < 0 (bn1 at α ≥ 1.4)', '2 non-finite
        loss (diverged)', or '' when every point is finite."""
        n = self.count
        if not n:
            return ""
        if not (self.mask & (self.layer >= 0)).any():
            return f"{n} non-finite loss ({self._loss()})"
        return f"{n} non-finite: {self.cause()}"

    def cause(self) -> str:
        """What made the points non-finite: 'BatchNorm running variance < 0 (bn1 at
        α ≥ 1.4)', 'loss diverged', 'cause not recorded', or both with their counts."""
        bn = int((self.mask & (self.layer >= 0)).sum())
        other = self.count - bn
        if not bn:
            return self._other()
        where = "; ".join(f"{name} at {self._where(k)}" if self.is_line or len(self.layers) > 1
                          else name
                          for k, name in enumerate(self.layers)
                          if (self.layer[self.mask] == k).any())
        text = f"{BN_CAUSE} ({where})"
        return f"{bn} {text}, {other} {self._other()}" if other else text

    def short(self) -> str:
        """The cause in a few words, for a legend: 'BatchNorm running variance < 0',
        'loss diverged', 'cause not recorded', or two of them joined by 'or'."""
        bn = bool((self.mask & (self.layer >= 0)).any())
        other = bool((self.mask & (self.layer < 0)).any())
        return " or ".join([BN_CAUSE] * bn + [self._other()] * other)

    def at(self, index: Any) -> str:
        """Why the point at ``index`` (a grid index) is not finite: 'BatchNorm running
        variance < 0 in bn1', 'loss diverged' or 'cause not recorded'."""
        k = int(self.layer[index])
        return f"{BN_CAUSE} in {self.layers[k]}" if k >= 0 else self._other()

    def _other(self) -> str:
        return f"loss {self._loss()}" if self.known else self._loss()

    def _loss(self) -> str:
        return "diverged" if self.known else "cause not recorded"

    def _where(self, k: int) -> str:
        points = self.mask & (self.layer == k)
        if not self.is_line:
            return f"{int(points.sum())} point{'s' * (int(points.sum()) != 1)}"
        last = len(self.x) - 1
        parts = []
        for i0, i1 in _runs(points):
            a, b = _num(self.x[i0]), _num(self.x[i1])
            if i1 == last and i0 > 0:
                parts.append(f"α ≥ {a}")
            elif i0 == 0 and i1 < last:
                parts.append(f"α ≤ {b}")
            else:
                parts.append(f"α = {a}" if i0 == i1 else f"α = {a}…{b}")
        return " and ".join(parts)


def explain(result: Any, mask: np.ndarray | None = None) -> NonFinite:
    """Why ``result``'s points in ``mask`` are not finite (default: the computed points
    where a loss is not finite, see :func:`non_finite_mask`)."""
    mask = non_finite_mask(result) if mask is None else np.asarray(mask, bool)
    record = recorded(result.specs)
    layers = tuple((record or {}).get(BN_KEY, {}))
    layer = np.full(mask.shape, -1, dtype=int)
    if layers and mask.any():
        idx = np.nonzero(mask)
        a = np.asarray(result.x, float)[idx[-1]]
        b = np.zeros_like(a) if result.y is None else np.asarray(result.y, float)[idx[0]]
        first = np.full(len(a), -1, dtype=int)
        for k in reversed(range(len(layers))):  # the first layer in model order wins
            rows = np.asarray(record[BN_KEY][layers[k]], float).reshape(-1, 3)
            low = (rows[:, 0][None] + a[:, None] * rows[:, 1][None]
                   + b[:, None] * rows[:, 2][None] < 0).any(axis=1)
            first[low] = k
        layer[idx] = first
    known = record is not None or _statistics_fixed(result)
    return NonFinite(mask, layer, layers, known, np.asarray(result.x, float), result.y is None)


def summary(parts: Iterable[NonFinite]) -> str:
    """One line for several results' non-finite points (a compare grid's legend)."""
    parts = [p for p in parts if p.count]
    if len(parts) <= 1:
        return parts[0].describe() if parts else ""
    n = sum(p.count for p in parts)
    bn = sum(int((p.mask & (p.layer >= 0)).sum()) for p in parts)
    loss = "diverged" if all(p.known for p in parts) else "cause not recorded"
    if not bn:
        return f"{n} non-finite loss ({loss})"
    if bn == n:
        return f"{n} non-finite: {BN_CAUSE}"
    return f"{n} non-finite: {bn} {BN_CAUSE}, {n - bn} loss {loss}"


def non_finite_mask(result: Any, quantity: str | None = None) -> np.ndarray:
    """Computed points where ``quantity`` (default: any loss the result holds) is not
    finite."""
    names = [quantity] if quantity is not None else (
        [q for q in result.values if is_loss(q)] or [result.main_quantity()])
    bad = np.zeros(result.done.shape, dtype=bool)
    for q in names:
        bad |= ~np.isfinite(np.asarray(result.values[q], float))
    return bad & np.asarray(result.done, bool)


def recorded(specs: dict[str, Any]) -> dict[str, Any] | None:
    """The result's record of its BatchNorm variances, or None when it has none."""
    evaluator = specs.get("evaluator") if isinstance(specs, dict) else None
    record = evaluator.get(RECORD_KEY) if isinstance(evaluator, dict) else None
    return record if isinstance(record, dict) else None


# --- internals -------------------------------------------------------------------------


def _statistics_fixed(result: Any) -> bool:
    """The recipe perturbs parameters only: the running statistics never move."""
    recipe = result.recipe
    return recipe is not None and recipe.directions.dir_type == "weights"


def _numpy(t: Any) -> np.ndarray:
    return np.asarray(t.detach().double().cpu().numpy() if hasattr(t, "detach") else t, float)


def _binding(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rows ``[c, a, b]`` of the constraints ``c + α·a + β·b ≥ 0`` that are not implied
    by the others. Divided by ``c > 0`` they read ``⟨(α, β), u⟩ ≤ 1`` with
    ``u = −(a, b)/c``; a ``u`` inside the convex hull of the others and 0 is implied by them,
    so only the hull's vertices bind (two per layer on a line)."""
    moving = (a != 0) | (b != 0) | (c < 0)
    c, a, b = c[moving], a[moving], b[moving]
    positive = c > 0
    keep = np.nonzero(~positive)[0].tolist()  # negative (or zero) at the centre already
    if positive.any():
        rows = np.nonzero(positive)[0]
        u = -np.stack([a[rows], b[rows]], axis=1) / c[rows, None]
        keep += rows[_hull_vertices(u)].tolist()
    keep = sorted(set(keep))
    return np.stack([c[keep], a[keep], b[keep]], axis=1) if keep else np.zeros((0, 3))


def _hull_vertices(p: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``p`` (n, 2) that are vertices of the convex hull of ``p``
    and the origin (Andrew's monotone chain; collinear and repeated points dropped)."""
    pts = np.vstack([p, [[0.0, 0.0]]])
    order = np.lexsort((pts[:, 1], pts[:, 0]))

    def chain(indices: np.ndarray) -> list[int]:
        out: list[int] = []
        for i in indices:
            while len(out) >= 2:
                o, s = pts[out[-2]], pts[out[-1]]
                t = pts[i]
                if (s[0] - o[0]) * (t[1] - o[1]) - (s[1] - o[1]) * (t[0] - o[0]) > 0:
                    break
                out.pop()
            out.append(int(i))
        return out

    lower, upper = chain(order), chain(order[::-1])
    vertices = set(lower[:-1] + upper[:-1]) or set(lower)
    return np.array(sorted(i for i in vertices if i < len(p)), dtype=int)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last)`` of each run of True in a 1-D mask."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(int)
    d = np.diff(m)
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0] - 1, strict=True))


def _num(v: float) -> str:
    return f"{float(v):.4g}".replace("-", "−")
