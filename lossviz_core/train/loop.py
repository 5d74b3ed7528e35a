"""Training a zoo model into a run folder, one epoch per yield.

``iter_training(spec, run_dir)`` is a generator: it yields an :class:`EpochReport` after
every epoch and returns the :class:`RunInfo`; stopping the iteration cancels the run and
leaves a valid run folder holding what was saved so far. The data stays on the device and
is shuffled by a seeded ``torch.randperm`` (no DataLoader); augmentation acts on whole
batches there. On the CPU the same spec gives bit-identical checkpoints. Token data (integer
id sequences, ``shakespeare``, ``tokens:``...) trains a language model on the ``lm`` loss,
the mean next-token cross-entropy over tokens, its accuracy the token accuracy.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable, Generator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lossviz_core.data import Dataset, Split, StreamSplit, load_dataset
from lossviz_core.device import pick_device
from lossviz_core.errors import InputError, StoreError
from lossviz_core.evaluation.planner import bf16_is_fast
from lossviz_core.losses import batch_sums
from lossviz_core.losses.lm import IGNORE_INDEX
from lossviz_core.progress import EpochReport
from lossviz_core.recipe.spec import PRECISIONS, DatasetSpec, ModelSpec, _Spec, check_seed
from lossviz_core.results.paths import new_folder, partial_path
from lossviz_core.runs import RUN_FILE, RunInfo, checkpoint_name, read_run, write_run
from lossviz_core.sources import load_model, model_source
from lossviz_core.sources.checkpoints import save_checkpoint
from lossviz_core.track import Tracker, check_measures
from lossviz_core.train.augment import AUGMENTS, Augmentation, augment_batch, resolve_augment

OPTIMIZERS = ("sgd", "adam")
TRAIN_LOSSES = ("ce", "mse", "lm")
SCHEDULES = ("constant", "step", "cosine")
# The reference trains 300 epochs and decays the rate at 150, 225 and 275.
REFERENCE_MILESTONES = (150 / 300, 225 / 300, 275 / 300)
EVAL_BATCH = 1024


@dataclass(frozen=True)
class TrainSpec(_Spec):
    """How to train ``model`` on ``dataset``.

    ``schedule``: ``constant``; ``step`` multiplies the rate by ``gamma`` at each epoch in
    ``step_epochs`` (that epoch already uses the lower rate, as the reference; ``None``:
    the reference's 150/225/275 of 300 scaled to ``epochs``); ``cosine`` anneals per epoch.
    ``augment``: ``auto`` (random crop + flip for CIFAR-shaped images, none for digits),
    ``none``, ``crop``, ``flip``, ``crop_flip``. ``precision`` ``auto`` is bf16 autocast on
    CUDA and fp32 elsewhere. ``loss``: ``ce`` (on token data: next-token, as ``lm``),
    ``mse``, ``lm``. ``init_checkpoint`` starts from saved weights instead of a
    seeded initialization. ``track``: measures the :class:`~lossviz_core.track.Tracker`
    records every ``track_every`` optimizer steps (and at the last) into ``RUN/track.jsonl``,
    on a seeded subsample of ``track_examples`` training examples.
    """

    model: str = "digits_cnn"
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "constant"
    step_epochs: tuple[int, ...] | None = None
    gamma: float = 0.1
    batch_size: int = 128
    epochs: int = 10
    save_every: int = 1
    seed: int = 0
    init_checkpoint: str | None = None
    augment: str = "auto"
    device: str = "auto"
    precision: str = "auto"
    loss: str = "ce"
    track: tuple[str, ...] = ()
    track_every: int = 100
    track_examples: int = 256

    def __post_init__(self) -> None:
        if isinstance(self.dataset, dict):
            object.__setattr__(self, "dataset", DatasetSpec.from_dict(self.dataset))
        elif isinstance(self.dataset, str):
            object.__setattr__(self, "dataset", DatasetSpec(name=self.dataset))
        for name, value, allowed in (
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("schedule", self.schedule, SCHEDULES),
            ("augment", self.augment, AUGMENTS),
            ("precision", self.precision, PRECISIONS),
            ("loss", self.loss, TRAIN_LOSSES),
        ):
            if value not in allowed:
                raise InputError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
        if self.track:
            object.__setattr__(self, "track", check_measures(self.track))
        else:
            object.__setattr__(self, "track", ())
        object.__setattr__(self, "seed", check_seed("seed", self.seed))
        for name, lo in (("epochs", 1), ("batch_size", 1), ("save_every", 1),
                         ("track_every", 1), ("track_examples", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < lo:
                raise InputError(f"{name} must be a whole number >= {lo}, got {value}")
            object.__setattr__(self, name, int(value))
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"learning rate must be a positive number, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise InputError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise InputError("nesterov needs the sgd optimizer with momentum > 0")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise InputError(f"weight decay must be >= 0, got {self.weight_decay}")
        if not (math.isfinite(self.gamma) and self.gamma > 0):
            raise InputError(f"gamma must be a positive number, got {self.gamma}")
        if self.step_epochs is not None:
            try:
                steps = tuple(sorted(int(e) for e in self.step_epochs))
            except (TypeError, ValueError):
                raise InputError(f"step epochs must be whole numbers, got {self.step_epochs}") from None
            if any(e < 1 for e in steps):
                raise InputError(f"step epochs must be >= 1, got {self.step_epochs}")
            object.__setattr__(self, "step_epochs", steps)


def step_milestones(spec: TrainSpec) -> tuple[int, ...]:
    """The epochs at which a ``step`` schedule multiplies the rate by ``gamma``."""
    if spec.step_epochs is not None:
        return tuple(spec.step_epochs)
    return tuple(sorted({max(1, round(f * spec.epochs)) for f in REFERENCE_MILESTONES}))


def lr_at(spec: TrainSpec, epoch: int) -> float:
    """The learning rate used during ``epoch`` (1-based)."""
    if spec.schedule == "step":
        return spec.lr * spec.gamma ** sum(1 for m in step_milestones(spec) if epoch >= m)
    if spec.schedule == "cosine":
        return spec.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / spec.epochs))
    return spec.lr


def iter_training(
    spec: TrainSpec, run_dir: str | Path, overwrite: bool = False
) -> Generator[EpochReport, None, RunInfo]:
    """Train ``spec.model`` into ``run_dir``, yielding one :class:`EpochReport` per epoch.

    Saves ``model_0.pt`` (the initialization or ``init_checkpoint``), then a checkpoint
    every ``save_every`` epochs and always the last, and rewrites ``run.json`` after every
    epoch. A folder that already holds a run raises ``InputError`` unless ``overwrite``;
    then the new run trains in ``NAME.partial`` (:func:`training_folder`) and replaces the
    old one only when complete, so a stopped run leaves the old run whole. A run stopped or
    failing before its first checkpoint leaves no folder it made. Returns the run's
    :class:`RunInfo`.
    """
    run_dir = Path(run_dir)
    work = training_folder(run_dir, overwrite)
    info = _prepare_folder(spec, work, overwrite=True if work != run_dir else overwrite)
    device = pick_device(spec.device)
    torch.manual_seed(spec.seed)
    gen = torch.Generator().manual_seed(spec.seed)  # shuffling and augmentation, CPU-side

    data = load_dataset(spec.dataset, device)
    from lossviz_core.run.workspace import check_label_classes

    # before a model is sized by the labels (training takes its class count from them)
    check_label_classes(spec.dataset.name, data, fix="relabel the classes 0..K-1")
    model = _build(spec, data, device)
    loss = training_loss(spec.loss, data)
    aug = resolve_augment(spec.augment, tuple(data.input_shape))
    fill = data.train.x.amin(dim=(0, 2, 3)).to(device) if aug.pad else None  # channel black
    autocast = _autocast(spec.precision, device)
    channels_last = _channels_last(device, data.train.x)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    optimizer = _optimizer(spec, model)
    with new_folder(work):
        tracker = _tracker(spec, work, model, data, optimizer, info,
                           True if work != run_dir else overwrite)
        _save(model, work, 0, info, spec)
        for epoch in range(1, spec.epochs + 1):
            start = time.perf_counter()
            lr = lr_at(spec, epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            made = len(tracker.records) if tracker else 0
            after_step = None if tracker is None else \
                (lambda loss, epoch=epoch: tracker.step(loss, epoch))
            train_loss, train_acc = _train_epoch(
                model, optimizer, data.train, spec, loss, (aug, fill, gen), autocast, channels_last,
                after_step,
            )
            test_loss = test_acc = None
            if data.test is not None and len(data.test) > 0:
                test_loss, test_acc = evaluate_split(model, data.test, loss, autocast,
                                                     channels_last)
            seconds = time.perf_counter() - start
            saved = None
            if epoch % spec.save_every == 0 or epoch == spec.epochs:
                saved = str(_save(model, work, epoch, info, spec, acc=test_acc))
            info.metrics.append({
                "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                "test_loss": test_loss, "test_acc": test_acc, "lr": lr, "seconds": seconds,
            })
            write_run(info)
            if tracker is not None and epoch == spec.epochs:
                tracker.finish(epoch=epoch)
            extra = {"track": tracker.records[made:]} if tracker is not None else {}
            yield EpochReport(epoch, spec.epochs, train_loss, train_acc, test_loss, test_acc, lr,
                              seconds, saved, extra)
    if work != run_dir:
        replace_run(work, run_dir)
    return read_run(run_dir)


def training_folder(run_dir: str | Path, overwrite: bool) -> Path:
    """Where :func:`iter_training` writes: ``run_dir``, or ``NAME.partial`` beside it when it
    replaces a run already there (``overwrite``)."""
    run_dir = Path(run_dir)
    if overwrite and (run_dir / RUN_FILE).exists():
        return partial_path(run_dir)
    return run_dir


def replace_run(new: Path, run_dir: Path) -> None:
    """Put the complete run ``new`` in place of the run folder ``run_dir``."""
    old = run_dir.with_name(f".{run_dir.name}.{os.getpid()}.old")
    try:
        os.rename(run_dir, old)
        os.rename(new, run_dir)
    except OSError as exc:
        if old.exists() and not run_dir.exists():
            os.rename(old, run_dir)  # the old run back where it was
        raise StoreError(f"cannot replace run folder {run_dir}: {exc.strerror or exc}; the "
                         f"new run is in {new}") from None
    shutil.rmtree(old, ignore_errors=True)


def evaluate_split(
    model: nn.Module, split: Split, loss: str = "ce", autocast: Any = None,
    channels_last: bool = False, batch_size: int = EVAL_BATCH,
) -> tuple[float, float]:
    """Mean loss and accuracy (percent, as the reference) of ``model.eval()`` on ``split``:
    over examples, or over predicted tokens for ``lm`` (token accuracy)."""
    model.eval()
    dev = _device_of(model)
    total = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.float64, device=dev)
    count = torch.zeros((), dtype=torch.float64, device=dev)
    with torch.no_grad():
        for i in range(0, len(split), batch_size):
            xb = split.x[i : i + batch_size].to(dev, non_blocking=True)
            yb = split.y[i : i + batch_size].to(dev, non_blocking=True)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with autocast or nullcontext():
                out = model(xb)
            sums = batch_sums(out.float(), yb, loss)  # the evaluator's definition
            total += sums[0]
            correct += sums[1]
            count += sums[2]
    return float(total / count), 100.0 * float(correct / count)


def loss_value(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Batch-mean training loss: cross-entropy, or MSE between softmax and one-hot (the
    reference); the same definition as :func:`lossviz_core.losses.batch_sums`."""
    if loss == "mse":
        return F.mse_loss(F.softmax(out, dim=1), F.one_hot(y, out.shape[1]).to(out.dtype))
    if loss == "lm":
        return next_token_loss(out, y)[0]
    return F.cross_entropy(out, y)


def next_token_loss(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(mean next-token cross-entropy, correct predictions, predicted tokens) of logits
    (B, T, V) for ids (B, T): position t against token t + 1, targets −100 left out (the
    ``lm`` loss's definition, :mod:`lossviz_core.losses.lm`)."""
    logits, target = out[:, :-1], y[:, 1:]
    keep = target != IGNORE_INDEX
    mean = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                           ignore_index=IGNORE_INDEX)
    correct = ((logits.detach().argmax(-1) == target) & keep).sum()
    return mean, correct, keep.sum()


def is_token_data(data: Dataset) -> bool:
    """Integer id sequences with targets of the same shape: a language model's data."""
    train = data.train
    return (isinstance(train, Split) and train.x.dim() == 2 and not train.x.is_floating_point()
            and tuple(train.y.shape) == tuple(train.x.shape))


def training_loss(loss: str, data: Dataset) -> str:
    """The loss trained on ``data``: ``lm`` for token data (where ``ce`` means next-token
    cross-entropy), ``loss`` otherwise; ``InputError`` for a loss the data cannot take."""
    tokens = is_token_data(data)
    if tokens and loss == "mse":
        raise InputError(f"dataset {data.name} holds token sequences: train a language model "
                         "on the lm loss (next-token cross-entropy), not mse")
    if not tokens and loss == "lm":
        raise InputError(f"the lm loss needs token sequences, and dataset {data.name} holds "
                         "labelled examples; use ce or mse")
    return "lm" if tokens else loss


# --- internals -------------------------------------------------------------------------


def _prepare_folder(spec: TrainSpec, run_dir: Path, overwrite: bool) -> RunInfo:
    """The new run's RunInfo; an earlier run in ``run_dir`` (an interrupted partial one,
    whose folder :func:`iter_training` owns) loses its checkpoints."""
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"run folder {run_dir} exists and is not a folder")
    if (run_dir / RUN_FILE).exists():
        if not overwrite:
            raise InputError(f"{run_dir} already holds a training run; choose an empty folder "
                             "(or --overwrite: it is replaced once the new run is complete)")
        try:
            old = read_run(run_dir)
            for _, path in old.checkpoints:
                path.unlink(missing_ok=True)
        except InputError:
            pass  # a broken old run: nothing trustworthy to clean
    model_source(spec.model)  # an unknown model fails before anything is written
    return RunInfo(
        path=run_dir,
        model=ModelSpec(spec.model, spec.init_checkpoint).to_dict(),
        dataset=spec.dataset.to_dict(),
        train=spec.to_dict(),
        checkpoints=[],
    )


def _build(spec: TrainSpec, data: Dataset, device: torch.device) -> nn.Module:
    """Any model source (zoo, torchvision, timm, a Python file) sized for the data."""
    if isinstance(data.train, StreamSplit):
        raise InputError(f"training needs {spec.dataset.name} in memory, and it is too large "
                         "for this machine; use --subsample")
    source = model_source(spec.model)
    expected = source.input_shape(spec.model)
    if expected is not None and tuple(expected) != tuple(data.input_shape):
        raise InputError(
            f"model {spec.model} expects inputs {tuple(expected)} but dataset "
            f"{spec.dataset.name} has {tuple(data.input_shape)}"
        )
    model = load_model(ModelSpec(spec.model, spec.init_checkpoint), data.num_classes,
                       require_weights=False).model
    return model.to(device)


def _tracker(spec: TrainSpec, run_dir: Path, model: nn.Module, data: Dataset,
             optimizer: torch.optim.Optimizer, info: RunInfo, overwrite: bool
             ) -> Tracker | None:
    """The spec's tracker: a seeded subsample of the training split as its probe."""
    if not spec.track:
        return None
    from lossviz_core.curvature.examples import examples_of

    examples = examples_of(data, "train", spec.track_examples, spec.seed)
    per_epoch = steps_per_epoch(len(data.train), spec.batch_size)
    return Tracker(run_dir, model, examples=examples, loss=spec.loss, every=spec.track_every,
                   measures=spec.track, optimizer=optimizer, seed=spec.seed,
                   total_steps=per_epoch * spec.epochs, overwrite=overwrite,
                   model_spec=info.model, dataset_spec=info.dataset, train=spec.to_dict())


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimizer steps in one epoch of ``n`` examples (a last batch of one is skipped)."""
    full, rest = divmod(n, batch_size)
    return full + (1 if rest >= 2 or (rest == 1 and full == 0) else 0)


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _channels_last(device: torch.device, x: torch.Tensor) -> bool:
    """NHWC pays off for convolutions under cuDNN; on the CPU it does not."""
    return device.type == "cuda" and x.dim() == 4


def _optimizer(spec: TrainSpec, model: nn.Module) -> torch.optim.Optimizer:
    if spec.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum,
                           nesterov=spec.nesterov, weight_decay=spec.weight_decay)


def _autocast(precision: str, device: torch.device) -> Any:
    if precision == "bf16" or (precision == "auto" and bf16_is_fast(device)):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return None


def _train_epoch(
    model: nn.Module, optimizer: torch.optim.Optimizer, split: Split, spec: TrainSpec,
    loss_name: str, augmenting: tuple[Augmentation, torch.Tensor | None, torch.Generator],
    autocast: Any, channels_last: bool, after_step: Callable[[torch.Tensor], Any] | None = None,
) -> tuple[float, float]:
    """One pass over a seeded permutation; returns the running mean loss and accuracy (%),
    over examples or, for ``lm``, over predicted tokens. ``after_step(loss)`` runs after
    every optimizer step (the tracker)."""
    aug, fill, gen = augmenting
    model.train()
    n = len(split)
    dev = _device_of(model)
    perm = torch.randperm(n, generator=gen).to(split.x.device)
    total = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    counted = torch.zeros((), dtype=torch.int64, device=dev)
    seen = 0
    for i in range(0, n, spec.batch_size):
        idx = perm[i : i + spec.batch_size]
        if len(idx) < 2 and seen:
            break  # a last batch of one image cannot be normalized by BatchNorm
        # A no-op when the data lives on the device; pinned host data (too big) is copied.
        xb = split.x[idx].to(dev, non_blocking=True)
        yb = split.y[idx].to(dev, non_blocking=True)
        if aug.active:
            xb = augment_batch(xb, aug, gen, fill)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.enable_grad():  # a caller's no_grad (thread-local) must not stop training
            with autocast or nullcontext():
                out = model(xb)
            out = out.float()
            if loss_name == "lm":
                loss, n_correct, count = next_token_loss(out, yb)
            else:
                loss = loss_value(out, yb, loss_name)
                n_correct, count = (out.detach().argmax(1) == yb).sum(), len(yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step(loss.detach())
        # Accumulate on the device: no host sync per batch.
        total += loss.detach().double() * count
        correct += n_correct
        counted += count
        seen += len(yb)
    loss_mean = float(total) / float(counted)
    if not math.isfinite(loss_mean):
        raise InputError(f"training diverged (loss {loss_mean}); lower the learning rate")
    return loss_mean, 100.0 * float(correct) / float(counted)


def _save(model: nn.Module, run_dir: Path, epoch: int, info: RunInfo, spec: TrainSpec,
          **meta: Any) -> Path:
    """Write ``model_<epoch>.pt`` (the reference's ``.t7`` layout) and list it in run.json."""
    path = run_dir / checkpoint_name(epoch)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}  # undo channels_last
    save_checkpoint(state, path, epoch=epoch,
                    **{k: v for k, v in meta.items() if v is not None})
    info.checkpoints = [c for c in info.checkpoints if c[0] != epoch] + [(epoch, path)]
    write_run(info)
    return path
