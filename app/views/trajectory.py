"""The PCA trajectory's words: what a hovered checkpoint says, which epochs get a label.

Pure geometry on pixel rectangles (no scene), shared by the 2-D map and the 3-D surface.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import QRectF

from lossviz_core.results.result import Trajectory

# where a label may sit around its point: text to the upper right first, then the others
ANCHORS = ((-0.15, 1.0), (1.15, 1.0), (-0.15, 0.0), (1.15, 0.0))
HOVER_PIXELS = 9.0  # a trajectory point within this distance of the mouse is hovered


def _number(v: float) -> str:
    return f"{v:.4g}" if np.isfinite(v) else "n/a"


def checkpoint_lines(t: Trajectory, k: int) -> list[str]:
    """['epoch 4', 'loss 0.3125', 'off-plane distance 0.0123'] for checkpoint ``k``
    (['model B at (1, 0)', 'loss 0.0153'] for a model the plane goes through)."""
    loss = float(np.asarray(t.loss, float)[k]) if len(t.loss) > k else float("nan")
    if t.labels:
        return [f"model {t.point_label(k)} at ({t.x[k]:.3g}, {t.y[k]:.3g})",
                f"loss {_number(loss)}"]
    off = float(np.asarray(t.off_plane, float)[k]) if len(t.off_plane) > k else float("nan")
    return [
        t.point_label(k),
        f"loss {_number(loss)}",
        f"off-plane distance {_number(off)}",
    ]


def describe_checkpoint(t: Trajectory, k: int) -> str:
    """One line for a status bar: 'epoch 4 · loss 0.3125 · off-plane distance 0.0123'."""
    return " · ".join(checkpoint_lines(t, k))


def nearest_point(
    px: np.ndarray, py: np.ndarray, x: float, y: float, radius: float = HOVER_PIXELS
) -> int | None:
    """Index of the point (pixel coordinates) nearest (x, y) within ``radius``, else None.
    Ties (checkpoints on one pixel near the minimum) go to the latest epoch."""
    if len(px) == 0:
        return None
    d = np.hypot(np.asarray(px, float) - x, np.asarray(py, float) - y)
    d = np.where(np.isfinite(d), d, np.inf)
    k = len(d) - 1 - int(np.argmin(d[::-1]))
    return k if d[k] <= radius else None


def label_order(px: np.ndarray, py: np.ndarray) -> list[int]:
    """First, last, then each next point the farthest (on screen) from those taken: labels
    spread along the path instead of piling up where the steps get short."""
    n = len(px)
    if n == 0:
        return []
    order = [0] + ([n - 1] if n > 1 else [])
    pts = np.column_stack([px, py]).astype(float)
    pts = np.where(np.isfinite(pts), pts, 0.0)
    dist = np.min([np.hypot(*(pts - pts[i]).T) for i in order], axis=0)
    dist[order] = -1
    while len(order) < n:
        k = int(np.argmax(dist))
        order.append(k)
        dist = np.minimum(dist, np.hypot(*(pts - pts[k]).T))
        dist[order] = -1
    return order


def place_labels(
    order: Sequence[int],
    rect_for: Callable[[int, tuple[float, float]], QRectF],
    must: Sequence[int] = (),
    obstacles: Sequence[QRectF] = (),
) -> dict[int, tuple[float, float]]:
    """{index: anchor} for labels that never overlap: each in ``order`` takes the first
    anchor whose rectangle meets no placed label (and, if it can, no obstacle: the path's
    markers, ``obstacles[i]`` for point i, its own excepted), or is left out. ``must``
    (first and last) are always placed, on their least crowded anchor if none is free."""
    placed: list[QRectF] = []
    chosen: dict[int, tuple[float, float]] = {}

    def hits(r: QRectF, rects: Sequence[QRectF]) -> int:
        return sum(r.intersects(p) for p in rects)

    for k in order:
        others = [o for i, o in enumerate(obstacles) if i != k]
        rects = [(a, rect_for(k, a)) for a in ANCHORS]
        free = [(a, r) for a, r in rects if not hits(r, placed)]
        clear = [(a, r) for a, r in free if not hits(r, others)]
        if clear:
            a, r = clear[0]
        elif free and k in must:
            a, r = min(free, key=lambda ar: hits(ar[1], others))
        elif k in must:
            a, r = min(rects, key=lambda ar: hits(ar[1], placed))
        else:
            continue
        chosen[k] = a
        placed.append(r)
    return chosen
