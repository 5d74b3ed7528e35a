"""Grid computation: coarse-to-fine point order and the ``iter_surface`` generator."""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Protocol

import numpy as np

from lossviz_core.progress import Chunk
from lossviz_core.recipe.spec import GridSpec, Recipe
from lossviz_core.results.result import SurfaceResult


class PointEvaluator(Protocol):
    chunk_size: int

    def evaluate(self, coords: np.ndarray) -> dict[str, np.ndarray]: ...


def bisection_depth(n: int) -> np.ndarray:
    """Depth of each index of an axis of ``n`` points under recursive bisection.

    The two ends have depth 0, the middle depth 1, the quarter points depth 2, ... so
    the indices of depth <= d form an evenly spread coarse grid that always spans the
    whole range.
    """
    depth = np.full(n, -1, dtype=int)
    depth[0] = depth[n - 1] = 0
    level, intervals = 0, [(0, n - 1)]
    while intervals:
        level += 1
        nxt = []
        for a, b in intervals:
            if b - a > 1:
                m = (a + b) // 2
                depth[m] = level
                nxt += [(a, m), (m, b)]
        intervals = nxt
    return depth


def point_order(shape: tuple[int, ...]) -> np.ndarray:
    """Flat C-order indices of a grid of ``shape``, coarse to fine.

    A point's level is the larger of its row and column bisection depths; points are
    visited level by level, so after each level the finished points form a complete
    coarser grid over the whole range.
    """
    if len(shape) == 1:
        level = bisection_depth(shape[0])
    else:
        ny, nx = shape
        level = np.maximum.outer(bisection_depth(ny), bisection_depth(nx)).ravel()
    return np.argsort(level, kind="stable")


def fill_missing(z: np.ndarray, done: np.ndarray | None = None) -> np.ndarray:
    """A preview of a partly computed grid: the points not computed yet, interpolated.

    Coarse-to-fine order (:func:`point_order`) finishes ever finer complete sub-grids; the
    finest complete one is interpolated bilinearly over the whole grid and the finished
    points are kept, so the preview is a smooth version of the final surface that sharpens
    as points arrive. Grids finished in another order fall back to the nearest finished
    point. ``done`` marks computed points (default: the finite ones); a computed point whose
    loss is NaN/inf (diverged) stays as it is. O(grid size): cheap enough for every repaint.
    """
    z = np.asarray(z, dtype=float)
    good = np.isfinite(z)
    todo = ~good if done is None else ~np.asarray(done, dtype=bool)
    if not todo.any() or not good.any():
        return z.copy()
    out = z.copy()
    if z.ndim == 1:
        idx = np.flatnonzero(good)
        out[todo] = np.interp(np.flatnonzero(todo), idx, z[idx])
        return out
    ny, nx = z.shape
    depth_y, depth_x = bisection_depth(ny), bisection_depth(nx)
    sub = None
    for d in range(int(max(depth_y.max(), depth_x.max())) + 1):
        rows, cols = np.flatnonzero(depth_y <= d), np.flatnonzero(depth_x <= d)
        if not good[np.ix_(rows, cols)].all():
            break
        sub = rows, cols
    if sub is None:
        from scipy.ndimage import distance_transform_edt

        idx = distance_transform_edt(~good, return_distances=False, return_indices=True)
        out[todo] = z[tuple(idx)][todo]
        return out
    rows, cols = sub
    # Grid coordinates are evenly spaced, so interpolating in index space is exact.
    along_x = np.stack([np.interp(np.arange(nx), cols, r) for r in z[np.ix_(rows, cols)]])
    full = np.stack([np.interp(np.arange(ny), rows, c) for c in along_x.T], axis=1)
    out[todo] = full[todo]
    return out


def grid_coords(result: SurfaceResult, indices: np.ndarray) -> np.ndarray:
    """(k, 1) or (k, 2) coordinates (α, β) of flat grid indices."""
    if result.y is None:
        return result.x[indices][:, None]
    nx = len(result.x)
    return np.stack([result.x[indices % nx], result.y[indices // nx]], axis=1)


def iter_surface(
    evaluator: PointEvaluator,
    result: SurfaceResult,
    store=None,
    chunk_size: int | None = None,
) -> Generator[Chunk, None, SurfaceResult]:
    """Compute every point of ``result`` not yet done, coarse to fine.

    Yields a :class:`Chunk` per batch of finished points (already written into
    ``result`` and, when given, the ``store``); returns ``result``. Cancel by stopping the
    iteration: finished chunks stay in ``result`` and the file, and a resumed run computes
    only the rest. The first chunks are small so a coarse preview appears at once.
    """
    order = point_order(result.shape)
    todo = order[~result.done.reshape(-1)[order]]
    total = int(result.done.size)
    done = total - len(todo)
    limit = max(1, int(chunk_size or evaluator.chunk_size))
    size = min(limit, 4)
    start_t = time.perf_counter()
    computed = 0
    pos = 0
    try:
        while pos < len(todo):
            idx = todo[pos:pos + size]
            # a point evaluator may keep no decisions (a stand-in): one record, id 0
            decision = getattr(evaluator, "decision_id", 0)  # before: evaluate() may change it
            values = evaluator.evaluate(grid_coords(result, idx))
            result.apply_chunk(idx, values)
            if store is not None:
                log = getattr(evaluator, "decision_log", None)
                if log:
                    store.set_decisions(log)
                store.write_chunk(idx, values, plan=decision)
            pos += len(idx)
            done += len(idx)
            computed += len(idx)
            elapsed = time.perf_counter() - start_t
            yield Chunk(indices=idx, values=values, done=done, total=total, elapsed=elapsed,
                        points_per_second=computed / elapsed if elapsed > 0 else 0.0)
            size = min(limit, size * 2)
    finally:
        if store is not None and not result.complete:
            store.close()  # stopped early: release the file (a complete one is finished)
    return result


def make_result(
    spec: Recipe | GridSpec, specs: dict | None = None, quantities: tuple[str, ...] | None = None
) -> SurfaceResult:
    """An empty result (NaN everywhere) for the grid of a recipe (or a bare grid).

    ``quantities`` default to the loss and accuracy of the recipe's splits (a bare grid:
    the train split's)."""
    grid = spec.grid if isinstance(spec, Recipe) else spec
    if quantities is None:
        splits = spec.loss.splits if isinstance(spec, Recipe) else ("train",)
        quantities = tuple(f"{s}_{q}" for s in splits for q in ("loss", "acc"))
    y = None if grid.y is None else grid.y.values()
    return SurfaceResult.empty(grid.x.values(), y, quantities, specs)
