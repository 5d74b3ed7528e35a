"""Seeded directions: d₁, d₂ regenerated block by block from the seed, never held in full.

The stream is the ``random`` method's own (:func:`~lossviz_core.directions.vectors.
random_direction`): one CPU generator, d₁ drawn over every float tensor in order, d₂
continuing it. What a seeded direction keeps per tensor is small: the generator's state at
the start of each block of rows (5 KB per block of about a million entries), the
normalization's scale (one number per output unit, or per tensor) and whether the tensor
moves. Regenerating a block is: set the state, draw, scale.

Torch draws a float32 tensor of 16 or more entries 16 at a time (Box–Muller on entries 8
apart; when the size is not a multiple of 16 the last 16 are drawn afresh), so a block that
starts at a multiple of 16 entries, and has at least 16, draws exactly the entries the whole
tensor would. The seeded direction therefore equals the stored one wherever the
normalization is per row (``filter``, the default: each block holds whole rows); where it
needs a whole tensor's or a column's norm (``layer``, ``dlayer``, transformers' ``Conv1D``),
that norm is summed block by block in float64, equal to the stored one to fp32 rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from lossviz_core.directions.base import Directions
from lossviz_core.directions.vectors import check_ignore, output_axes
from lossviz_core.directions.weights import is_perturbable, names_of, weights_of
from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import NORMS

BLOCK = 1 << 20  # entries regenerated at once: 4 MB, held in cache while it is used
STORAGES = ("stored", "seeded")


@dataclass
class TensorSeed:
    """How one tensor of a seeded direction is made again.

    ``kind``: ``zero`` (never moves: not chosen, a bias or norm layer under ``biasbn``, an
    integer buffer), ``theta`` (a 1-D tensor under ``ignore none``: d = θ) or ``gauss``
    (drawn). ``rows``: the blocks, as ranges of rows along dim 0; ``states``: the
    generator's state at each block's start; ``scale``: multiplies the draw (one value per
    output unit along ``axis``, or a 0-dim tensor; ``None``: 1); ``divide``: the draw is
    divided by ``scale`` instead (``dlayer``, as the stored rule does); ``weight``: the draw
    is multiplied by θ (``weight``).
    """

    kind: str
    shape: tuple[int, ...]
    rows: tuple[tuple[int, int], ...] = ()
    states: tuple[Tensor, ...] = ()
    scale: Tensor | None = None
    axis: int = 0
    divide: bool = False
    weight: bool = False

    @property
    def moves(self) -> bool:
        return self.kind != "zero"

    @property
    def row_numel(self) -> int:
        return math.prod(self.shape[1:]) if self.shape else 1

    def draw(self, b: int, gen: torch.Generator, buf: Tensor, seek: bool = True) -> Tensor:
        """Block ``b``'s raw Gaussian entries, shape ``(rows, *shape[1:])`` (a view of
        ``buf``, a float32 CPU tensor of at least the block's size). ``seek``: set ``gen``
        to the block's saved state first (False: ``gen`` stands there already)."""
        r0, r1 = self.rows[b]
        if seek:
            gen.set_state(self.states[b])
        n = (r1 - r0) * self.row_numel
        return buf[:n].normal_(generator=gen).view((r1 - r0, *self.shape[1:]))

    def scaled(self, b: int, raw: Tensor, theta: Tensor | None = None) -> Tensor:
        """Normalize block ``b`` in place, as the stored rule does (``theta``: θ's block in
        float32, needed for ``weight``)."""
        if self.weight:
            return raw.mul_(theta)
        if self.scale is None:
            return raw
        if self.scale.dim() == 0:
            return raw.div_(self.scale) if self.divide else raw.mul_(self.scale)
        r0, r1 = self.rows[b]
        if self.axis == 0:
            return raw.mul_(self.scale[r0:r1].reshape((-1,) + (1,) * (raw.dim() - 1)))
        return raw.mul_(self.scale)  # one per column (Conv1D: (in, out), out along dim 1)

    def block(self, b: int, gen: torch.Generator, buf: Tensor, theta: Tensor | None) -> Tensor:
        """Block ``b`` of the direction, float32: drawn and normalized (``theta``: θ's block,
        float32; used by ``theta`` and ``weight``)."""
        if self.kind == "theta":
            return buf[: theta.numel()].view(theta.shape).copy_(theta)
        return self.scaled(b, self.draw(b, gen, buf), theta)


def blocks_of(shape: tuple[int, ...], size: int) -> tuple[tuple[int, int], ...]:
    """Ranges of rows along dim 0, each about ``size`` entries, starting at multiples of 16
    entries and holding at least 16 (so each draws what the whole tensor would)."""
    if len(shape) == 0:
        return ((0, 1),)
    n, k = shape[0], math.prod(shape[1:])
    if n * k < 16 or n == 0:
        return ((0, n),)
    step = 16 // math.gcd(k, 16)  # rows per 16-entry boundary
    per = max(step, size // max(k, 1) // step * step)
    out = [(r, min(r + per, n)) for r in range(0, n, per)]
    if len(out) > 1 and (out[-1][1] - out[-1][0]) * k < 16:  # too small a tail: merge it
        out[-2:] = [(out[-2][0], n)]
    return tuple(out)


class SeededDirection(Sequence):
    """One seeded direction seen as the list of tensors a stored one is: ``d[i]``
    regenerates tensor i whole (float32 on the CPU, then the tensor's device and dtype)."""

    def __init__(self, seeds: list[TensorSeed], like: Callable[[int], Tensor]) -> None:
        self.seeds = seeds
        self._like = like  # i -> the model's tensor i (θ while the model holds θ)

    def __len__(self) -> int:
        return len(self.seeds)

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [s.shape for s in self.seeds]

    def __getitem__(self, i):  # noqa: ANN001, ANN204 - an index or a slice, as a list
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        w = self._like(i)
        return regenerate(self.seeds[i], w).to(device=w.device, dtype=w.dtype)


def regenerate(seed: TensorSeed, theta: Tensor) -> Tensor:
    """The whole tensor of a seeded direction, float32 on the CPU (``theta``: θ's tensor)."""
    out = torch.zeros(seed.shape, dtype=torch.float32)
    if not seed.moves:
        return out
    th = theta.detach().to("cpu", torch.float32)
    gen, buf = torch.Generator(), torch.empty(_block_numel(seed), dtype=torch.float32)
    for b, (r0, r1) in enumerate(seed.rows):
        out[r0:r1] = seed.block(b, gen, buf, th[r0:r1])
    return out


def _block_numel(seed: TensorSeed) -> int:
    return max([(r1 - r0) * seed.row_numel for r0, r1 in seed.rows] or [1])


@dataclass
class SeededDirections(Directions):
    """:class:`Directions` whose ``x`` and ``y`` are regenerated on use (``seeds_x``,
    ``seeds_y``: one :class:`TensorSeed` per tensor of ``weights_of(model, dir_type)``).

    A plane built from them (:class:`~lossviz_core.plane.SeededPlane`) regenerates blocks
    as it writes them; ``x[i]`` gives a whole tensor for whoever asks (a direction file)."""

    seeds_x: list[TensorSeed] = field(default_factory=list)
    seeds_y: list[TensorSeed] | None = None

    def to(self, device: torch.device | str) -> SeededDirections:
        return self  # regenerated on the CPU and written wherever the model lives

    def line(self) -> SeededDirections:
        out = SeededDirections(self.x, None, self.dir_type, self.names, dict(self.info),
                               seeds_x=self.seeds_x, seeds_y=None)
        out.info.pop("cosine", None)
        out.info["y_norm"] = None
        return out

    def fill_info(self, **extra: Any) -> SeededDirections:
        self.info.update(extra)  # the norms and cosine are measured while drawing
        return self

    def __getstate__(self) -> dict:
        # shipped to a cluster's workers: the seeds travel, the model they were made on not
        state = dict(self.__dict__)
        state["x"] = state["y"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def bind(self, like: Callable[[int], Tensor]) -> SeededDirections:
        """Regenerate whole tensors against ``like(i)`` (the model's tensor i, holding θ)."""
        self.x = SeededDirection(self.seeds_x, like)
        self.y = None if self.seeds_y is None else SeededDirection(self.seeds_y, like)
        return self


def seeded_random(model: nn.Module, dir_type: str, norms: tuple[str, str | None],
                  ignores: tuple[str, str | None], generator: torch.Generator,
                  chosen: list[bool], block: int | None = None) -> SeededDirections:
    """d₁ (and d₂ when ``norms[1]`` is not None) as :func:`random_direction` draws them, kept
    as seeds: one pass over the stream per direction, and one more that measures their
    norms and cosine. ``model`` must hold θ; ``block``: entries per block (default
    :data:`BLOCK`)."""
    block = block or BLOCK
    weights = weights_of(model, dir_type)
    axes = output_axes(model, dir_type)
    seeds = []
    for norm, ignore in zip(norms, ignores, strict=True):
        if norm is None:
            seeds.append(None)
            continue
        if norm not in NORMS:
            raise InputError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
        ignore = check_ignore(ignore)
        seeds.append([_seed(w, axis, keep, norm, ignore, generator, block)
                      for w, axis, keep in zip(weights, axes, chosen, strict=True)])
    dirs = SeededDirections(None, None, dir_type, names_of(model, dir_type),  # type: ignore[arg-type]
                            seeds_x=seeds[0], seeds_y=seeds[1])
    dirs.bind(lambda i: weights_of(model, dir_type)[i])
    dirs.info.update(_measure(seeds[0], seeds[1], weights))
    return dirs


def _seed(w: Tensor, axis: int, keep: bool, norm: str, ignore: str, gen: torch.Generator,
          size: int) -> TensorSeed:
    shape = tuple(w.shape)
    if not is_perturbable(w):
        return TensorSeed("zero", shape)
    rows = blocks_of(shape, size)
    moves = keep and (w.dim() > 1 or ignore == "none")
    seed = TensorSeed("gauss", shape, rows, axis=axis)
    buf = torch.empty(_block_numel(seed), dtype=torch.float32)
    if w.dim() <= 1 or not moves:  # drawn only to move the stream on, as the stored rule
        for b in range(len(rows)):  # block by block: a left-out embedding is never whole
            seed.draw(b, gen, buf, seek=False)
        kind = "zero" if not moves else "theta"
        return TensorSeed(kind, shape, rows if kind == "theta" else ())
    th = w.detach().to("cpu", torch.float32)
    by_unit = norm in ("filter", "dfilter")
    sumsq = torch.zeros(shape[axis] if by_unit and axis else 1, dtype=torch.float64)
    states, row_norms = [], []
    for b in range(len(rows)):
        states.append(gen.get_state())
        raw = seed.draw(b, gen, buf, seek=False)
        if by_unit and axis == 0:  # whole rows in the block: the stored rule's own reduction
            row_norms.append(raw.reshape(raw.shape[0], -1).norm(dim=1))
        elif by_unit:
            sumsq += _sum64(raw, raw, dim=0)
        elif norm in ("layer", "dlayer"):
            sumsq += _sum64(raw, raw)
    seed.states = tuple(states)
    if by_unit:
        dnorm = torch.cat(row_norms) if axis == 0 else sumsq.sqrt().float()
        scale = 1.0 / (dnorm + 1e-10)
        if norm == "filter":
            units = th.transpose(0, axis) if axis else th
            scale = units.reshape(units.shape[0], -1).norm(dim=1) * scale
        seed.scale = scale
    elif norm == "layer":
        seed.scale = th.norm() / (sumsq.sqrt().float()[0] + 1e-10)
    elif norm == "dlayer":
        seed.scale, seed.divide = sumsq.sqrt().float()[0] + 1e-10, True
    seed.weight = norm == "weight"
    return seed


def iter_blocks(seeds: Sequence[TensorSeed | None], weights: list[Tensor]
                ) -> Iterator[tuple[int, list[Tensor | None]]]:
    """``(tensor, [block of each direction])`` over the blocks of the tensors any of
    ``seeds`` (one list of :class:`TensorSeed` per direction) moves: drawn and normalized,
    float32 on the CPU, ``None`` where that direction leaves the tensor alone. The buffers
    are reused: use a block before taking the next."""
    gens = [torch.Generator() for _ in seeds]
    size = max([_block_numel(t) for s in seeds for t in s if t.moves] or [1])
    bufs = [torch.empty(size) for _ in seeds]
    for i, w in enumerate(weights):
        own = [s[i] for s in seeds]
        moving = [t for t in own if t.moves]
        if not moving:
            continue
        need = any(t.kind == "theta" or t.weight for t in moving)
        for b, (r0, r1) in enumerate(moving[0].rows):
            th = w.detach()[r0:r1].to("cpu", torch.float32) if need else None
            yield i, [t.block(b, g, buf, th) if t.moves else None
                      for t, g, buf in zip(own, gens, bufs, strict=True)]


def _measure(sx: list[TensorSeed], sy: list[TensorSeed] | None, weights: list[Tensor]
             ) -> dict[str, Any]:
    """``x_norm``, ``y_norm`` and ``cosine`` (float64 sums, as the stored directions' are),
    in one pass regenerating both directions."""
    seeds = [sx] if sy is None else [sx, sy]
    nx = ny = dot = 0.0
    for _, (dx, *rest) in iter_blocks(seeds, weights):
        dy = rest[0] if rest else None
        nx += 0.0 if dx is None else float(_sum64(dx, dx))
        ny += 0.0 if dy is None else float(_sum64(dy, dy))
        dot += 0.0 if dx is None or dy is None else float(_sum64(dx, dy))
    info: dict[str, Any] = {"x_norm": math.sqrt(nx), "y_norm": None}
    if sy is not None:
        info["y_norm"] = math.sqrt(ny)
        info["cosine"] = dot / math.sqrt(nx * ny) if nx and ny else float("nan")
    return info


SUB = 1 << 16  # entries summed in float64 at once: small temporaries, reused by the allocator


def _sum64(a: Tensor, b: Tensor, dim: int | None = None) -> Tensor:
    """Σ a·b in float64 (over everything, or over ``dim`` 0: one sum per column), a few rows
    at a time, so no float64 copy of a block is ever made (large short-lived buffers make
    the allocator hold on to memory)."""
    if a.dim() == 0:
        a, b = a.reshape(1), b.reshape(1)
    rows = max(1, SUB // max(1, a[0].numel()))
    total = None
    for r in range(0, a.shape[0], rows):
        part = (a[r:r + rows].double() * b[r:r + rows].double())
        part = part.sum(dim=0) if dim == 0 else part.sum()
        total = part if total is None else total + part
    return total
