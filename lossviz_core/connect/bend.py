"""Training a curve's bend: the loss averaged over the curve, minimized (Garipov et al. 2018).

Each step draws t ~ U(0, 1), forms the curve's weights φ(t) from w_A, the bend θ and w_B
(:func:`~lossviz_core.connect.curves.curve_point`, differentiable in θ), runs the model on a
batch with them (``torch.func.functional_call``, BatchNorm on batch statistics) and takes an
SGD step on θ alone; θ starts at the midpoint (w_A + w_B)/2. Only parameters lie on the
curve: BatchNorm's running statistics are re-estimated wherever the curve is evaluated.

:func:`iter_train_bend` yields a :class:`~lossviz_core.progress.Step` per epoch and returns
the bend. After every epoch the bend is written to its file (a checkpoint of the model's
architecture, the curve's description in its metadata) and the optimizer's momentum beside
it, so a stopped run continues from its last epoch; every epoch draws from its own seeded
generator, so a continued run trains exactly as an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from lossviz_core.connect.curves import check_curve, curve_point
from lossviz_core.data.base import StreamSplit
from lossviz_core.errors import CheckpointError, InputError
from lossviz_core.losses import LossFunction, batch_stats
from lossviz_core.progress import Step
from lossviz_core.sources.checkpoints import load_checkpoint, save_checkpoint

MOMENTUM_SUFFIX = ".momentum.pt"


@dataclass(frozen=True)
class BendSpec:
    """How a bend is trained: the curve, epochs, SGD's learning rate, momentum and weight
    decay, the batch size and the seed of t and of the batches' order."""

    curve: str = "bezier"
    epochs: int = 20
    lr: float = 0.05
    batch_size: int = 128
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0

    def __post_init__(self) -> None:
        check_curve(self.curve)
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise InputError("a curve trains for at least one epoch, on batches of at least one")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"the curve's learning rate must be positive, got {self.lr}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def iter_train_bend(
    model: nn.Module, state_a: Mapping[str, Tensor], state_b: Mapping[str, Tensor],
    train: Any, loss: LossFunction, spec: BendSpec, path: str | Path,
    meta: Mapping[str, Any] | None = None,
) -> Generator[Step, None, dict[str, Tensor]]:
    """Train (or finish training, or read) the bend of ``spec.curve`` between ``state_a`` and
    ``state_b`` on ``train``; returns the bend's parameters (by name, on the model's device).

    ``path``: the bend's checkpoint file, read when it holds this spec's bend (trained for
    ``epoch`` ≤ ``epochs``), else written; ``meta``: what else it records. The model is left
    holding what it held."""
    if isinstance(train, StreamSplit):
        raise InputError("training a curve needs the training data in memory; use --subsample")
    path = Path(path)
    device = next(model.parameters()).device
    names = [n for n, _ in model.named_parameters()]
    a = {n: state_a[n].detach().to(device, torch.float32) for n in names}
    b = {n: state_b[n].detach().to(device, torch.float32) for n in names}
    bend, start, history = _resume(path, spec, names, a, b, device)
    if start >= spec.epochs:
        return bend
    params = [bend[n] for n in names]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum,
                          weight_decay=spec.weight_decay)
    _load_momentum(opt, path, names, start)
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        for epoch in range(start + 1, spec.epochs + 1):
            mean = _epoch(model, a, bend, b, names, train, loss, spec, opt, epoch)
            history.append(mean)
            _save(path, model, bend, a, b, state_a, spec, epoch, history, meta, opt, names)
            yield Step(f"training the {spec.curve} bend: epoch {epoch}/{spec.epochs}, loss "
                       f"averaged over the curve {mean:.4f}", epoch / spec.epochs)
    finally:
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(saved[k])
        model.eval()
    Path(str(path) + MOMENTUM_SUFFIX).unlink(missing_ok=True)
    return {n: t.detach() for n, t in bend.items()}


def _epoch(model: nn.Module, a: dict, bend: dict, b: dict, names: list[str], train: Any,
           loss: LossFunction, spec: BendSpec, opt: torch.optim.Optimizer, epoch: int) -> float:
    """One pass over a seeded permutation, a seeded t per step; the mean loss."""
    gen = torch.Generator().manual_seed(spec.seed * 1_000_003 + epoch)
    n = len(train)
    order = torch.randperm(n, generator=gen).to(train.x.device)
    steps = math.ceil(n / spec.batch_size)
    ts = torch.rand(steps, generator=gen, dtype=torch.float64).tolist()
    device = next(model.parameters()).device
    total, seen = 0.0, 0
    model.train()
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(spec.seed * 1_000_003 + epoch)  # dropout, if any: seeded per epoch
        for i, t in enumerate(ts):
            idx = order[i * spec.batch_size:(i + 1) * spec.batch_size]
            if len(idx) < 2 and seen:
                break  # one example cannot be normalized by BatchNorm
            xb, yb = train.x[idx].to(device), train.y[idx].to(device)
            weights = {k: curve_point(spec.curve, t, a[k], bend[k], b[k]) for k in names}
            out = functional_call(model, weights, (xb,))
            value = batch_stats(out.float(), yb, loss, lead=0)[0] / len(yb)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            total += float(value.detach()) * len(yb)
            seen += len(yb)
    mean = total / max(seen, 1)
    if not math.isfinite(mean):
        raise InputError(f"training the curve diverged (loss {mean}); lower --lr")
    return mean


def _resume(path: Path, spec: BendSpec, names: list[str], a: dict, b: dict,
            device: torch.device) -> tuple[dict[str, Tensor], int, list[float]]:
    """The bend so far (its file's, when it is this spec's) or the midpoint; its epoch."""
    fresh = {n: ((a[n] + b[n]) / 2).clone() for n in names}
    if not path.is_file():
        return fresh, 0, []
    try:
        state, meta = load_checkpoint(path)
    except CheckpointError:
        return fresh, 0, []
    if meta.get("bend") != spec.to_dict() or any(n not in state for n in names):
        return fresh, 0, []
    bend = {n: state[n].to(device, torch.float32).clone() for n in names}
    return bend, int(meta.get("epoch", 0)), [float(v) for v in meta.get("losses", [])]


def _save(path: Path, model: nn.Module, bend: dict, a: dict, b: dict, state_a: Mapping,
          spec: BendSpec, epoch: int, history: list[float], meta: Mapping | None,
          opt: torch.optim.Optimizer, names: list[str]) -> None:
    """The bend as a checkpoint of the model (buffers: A's, never used: BatchNorm statistics
    are re-estimated), then the momentum beside it."""
    state = {k: v.detach() for k, v in state_a.items()}
    state.update({n: bend[n].detach() for n in names})
    save_checkpoint(state, path, bend=spec.to_dict(), epoch=epoch, epochs=spec.epochs,
                    losses=history, **dict(meta or {}))
    momentum = {n: opt.state[bend[n]]["momentum_buffer"]
                for n in names if opt.state.get(bend[n], {}).get("momentum_buffer") is not None}
    save_checkpoint(momentum, Path(str(path) + MOMENTUM_SUFFIX), epoch=epoch)


def _load_momentum(opt: torch.optim.Optimizer, path: Path, names: list[str], epoch: int) -> None:
    side = Path(str(path) + MOMENTUM_SUFFIX)
    if epoch == 0 or not side.is_file():
        return
    try:
        momentum, meta = load_checkpoint(side)
    except CheckpointError:
        return
    if int(meta.get("epoch", -1)) != epoch:
        return
    params = opt.param_groups[0]["params"]
    for n, p in zip(names, params, strict=True):
        if n in momentum:
            opt.state[p]["momentum_buffer"] = momentum[n].to(p.device, p.dtype).clone()
