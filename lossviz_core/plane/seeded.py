"""The plane of seeded directions: θ + α·d₁ + β·d₂ with nothing held beyond the model.

A :class:`SeededPlane` has the interface of :class:`~lossviz_core.plane.Plane`, but keeps
neither θ nor d₁, d₂: d₁ and d₂ are regenerated block by block from their seeds
(:mod:`lossviz_core.directions.seeded`) while a point is written, and θ is read back from
a file (:mod:`.theta`). A block of rows is about a million entries; per block a point
costs drawing d₁ and d₂ there (on worker threads, a few blocks ahead) and θ + a·d₁ + b·d₂
written in place. Only the tensors the directions move are touched: the others stay θ's,
bit for bit. Where the model is float32 on the CPU, the arithmetic is the stored plane's,
element by element (θ, then + a·d₁, then + b·d₂); elsewhere (a GPU, bf16 weights) the point
is computed in float32 on the CPU and rounded once into the model's tensor.

The plane writes each point from θ exactly, so a point's weights do not depend on the
points before it (a resumed grid equals an uninterrupted one), and after :meth:`restore`
it knows the model holds θ, so the next point draws without reading θ first.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from torch import Tensor, nn

from lossviz_core.directions.seeded import SeededDirections, TensorSeed
from lossviz_core.directions.weights import names_of, weights_of
from lossviz_core.errors import InputError
from lossviz_core.plane.stored import Plane, check_directions
from lossviz_core.plane.theta import ThetaFile


class SeededPlane(Plane):
    """θ + α·d₁ + β·d₂ for :class:`SeededDirections`; ``checkpoint``: the file the model was
    loaded from (θ is read from it when it is a safetensors file holding exactly the model's
    tensors); ``threads``: workers that draw blocks ahead (default: torch's thread count).

    ``names`` / ``live``: the tensors the directions move; ``theta``, ``d1``, ``d2`` are
    whole tensors made on request (for Hessian work; a grid point never asks for them).
    """

    stackable = False  # K points at once would hold K copies of the weights
    foldable = False  # folding BN needs θ, d₁, d₂ whole

    def __init__(self, model: nn.Module, directions: SeededDirections,
                 checkpoint: str | os.PathLike | None = None, threads: int | None = None
                 ) -> None:
        check_directions(model, directions)
        self.directions, self.model = directions, model
        self.dir_type = directions.dir_type
        self.two_d = directions.seeds_y is not None
        names, weights = names_of(model, self.dir_type), weights_of(model, self.dir_type)
        seeds_y = directions.seeds_y or [TensorSeed("zero", s.shape) for s in
                                         directions.seeds_x]
        self._index, seen = [], set()
        for i, w in enumerate(weights):  # a tied tensor appears under two names: move it once
            if not w.is_floating_point() or w.data_ptr() in seen:
                continue
            seen.add(w.data_ptr())
            if directions.seeds_x[i].moves or seeds_y[i].moves:
                self._index.append(i)
        if not self._index:
            raise InputError("the directions move no parameter of the model")
        self.names = [names[i] for i in self._index]
        self.live = [weights[i] for i in self._index]
        self._seeds = [(directions.seeds_x[i], seeds_y[i]) for i in self._index]
        self.theta_file = ThetaFile(self.names, self.live, checkpoint)
        self.state_names: list[str] = []  # other states (trajectory checkpoints): not here
        self.state_live: list[Tensor] = []
        self._at_theta = True
        self._threads = max(1, threads or torch.get_num_threads())
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._theta_buf = torch.empty(0, dtype=torch.uint8)
        self._buffers: list[list[Tensor]] | None = None
        directions.bind(self._theta_of)

    # ---- what the evaluator calls -------------------------------------------------------
    @torch.no_grad()
    def write(self, a: float, b: float = 0.0) -> None:
        """Write θ + a·d₁ + b·d₂ into the moved tensors (d₁, d₂ drawn block by block)."""
        a, b = float(a), float(b)
        if a == 0.0 and b == 0.0:
            self.restore()
            return
        read_theta = not self._at_theta
        self._at_theta = False  # from here on the model is not θ, even if a block fails
        for j, blk, rx, ry in self._drawn(a, b):
            self._write_block(j, blk, a, b, rx, ry, read_theta)

    @torch.no_grad()
    def restore(self) -> None:
        """Put θ back into the moved tensors exactly (read from the θ file)."""
        if self._at_theta:
            return
        for j, (sx, sy) in enumerate(self._seeds):
            for r0, r1 in _rows(sx, sy):
                th = self.theta_file.read(j, r0, r1, self._theta_bytes(j, r0, r1))
                _rows_of(self.live[j], r0, r1).copy_(th)
        self._at_theta = True

    def load_state(self, state: Any) -> None:
        raise InputError("a plane of seeded directions evaluates points of the plane only; "
                         "use --dir-storage stored to evaluate other checkpoints")

    def is_stale(self) -> bool:
        by_name = dict(zip(names_of(self.model, self.dir_type),
                           weights_of(self.model, self.dir_type), strict=True))
        return any(n not in by_name or by_name[n].data_ptr() != t.data_ptr()
                   for n, t in zip(self.names, self.live, strict=True))

    def reattach(self) -> None:
        """Follow the model's tensors after they were replaced (moved, another layout)."""
        by_name = dict(zip(names_of(self.model, self.dir_type),
                           weights_of(self.model, self.dir_type), strict=True))
        self.live = [by_name[n] for n in self.names]
        self.generation += 1

    def stacked(self, a: Tensor, b: Tensor) -> dict[str, Tensor]:
        raise InputError("a plane of seeded directions evaluates one point at a time "
                         "(multi-point off)")

    # ---- whole tensors, on request -----------------------------------------------------
    @property
    def theta(self) -> Sequence[Tensor]:
        return _Lazy(len(self.names), self._theta_whole)

    @property
    def d1(self) -> Sequence[Tensor]:
        return _Lazy(len(self.names), lambda j: self._direction(j, 0))

    @property
    def d2(self) -> Sequence[Tensor]:
        return _Lazy(len(self.names), lambda j: self._direction(j, 1))

    @property
    def theta_by_name(self) -> dict[str, Tensor]:
        """Every float tensor of the state at θ (the moved ones read from the θ file)."""
        state = {k: v for k, v in self.model.state_dict().items() if v.is_floating_point()}
        return {**state, **{n: self._theta_whole(j) for j, n in enumerate(self.names)}}

    def close(self) -> None:
        """Stop the drawing threads and close the θ file."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.theta_file.close()

    # ---- blocks --------------------------------------------------------------------------
    def _items(self, a: float, b: float) -> list[tuple[int, int, bool, bool]]:
        """(tensor, block, draw d₁?, draw d₂?) for every block a point writes."""
        out = []
        for j, (sx, sy) in enumerate(self._seeds):
            for blk in range(len(_rows(sx, sy))):
                out.append((j, blk, a != 0.0 and sx.kind == "gauss",
                            b != 0.0 and sy.kind == "gauss"))
        return out

    def _drawn(self, a: float, b: float) -> Iterator[tuple[int, int, Tensor | None,
                                                           Tensor | None]]:
        """Each block's raw draws of d₁ and d₂ (None where not drawn), in order; drawn a
        few blocks ahead on worker threads, into buffers reused once a block is written."""
        items = self._items(a, b)
        slots = self._slots()
        if len(slots) == 1 or len(items) == 1:
            for j, blk, dx, dy in items:
                yield j, blk, *self._draw(j, blk, dx, dy, slots[0])
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="lossviz-draw")
        free = list(slots)
        pending: list[tuple[int, int, Future, list[Tensor]]] = []
        it = iter(items)

        def submit() -> None:
            item = next(it, None)
            if item is not None:
                slot = free.pop()
                pending.append((item[0], item[1], self._pool.submit(self._draw, *item, slot),
                                slot))

        for _ in slots:
            submit()
        while pending:
            j, blk, fut, slot = pending.pop(0)
            yield j, blk, *fut.result()
            free.append(slot)
            submit()

    def _slots(self) -> list[list[Tensor]]:
        """Buffer pairs (d₁, d₂) for the blocks in flight: one per drawing thread, and one."""
        if self._buffers is None:
            size = max(_block_numel(s) for pair in self._seeds for s in pair)
            n = 1 if self._threads == 1 else self._threads + 1
            self._buffers = [[torch.empty(size), torch.empty(size)] for _ in range(n)]
        return self._buffers

    def _draw(self, j: int, blk: int, dx: bool, dy: bool, bufs: list[Tensor]
              ) -> tuple[Tensor | None, Tensor | None]:
        gen = getattr(self._local, "gen", None)
        if gen is None:
            gen = self._local.gen = torch.Generator()
        sx, sy = self._seeds[j]
        return (sx.draw(blk, gen, bufs[0]) if dx else None,
                sy.draw(blk, gen, bufs[1]) if dy else None)

    def _write_block(self, j: int, blk: int, a: float, b: float, rx: Tensor | None,
                     ry: Tensor | None, read_theta: bool) -> None:
        sx, sy = self._seeds[j]
        live = self.live[j]
        r0, r1 = _rows(sx, sy)[blk]
        target = _rows_of(live, r0, r1)
        direct = live.device.type == "cpu" and live.dtype == torch.float32
        needs = (a != 0.0 and (sx.kind == "theta" or sx.weight)) or (
            b != 0.0 and (sy.kind == "theta" or sy.weight))
        th = None
        if read_theta or needs or not direct:
            th = self.theta_file.read(j, r0, r1, self._theta_bytes(j, r0, r1)).float()
        dx = self._scaled(sx, blk, rx, th) if a != 0.0 and sx.moves else None
        dy = self._scaled(sy, blk, ry, th) if b != 0.0 and sy.moves else None
        if direct:  # the stored plane's arithmetic: θ, then + a·d₁, then + b·d₂
            if read_theta:
                target.copy_(th)
            acc = target
        else:  # float32 on the CPU, rounded once into the model's dtype and device
            acc = th
        if dx is not None:
            acc.add_(dx, alpha=a)
        if dy is not None:
            acc.add_(dy, alpha=b)
        if not direct:
            target.copy_(acc)

    def _scaled(self, seed: TensorSeed, blk: int, raw: Tensor | None, th: Tensor | None
                ) -> Tensor:
        if seed.kind == "theta":
            return th.clone()
        return seed.scaled(blk, raw, th)

    def _theta_bytes(self, j: int, r0: int, r1: int) -> Tensor:
        need = self.theta_file.row_bytes(j) * max(r1 - r0, 1)
        if self._theta_buf.numel() < need:
            pin = self.live[j].device.type == "cuda"
            self._theta_buf = torch.empty(need, dtype=torch.uint8, pin_memory=pin)
        return self._theta_buf

    # ---- whole tensors ---------------------------------------------------------------------
    def _theta_whole(self, j: int) -> Tensor:
        live = self.live[j]
        out = torch.empty(live.shape, dtype=live.dtype)
        sx, sy = self._seeds[j]
        for r0, r1 in _rows(sx, sy):
            th = self.theta_file.read(j, r0, r1, self._theta_bytes(j, r0, r1))
            _rows_of(out, r0, r1).copy_(th)
        return out.to(live.device)

    def _theta_of(self, i: int) -> Tensor:
        """θ's tensor ``i`` of ``weights_of(model)`` (what a whole direction is made against)."""
        if i in self._index:
            return self._theta_whole(self._index.index(i))
        return weights_of(self.model, self.dir_type)[i]

    def _direction(self, j: int, which: int) -> Tensor:
        dirs = self.directions.x if which == 0 else self.directions.y
        if dirs is None:
            return torch.zeros_like(self.live[j])
        return torch.empty_like(self.live[j]).copy_(dirs[self._index[j]])

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)


def _rows(sx: TensorSeed, sy: TensorSeed) -> tuple[tuple[int, int], ...]:
    """The blocks of a tensor (both directions split it alike; the one that moves says)."""
    return sx.rows if sx.moves else sy.rows


def _rows_of(t: Tensor, r0: int, r1: int) -> Tensor:
    return t if t.dim() == 0 else t[r0:r1]


def _block_numel(seed: TensorSeed) -> int:
    return max([(r1 - r0) * seed.row_numel for r0, r1 in seed.rows] or [1])


class _Lazy(Sequence):
    """A list whose items are made when asked for (one whole tensor at a time)."""

    def __init__(self, n: int, make: Callable[[int], Tensor]) -> None:
        self._n, self._make = n, make

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, j):  # noqa: ANN001, ANN204
        if isinstance(j, slice):
            return [self._make(k) for k in range(*j.indices(self._n))]
        if not -self._n <= j < self._n:
            raise IndexError(j)
        return self._make(j % self._n)
