"""The tracker as a PyTorch Lightning callback: ``Trainer(callbacks=[LossVizCallback(...)])``.

::

    from lossviz_core.track.lightning import LossVizCallback
    trainer = lightning.Trainer(max_epochs=10,
                                callbacks=[LossVizCallback("runs/mine", every=100)])

The probe examples are ``probe=(x, y)`` or, by default, the first training batch (an
``(x, y)`` pair); the module is called on ``x`` and ``loss`` (``ce`` by default, or a
callable ``loss(outputs, y)``) gives the probe's loss. A record is made per optimizer step
(``trainer.global_step``), so gradient accumulation counts steps as Lightning does.
Install with ``pip install 'lossviz[lightning]'``.
"""

from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl
from torch import Tensor

from lossviz_core.track.tracker import Tracker


class LossVizCallback(pl.Callback):
    """Records ``RUN/track.jsonl`` while Lightning trains; ``options`` go to
    :class:`~lossviz_core.track.Tracker` (``every``, ``measures``, ``loss``, ...)."""

    def __init__(self, run_dir: str | os.PathLike, probe: tuple[Tensor, Tensor] | None = None,
                 **options: Any) -> None:
        self.run_dir, self.probe, self.options = run_dir, probe, options
        self.tracker: Tracker | None = None
        self._step = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        probe = self.probe
        if probe is None:
            x, y, *_ = next(iter(trainer.train_dataloader))
            probe = (x, y)
        total = trainer.estimated_stepping_batches
        self.tracker = Tracker(self.run_dir, pl_module, probe,
                               optimizer=trainer.optimizers[0] if trainer.optimizers else None,
                               total_steps=int(total) if total != float("inf") else None,
                               start_step=trainer.global_step, **self.options)
        self._step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.tracker is None or trainer.global_step == self._step:
            return  # no optimizer step yet (gradient accumulation)
        self._step = trainer.global_step
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        self.tracker.step(loss if isinstance(loss, Tensor) else None,
                          epoch=trainer.current_epoch)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.tracker is not None:
            self.tracker.finish(epoch=trainer.current_epoch)
