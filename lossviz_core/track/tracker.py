"""The training callback: geometry recorded while a model trains, one line in any loop.

::

    tracker = Tracker("runs/mine", model, batch=(x_probe, y_probe), optimizer=opt, every=100)
    for x, y in loader:
        opt.zero_grad(); loss = F.cross_entropy(model(x), y); loss.backward(); opt.step()
        tracker.step(loss)            # after the optimizer's step
    tracker.finish()                  # the last step too (or use `with Tracker(...) as t:`)

Every ``every`` steps (and at the last one) the tracker measures the probe examples' loss
landscape at the current weights (:mod:`.measures`) and appends one record to
``RUN/track.jsonl`` (:mod:`.records`). It copies the weights one step before a record, so
the record knows the update of the step just taken; it never changes the model, its
gradients or any random state, so a tracked run trains exactly as an untracked one.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lossviz_core.curvature.examples import Examples, examples_of
from lossviz_core.curvature.hessian import HessianOperator
from lossviz_core.curvature.products import folded_forward
from lossviz_core.data import Split
from lossviz_core.errors import InputError
from lossviz_core.losses import LossFunction, resolve_loss
from lossviz_core.losses.pyfile import LOSS as USER_LOSS
from lossviz_core.track.measures import (
    DEFAULT_MEASURES,
    SLICE_POINTS,
    TrackContext,
    check_measures,
    flat_update,
    measure_order,
)
from lossviz_core.track.records import TRACK_FILE, append_record


@dataclass(frozen=True)
class CallableLoss(LossFunction):
    """A loss given as a Python callable ``fn(outputs, targets) -> batch mean``."""

    @property
    def entry(self):
        return USER_LOSS


class Tracker:
    """Records loss-landscape measures while a model trains (see the module docstring).

    ``run_dir``: where ``track.jsonl`` goes (made if missing; one that already holds a
    track is refused unless ``overwrite``). ``model``: the module being trained. The probe
    examples the measures use: ``batch=(x, y)`` tensors, or ``examples`` (an
    :class:`~lossviz_core.curvature.Examples`). ``loss``: ``ce``, ``mse``, ``nll``, ``bce``
    or a callable ``loss(outputs, targets)`` returning the batch mean. ``every``: steps
    between records; ``measures``: names from
    :data:`~lossviz_core.track.measures.TRACK_MEASURES`. ``optimizer`` (or ``lr``, a number
    or a callable): the learning rate each record stores (the edge of stability is 2/lr).
    ``total_steps``: the last step, recorded too (otherwise call :meth:`finish`).
    ``tol``/``maxiter``: λmax's Lanczos tolerance and step cap; ``rtol``: the critical
    learning rate's relative accuracy; ``output``: the logits'
    index or key in a tuple/dict output; ``on_record(record)``: called after each record.
    A measure that fails (a model whose ops have no second derivative, say) is recorded as
    ``<name>_error``, warned about once and left out afterwards: training goes on.
    """

    def __init__(self, run_dir: str | os.PathLike, model: nn.Module,
                 batch: tuple[Tensor, Tensor] | None = None, *,
                 examples: Examples | None = None, loss: str | Callable[..., Tensor] = "ce",
                 every: int = 100, measures: Sequence[str] | str = DEFAULT_MEASURES,
                 optimizer: torch.optim.Optimizer | None = None,
                 lr: float | Callable[[], float] | None = None, total_steps: int | None = None,
                 tol: float = 1e-3, maxiter: int = 40, rtol: float = 1e-2,
                 slice_points: Sequence[float] = SLICE_POINTS, output: str | int | None = None,
                 overwrite: bool = False, model_spec: dict | None = None,
                 dataset_spec: dict | None = None, train: dict | None = None,
                 on_record: Callable[[dict[str, Any]], None] | None = None, seed: int = 0,
                 start_step: int = 0) -> None:
        if isinstance(every, bool) or int(every) != every or every < 1:
            raise InputError(f"track every must be a whole number of steps >= 1, got {every}")
        if (batch is None) == (examples is None):
            raise InputError("the tracker needs probe examples: batch=(x, y) or examples=")
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / TRACK_FILE
        if self.path.exists() and not overwrite:
            raise InputError(f"{self.run_dir} already holds {TRACK_FILE}; choose another "
                             "folder (or overwrite)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")
        self.model, self.every, self.output = model, int(every), output
        self.measures = check_measures(measures)
        self.examples = examples if examples is not None else examples_of(Split(*batch))
        self.loss = CallableLoss(getattr(loss, "__name__", "loss"), user=loss) \
            if callable(loss) else resolve_loss(loss)
        self.optimizer, self._lr = optimizer, lr
        self.total_steps = total_steps
        self.options = {"tol": float(tol), "maxiter": int(maxiter), "seed": int(seed),
                        "rtol": float(rtol),
                        "slice_points": tuple(float(c) for c in slice_points),
                        "model_spec": model_spec, "dataset_spec": dataset_spec, "train": train}
        self.on_record = on_record
        self.steps, self.seconds = int(start_step), 0.0
        self.records: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {}
        self.failed: dict[str, str] = {}  # measures that raised: off for the rest of the run
        self._before: dict[str, Tensor] | None = None
        self._last_recorded = None
        self._folded = folded_forward(model)  # traced once, reused by every record
        self._names = [n for n, p in model.named_parameters()
                       if p.requires_grad and p.is_floating_point()]
        if not self._names:
            raise InputError("the model has no trainable parameters to track")
        if self._is_record_step(self.steps + 1):
            self._snapshot()

    # ---- the loop's side -------------------------------------------------------------
    def step(self, loss: Tensor | float | None = None, epoch: Any = None) -> dict | None:
        """Call once after every optimizer step; returns the record when one was made."""
        self.steps += 1
        record = None
        if self._is_record_step(self.steps):
            record = self.record(loss, epoch)
        if self._is_record_step(self.steps + 1):
            self._snapshot()
        return record

    def finish(self, loss: Tensor | float | None = None, epoch: Any = None) -> dict | None:
        """Record the last step unless it was recorded (its update is known only if the
        weights were copied before it: give ``total_steps`` for that)."""
        if self.steps and self._last_recorded != self.steps:
            return self.record(loss, epoch)
        return None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.finish()

    # ---- one record --------------------------------------------------------------------
    def record(self, loss: Tensor | float | None = None, epoch: Any = None) -> dict[str, Any]:
        """Measure now and append the record to ``track.jsonl``; returns it."""
        start = time.perf_counter()
        dtype = "fp64" if self._dtype() == torch.float64 else "fp32"
        op = HessianOperator(self.model, self._names, self.examples, self.loss, dtype=dtype,
                             output=self.output, folded=self._folded, selection="all")
        update = None
        if self._before is not None and self._last_snapshot == self.steps - 1:
            update = flat_update(op, self._before, self.model)
        lr = self.lr()
        ctx = TrackContext(op, update, lr, self.steps, epoch, self.model, self.state,
                           self.options, self.run_dir)
        record: dict[str, Any] = {"step": self.steps, "epoch": epoch, "lr": lr}
        momentum = self._momentum()
        if momentum:
            record["momentum"] = momentum
        if loss is not None:
            record["loss"] = float(loss.detach() if isinstance(loss, Tensor) else loss)
        for m in measure_order(self.measures):
            if m.needs_update and update is None or m.name in self.failed:
                continue
            try:
                record.update(m.compute(ctx))
            except InputError:
                raise
            except Exception as exc:  # noqa: BLE001 - a measure must never stop training
                self.failed[m.name] = _one_line(exc)
                record[f"{m.name}_error"] = self.failed[m.name]
                warnings.warn(f"lossviz tracker: {m.name} failed and is off for the rest of "
                              f"the run: {self.failed[m.name]}", RuntimeWarning, stacklevel=2)
        if 1.0 in ctx._phi:
            record["probe_loss"] = ctx._phi[1.0]
        record["hvps"] = op.hvps
        record["seconds"] = time.perf_counter() - start
        self.seconds += record["seconds"]
        append_record(self.path, record)
        self.records.append(record)
        self._last_recorded = self.steps
        if self.on_record is not None:
            self.on_record(record)
        return record

    def lr(self) -> float | None:
        """The learning rate now: ``lr`` (a number or callable), else the optimizer's first
        parameter group's."""
        if self._lr is not None:
            return float(self._lr() if callable(self._lr) else self._lr)
        if self.optimizer is not None:
            return float(self.optimizer.param_groups[0]["lr"])
        return None

    # ---- internals ---------------------------------------------------------------------
    def _is_record_step(self, s: int) -> bool:
        return s > 0 and (s % self.every == 0 or s == self.total_steps)

    def _snapshot(self) -> None:
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            self._before = {n: params[n].detach().clone() for n in self._names}
        self._last_snapshot = self.steps

    def _dtype(self) -> torch.dtype:
        return next(p for n, p in self.model.named_parameters() if n in self._names).dtype

    def _momentum(self) -> float | None:
        if self.optimizer is None or not isinstance(self.optimizer, torch.optim.SGD):
            return None
        return float(self.optimizer.param_groups[0].get("momentum") or 0.0) or None


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"
