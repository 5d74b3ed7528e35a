"""Loss functions L(outputs, targets) and the per-batch sums a grid point's loss is made of.

A grid point's loss is the sample-weighted mean over a whole split, accumulated in fp64
from per-batch sums (:func:`batch_stats`), so the batch size never changes the value. A
loss is a registry entry (:class:`Loss`, in :data:`lossviz_core.registry.LOSSES`): built in
``ce``, ``nll``, ``mse``, ``bce`` (:mod:`.builtin`) and a user's ``FILE.py:FUNCTION``
(:mod:`.pyfile`), which gets ``(outputs, targets)`` for a batch and returns the batch's
mean loss, weighted by the batch size. Accuracy (percent) is counted where it means
something: integer class labels against logits (argmax), or 0/1 targets against BCE logits
(sign).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lossviz_core.errors import InputError
from lossviz_core.params import Param
from lossviz_core.recipe.spec import LossSpec
from lossviz_core.registry import LOSSES

# stats(out, y, loss, lead) -> (sum of per-sample losses, sum of per-sample accuracies)
Stats = Callable[[Tensor, Tensor, "LossFunction", int], tuple[Tensor, Tensor]]


@dataclass(frozen=True, kw_only=True)
class Loss:
    """A loss entry: ``stats`` gives a batch's fp64 sums (shape ``lead``); ``accuracy``
    says whether an accuracy goes with it on these targets and per-sample outputs; ``load``
    (user code) returns the function a name refers to; ``params``: its own parameters."""

    name: str
    label: str
    stats: Stats
    accuracy: Callable[[Tensor, tuple[int, ...]], bool]
    example: str = ""
    matches: Callable[[str], bool] | None = None
    load: Callable[[str], Callable[..., Any]] | None = None
    user_code: Callable[[str], str | None] = lambda name: None
    params: tuple[Param, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class LossFunction:
    """A loss ready to use: its entry, name, parameters and (user code) function."""

    name: str = "ce"
    label_smoothing: float = 0.0
    user: Callable[[Tensor, Tensor], Tensor] | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def entry(self) -> Loss:
        return LOSSES.get(self.name)

    def has_accuracy(self, targets: Tensor, per_sample_output: tuple[int, ...]) -> bool:
        """Whether an accuracy goes with this loss on these targets and outputs: class labels
        against one row of logits per sample, or 0/1 targets against BCE logits."""
        return self.entry.accuracy(targets, per_sample_output)


def register_loss(loss: Loss) -> Loss:
    """Add a loss; the CLI, the window, studies and recipes find it by name."""
    return LOSSES.register(loss)


def losses() -> list[Loss]:
    return LOSSES.all()


def resolve_loss(spec: LossSpec | str, label_smoothing: float = 0.0) -> LossFunction:
    """The :class:`LossFunction` of a spec or name; a user file's function is loaded here."""
    params: dict[str, Any] = {}
    if isinstance(spec, LossSpec):
        name, label_smoothing, params = spec.name, spec.label_smoothing, spec.params
    else:
        name = spec
    entry = LOSSES.get(str(name))
    user = entry.load(str(name)) if entry.load is not None else None
    return LossFunction(str(name), float(label_smoothing), user, dict(params))


def batch_stats(
    out: Tensor, y: Tensor, loss: LossFunction | str = "ce", lead: int | None = None
) -> tuple[Tensor, Tensor]:
    """Sums over the batch of per-sample loss and of per-sample accuracy (0..1), fp64.

    ``out``: fp32 outputs of shape (*lead, B, ...), ``lead`` leading dimensions of stacked
    points (default: all but the last two, i.e. logits (..., B, C)). Returns tensors of
    shape ``lead``. ``ce``: cross-entropy (with label smoothing). ``nll``: the outputs are
    log-probabilities. ``mse``: as the reference, for class labels the mean over classes of
    (softmax − one-hot)² (a batch's sum is its ``MSELoss`` × B); for float targets the
    plain squared error. ``bce``: binary cross-entropy with logits, targets in [0, 1].
    """
    loss = loss if isinstance(loss, LossFunction) else resolve_loss(loss)
    lead = max(out.dim() - 2, 0) if lead is None else lead
    return loss.entry.stats(out, y, loss, lead)


def builtin_stats(out: Tensor, y: Tensor, loss: LossFunction, lead: int
                  ) -> tuple[Tensor, Tensor]:
    """The built-in losses' sums (see :func:`batch_stats`)."""
    lead_shape = out.shape[:lead]
    if loss.name in ("ce", "nll") or (loss.name == "mse" and not y.is_floating_point()):
        if out.dim() != lead + 2 or y.is_floating_point():
            raise InputError(
                f"the {loss.name} loss needs logits of shape (batch, classes) and integer labels;"
                f" the model gives {tuple(out.shape[lead:])} for labels {tuple(y.shape)}"
            )
        yb = y.expand(out.shape[:-1])
        if loss.name == "ce" and loss.label_smoothing:
            per = F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.reshape(-1),
                                  reduction="none", label_smoothing=loss.label_smoothing)
            per = per.reshape(out.shape[:-1])
        elif loss.name == "ce":
            per = -out.log_softmax(-1).gather(-1, yb.unsqueeze(-1)).squeeze(-1)
        elif loss.name == "nll":
            per = -out.gather(-1, yb.unsqueeze(-1)).squeeze(-1)
        else:
            onehot = F.one_hot(y, out.shape[-1]).to(out.dtype)
            per = (out.softmax(-1) - onehot).square().mean(-1)
        correct = (out.argmax(-1) == yb).sum(-1, dtype=torch.float64)
        return per.sum(-1, dtype=torch.float64), correct
    # element-wise losses on targets shaped like the outputs (a trailing 1 is squeezed)
    o = _match(out, y, lead)
    t = y.to(o.dtype).expand(o.shape)
    if loss.name == "mse":
        per = (o - t).square()
        correct = None
    else:  # bce
        per = F.binary_cross_entropy_with_logits(o, t, reduction="none")
        correct = ((o > 0) == (t > 0.5)).to(torch.float64)
    dims = tuple(range(lead + 1, o.dim()))
    per = per.mean(dims) if dims else per
    l_sum = per.sum(-1, dtype=torch.float64)
    if correct is None:
        return l_sum, torch.zeros(lead_shape, dtype=torch.float64, device=out.device)
    correct = correct.mean(dims) if dims else correct
    return l_sum, correct.sum(-1)


def _match(out: Tensor, y: Tensor, lead: int) -> Tensor:
    """The outputs reshaped to the targets' per-sample shape, or a clear error."""
    per_out, per_y = tuple(out.shape[lead + 1:]), tuple(y.shape[1:])
    if per_out == per_y:
        return out
    if per_out == (1,) and per_y == ():
        return out.squeeze(-1)
    raise InputError(
        f"the model's outputs {tuple(out.shape[lead:])} do not match the targets "
        f"{tuple(y.shape)}"
    )


def user_stats(out: Tensor, y: Tensor, loss: LossFunction, lead: int) -> tuple[Tensor, Tensor]:
    """A user loss is a batch mean: weight it by the batch size; one call per stacked point."""
    flat = out.reshape(-1, *out.shape[lead:]) if lead else out.unsqueeze(0)
    n = y.shape[0]
    sums, accs = [], []
    for o in flat:
        try:
            value = loss.user(o, y)
        except Exception as exc:  # noqa: BLE001 - the user's code: one line naming it
            text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise InputError(f"the loss function {loss.name} failed: "
                             f"{type(exc).__name__}: {text}") from None
        if not isinstance(value, Tensor) or value.numel() != 1:
            raise InputError(
                f"the loss function {loss.name} must return one number (the batch's mean "
                f"loss) as a tensor, got {type(value).__name__}"
            )
        sums.append(value.reshape(()).to(torch.float64) * n)
        if not y.is_floating_point() and o.dim() == 2:
            accs.append((o.argmax(-1) == y).sum(dtype=torch.float64))
        else:
            accs.append(torch.zeros((), dtype=torch.float64, device=o.device))
    shape = out.shape[:lead]
    return torch.stack(sums).reshape(shape), torch.stack(accs).reshape(shape)
