"""Sharded evaluation: a point's pass over the data in K shards, merged exactly, with an error bar.

A grid point's loss is the sample-weighted mean over a whole split. Splitting the split into
K contiguous shards of n_k examples, shard k gives its partial sums Σloss_k, Σcorrect_k and
its count n_k (its mean m_k = Σloss_k / n_k); the one-pass values are recovered exactly::

    loss = Σ_k Σloss_k / Σ_k n_k          accuracy = 100 · Σ_k Σcorrect_k / Σ_k n_k

and the spread of the shard means gives a standard error of the point's loss for free (no
extra pass). With weights w_k = n_k / N (N = Σ n_k) and the merged mean m = Σ_k w_k m_k::

    SE² = K / (K − 1) · Σ_k w_k² (m_k − m)²

the usual estimator for a weighted mean of K cluster means (a ratio estimator over the
shards). For equal shards (w_k = 1/K) it is ``numpy.std(m, ddof=1) / sqrt(K)``; it is zero
when every shard is a copy of the same data. ``{split}_loss_se`` and ``{split}_acc_se`` are
stored as quantities next to the loss and accuracy. n_k is what the shard's mean is over:
its examples, or its tokens for a loss that counts its own (``lm``, ``Evaluator.counts``); a
quantity the loss derives from its mean (perplexity) comes from the merged mean.

A shard is an :class:`~lossviz_core.evaluation.evaluate.Evaluator` over views ``x[a:b]``,
``y[a:b]`` of the workspace's data (no copy), sharing its model and plane and pinned to the
workspace evaluator's decisions (batch, mode, precision, memory format, compile), so every
shard runs the same kernels the one-pass evaluation would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any

import numpy as np
import torch

from lossviz_core.data.base import Split, StreamSplit
from lossviz_core.errors import InputError
from lossviz_core.evaluation.evaluate import Evaluator
from lossviz_core.progress import Chunk
from lossviz_core.results.result import SurfaceResult
from lossviz_core.run.grid import iter_surface

SE_SUFFIX = "_se"


def shard_bounds(n: int, k: int) -> list[tuple[int, int]]:
    """``k`` contiguous shards ``[a, b)`` of ``n`` examples whose sizes differ by at most one."""
    if k < 1 or k > n:
        raise InputError(f"cannot split {n} examples into {k} shards; use --shards 1..{n}")
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def merged_mean(means: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The one-pass mean from shard means ``(..., K)`` and counts ``(K,)``: Σ n_k m_k / Σ n_k."""
    counts = np.asarray(counts, dtype=np.float64)
    return (np.asarray(means, dtype=np.float64) * counts).sum(-1) / counts.sum()


def standard_error(means: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Standard error of the merged mean from shard means ``(..., K)`` and counts ``(K,)``.

    ``sqrt(K/(K−1) · Σ w_k² (m_k − m)²)`` with ``w_k = n_k / Σ n``; equal shards give
    ``numpy.std(means, ddof=1) / sqrt(K)``. NaN for a single shard (no spread to measure).
    """
    m = np.asarray(means, dtype=np.float64)
    w = np.asarray(counts, dtype=np.float64)
    w = w / w.sum()
    k = m.shape[-1]
    if k < 2:
        return np.full(m.shape[:-1], np.nan)
    # m_k − m = Σ_j w_j (m_k − m_j): written pairwise, identical shard means give exactly 0
    dev = ((m[..., :, None] - m[..., None, :]) * w).sum(-1)
    return np.sqrt(k / (k - 1) * (w**2 * dev**2).sum(-1))


def se_quantities(quantities: tuple[str, ...]) -> tuple[str, ...]:
    """The standard-error quantities that go with ``{split}_loss`` / ``{split}_acc``."""
    return tuple(q + SE_SUFFIX for q in quantities
                 if q.endswith(("_loss", "_acc")) and not q.endswith(SE_SUFFIX))


@dataclasses.dataclass
class _ShardData:
    """What an evaluator reads: ``train`` / ``test`` splits (here: views of one shard)."""

    train: Any
    test: Any = None


def _view(split: Any, a: int, b: int) -> Any:
    if split is None:
        return None
    if isinstance(split, StreamSplit):
        subset = torch.utils.data.Subset(split.dataset, range(a, b))
        return StreamSplit(subset, split.workers, split.input_shape)
    return Split(split.x[a:b], split.y[a:b], host=getattr(split, "host", False))


class ShardedLoss:
    """The ``loss`` measure evaluated in ``k`` shards per split, merged, with standard errors.

    Built from a workspace whose loss measure has been probed (``ws.measure("loss")``);
    quantities: the loss measure's, then ``{split}_loss_se`` (and ``{split}_acc_se``).
    """

    name = "loss"
    needs_grad = False

    def __init__(self, ws: Any, k: int) -> None:
        base = ws.measure("loss")
        r, c = ws.recipe, ws.recipe.compute
        self.base, self.k = base, int(k)
        self.splits = tuple(s.name for s in base.splits)
        data = {s: ws.data.split(s) for s in self.splits}
        bounds = {s: shard_bounds(len(data[s]), self.k) for s in self.splits}
        pinned = dict(base.decisions)
        self.shards = []
        for i in range(self.k):
            views = {s: _view(data[s], *bounds[s][i]) for s in self.splits}
            self.shards.append(Evaluator(
                ws.model, ws.plane, _ShardData(views.get("train"), views.get("test")),
                splits=self.splits, loss=ws.loss, device=ws.device, precision=c.precision,
                batch_size=c.batch_size, compile=c.compile, multi=c.multi,
                memory_format=c.memory_format,
                n_points=base.n_points, output=r.model.output, capabilities=ws.capabilities,
                pinned=pinned))
        for shard in self.shards:
            shard.chunk_size  # noqa: B018 - each shard's (pinned) probe runs here, once

    @property
    def quantities(self) -> tuple[str, ...]:
        base = self.base.quantities
        return base + se_quantities(base)

    @property
    def chunk_size(self) -> int:
        return self.base.chunk_size  # the same work per point as one pass

    @property
    def decision_log(self) -> list[dict[str, Any]]:
        """The shards' decisions (pinned to the one-pass evaluator's: the same ``why``)."""
        log = [dict(p, shards=self.k) for p in self.shards[0].decision_log]
        log[0]["why"] = self.base.decision_log[0]["why"]
        return log

    @property
    def decision_id(self) -> int:
        return self.shards[0].decision_id

    @property
    def info(self) -> dict[str, Any]:
        return dict(self.base.info, shards=self.k)

    def evaluate(self, coords: np.ndarray) -> dict[str, np.ndarray]:
        """Merged loss and accuracy at each row of ``coords``, and their standard errors."""
        parts = [shard.evaluate(coords) for shard in self.shards]
        out: dict[str, np.ndarray] = {}
        for s in self.splits:
            # what each shard's mean is over: its examples, or its tokens (the lm loss)
            counts = np.array([shard.counts[s] for shard in self.shards])
            for q in (f"{s}_loss", f"{s}_acc"):
                if q not in parts[0]:
                    continue
                means = np.stack([p[q] for p in parts], axis=-1)
                out[q] = merged_mean(means, counts)
                out[q + SE_SUFFIX] = standard_error(means, counts)
            for extra in self.base.loss_fn.entry.quantities:  # perplexity: of the merged mean
                out[f"{s}_{extra.name}"] = extra.of_mean(out[f"{s}_loss"])
        return out


def shard_workspace(ws: Any, k: int) -> Any:
    """``ws`` with its loss measure evaluated in ``k`` shards (``k`` = 1: ``ws`` itself);
    a workspace of several direction seeds has each seed's sharded."""
    if int(k) <= 1:
        return ws
    members = getattr(ws, "members", None)
    if members:
        return ws.with_members([shard_workspace(m, k) for m in members])
    if not any(m.name == "loss" for m in ws.measures):
        raise InputError("--shards splits the loss measure's pass; this recipe has no loss")
    measures = [ShardedLoss(ws, k) if m.name == "loss" else m for m in ws.measures]
    return dataclasses.replace(ws, measures=measures)


def add_quantities(result: SurfaceResult, store: Any, names: tuple[str, ...]) -> None:
    """Give ``result`` and its file the quantities ``names`` they lack (NaN where not done).

    The store's file was made for the workspace's own quantities; sharding adds the standard
    errors. A resumed file that holds them already keeps its values."""
    missing = [q for q in names if q not in result.values]
    if not missing:
        return
    known = {}
    if store is not None:
        from lossviz_core.results.store import read_result

        old = read_result(store.path)
        known = {q: old.values[q] for q in missing if q in old.values}
    for q in missing:
        result.values[q] = np.full(result.shape, np.nan)
        if q in known:
            result.values[q][result.done] = known[q][result.done]
    if store is None or len(known) == len(missing):
        return
    store.add_quantities(missing, result.shape)


def sharded_quantities(ws: Any, k: int) -> tuple[str, ...]:
    """The quantities a ``k``-sharded evaluation of ``ws`` adds (none for ``k`` = 1)."""
    if int(k) <= 1:
        return ()
    loss = next((m for m in ws.measures if m.name == "loss"), None)
    return () if loss is None else se_quantities(loss.quantities)


class ShardedExecutor:
    """The local executor with the loss pass split into ``shards`` (this process's workspace)."""

    name = "local"

    def __init__(self, shards: int = 1) -> None:
        self.shards = int(shards)

    def run(self, job: Any, store: Any = None) -> Generator[Chunk, None, SurfaceResult]:
        ws = shard_workspace(job.workspace, self.shards)
        add_quantities(job.result, store, ws.quantities)
        return iter_surface(ws, job.result, store)
