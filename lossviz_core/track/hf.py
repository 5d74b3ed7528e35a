"""The tracker as a transformers ``TrainerCallback``: ``Trainer(..., callbacks=[cb])``.

::

    from lossviz_core.track.hf import LossVizCallback
    trainer = Trainer(model, args, train_dataset=ds,
                      callbacks=[LossVizCallback("runs/bert", every=100)])

The probe examples are ``probe=(input_ids, labels)`` or, by default, the first training
batch's ``input_key`` and ``label_key`` entries; the model is called with the inputs alone
and its ``logits`` are used (``loss``: ``ce`` by default, or a callable). λmax needs a
twice-differentiable model: with ``attn_implementation="eager"`` attention is; critical
sharpness and the slice need forward passes only.
"""

from __future__ import annotations

import os
from typing import Any

from torch import Tensor
from transformers import TrainerCallback

from lossviz_core.errors import InputError
from lossviz_core.track.tracker import Tracker


class LossVizCallback(TrainerCallback):
    """Records ``RUN/track.jsonl`` while a transformers ``Trainer`` trains (see the module
    docstring); ``options`` go to :class:`~lossviz_core.track.Tracker` (``every``,
    ``measures``, ``tol``, ...)."""

    def __init__(self, run_dir: str | os.PathLike, probe: tuple[Tensor, Tensor] | None = None,
                 *, input_key: str = "input_ids", label_key: str = "labels",
                 **options: Any) -> None:
        self.run_dir, self.probe, self.options = run_dir, probe, options
        self.input_key, self.label_key = input_key, label_key
        self.tracker: Tracker | None = None

    def on_train_begin(self, args, state, control, model=None, optimizer=None,
                       train_dataloader=None, **kwargs):
        probe = self.probe
        if probe is None:
            if train_dataloader is None:
                raise InputError("LossVizCallback needs probe=(inputs, labels): the trainer "
                                 "gave no training dataloader")
            batch = next(iter(train_dataloader))
            probe = (batch[self.input_key], batch[self.label_key])
        options = {"output": "logits", **self.options}
        self.tracker = Tracker(self.run_dir, model, probe, optimizer=optimizer,
                               total_steps=state.max_steps or None, **options)

    def on_step_end(self, args, state, control, **kwargs):
        if self.tracker is not None:
            self.tracker.step(epoch=state.epoch)

    def on_train_end(self, args, state, control, **kwargs):
        if self.tracker is not None:
            self.tracker.finish(epoch=state.epoch)
