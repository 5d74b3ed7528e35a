"""A cluster driver's bookkeeping: the queue of tiles to hand out, and the file's plan list."""

from __future__ import annotations

from typing import Any

import numpy as np

TILE_SECONDS, MAX_TILE = 0.5, 512  # a tile's work, as the evaluator sizes its chunks


class TileQueue:
    """The points still to hand out, in plan (coarse-to-fine) order.

    ``take(size)`` cuts the next tile; a lost worker's tiles come back with ``give_back`` and
    are handed out first, earliest in the plan first, so the preview keeps filling evenly."""

    def __init__(self, todo: np.ndarray, size: int) -> None:
        self.todo, self.pos = np.asarray(todo), 0
        self.rank = np.empty(size, dtype=np.int64)
        self.rank[self.todo] = np.arange(len(self.todo))
        self.returned: list[np.ndarray] = []

    @property
    def left(self) -> bool:
        return bool(self.returned) or self.pos < len(self.todo)

    def take(self, size: int) -> np.ndarray:
        if self.returned:
            return self.returned.pop(0)
        tile = self.todo[self.pos:self.pos + max(1, int(size))]
        self.pos += len(tile)
        return tile

    def give_back(self, tile: np.ndarray) -> None:
        self.returned.append(tile)
        self.returned.sort(key=lambda t: self.rank[t[0]])


class DecisionBook:
    """The file's decision records (how points were computed; its ``plans`` attribute):
    every worker's decisions, deduplicated, with stable ids.

    A resumed file keeps its records (its points were computed by them); a new one lists the
    workers' decisions only (the driver's own probe computed no point)."""

    def __init__(self, records: list[dict] | None = None) -> None:
        self.decision_log: list[dict] = list(records or [])

    def id_of(self, decision: dict[str, Any], **where: Any) -> int:
        entry = dict(decision, **where)
        if entry not in self.decision_log:
            self.decision_log.append(entry)
        return min(self.decision_log.index(entry), 255)  # the file's plan ids are uint8


def tile_size(points: int, seconds: float, decision: dict[str, Any]) -> int:
    """Points of TILE_SECONDS at the rate a worker just showed (its probe may have been far
    off on a busy node), whole groups of a multi-point pass (``decision["multi_k"]``): a
    tile's round trip to the driver is then small against its work."""
    if seconds <= 0:
        return MAX_TILE
    k = max(1, int(decision.get("multi_k", 1)))
    size = max(1, min(MAX_TILE, round(TILE_SECONDS * points / seconds)))
    return -(-size // k) * k
