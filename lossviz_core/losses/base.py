"""Loss functions L(outputs, targets) and the per-batch sums a grid point's loss is made of.

A grid point's loss is the sample-weighted mean over a whole split, accumulated in fp64
from per-batch sums (:func:`batch_stats`), so the batch size never changes the value. A
loss is a registry entry (:class:`Loss`, in :data:`lossviz_core.registry.LOSSES`): built in
``ce``, ``nll``, ``mse``, ``bce`` (:mod:`.builtin`) and a user's ``FILE.py:FUNCTION``
(:mod:`.pyfile`), which gets ``(outputs, targets)`` for a batch and returns the batch's
mean loss, weighted by the batch size (or a ``(sum, count)`` pair, averaged over its own
count: tokens). Accuracy (percent) is counted where it means something: integer class labels
against logits (argmax), 0/1 targets against BCE logits (sign), tokens against next-token
logits (:mod:`.lm`).

What a mean is over is the loss's to say: the built-in classification and regression losses
count examples, so :func:`batch_sums` gives the batch size as the count; a loss that counts
something else (``lm``: the predicted tokens, targets −100 left out) returns its own count as
a third sum, and the evaluator divides every sum by the total count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lossviz_core.errors import InputError
from lossviz_core.params import Param
from lossviz_core.recipe.spec import LossSpec
from lossviz_core.registry import LOSSES
from lossviz_core.results.quantities import SPLIT_NAMES, Quantity, register_quantity

# stats(out, y, loss, lead) -> (sum of the losses, sum of the accuracies[, count]): fp64 of
# shape lead; without a count, the sums are over the batch's examples
Stats = Callable[[Tensor, Tensor, "LossFunction", int], tuple[Tensor, ...]]


@dataclass(frozen=True)
class SplitQuantity:
    """A quantity a loss adds to every split, computed from the split's mean loss:
    ``{split}_{name}`` = ``of_mean(mean loss)`` (perplexity: ``numpy.exp``)."""

    name: str
    label: str
    of_mean: Callable[[np.ndarray], np.ndarray]
    unit: str = ""
    colormap: str = "viridis"
    loggable: bool = True

    def quantity(self, split: str) -> Quantity:
        """Its presentation for one split (the Show list, ``lossviz info``, figures)."""
        return Quantity(f"{split}_{self.name}", f"{split} {self.label}", unit=self.unit,
                        colormap=self.colormap, loggable=self.loggable, kind=self.name,
                        order=10 * SPLIT_NAMES.index(split) + 5)


@dataclass(frozen=True, kw_only=True)
class Loss:
    """A loss entry: ``stats`` gives a batch's fp64 sums (shape ``lead``), and its own count
    as a third sum where the mean is not over examples; ``accuracy`` says whether an
    accuracy goes with it on these targets and per-sample outputs; ``load`` (user code)
    returns the function a name refers to; ``params``: its own parameters; ``quantities``:
    what it adds per split from the mean loss (perplexity); ``casts_outputs``: ``stats``
    takes bf16/fp16 outputs as they are and casts them piece by piece (a language model's
    logits are never copied whole to fp32)."""

    name: str
    label: str
    stats: Stats
    accuracy: Callable[[Tensor, tuple[int, ...]], bool]
    example: str = ""
    matches: Callable[[str], bool] | None = None
    load: Callable[[str], Callable[..., Any]] | None = None
    user_code: Callable[[str], str | None] = lambda name: None
    params: tuple[Param, ...] = ()
    quantities: tuple[SplitQuantity, ...] = ()
    casts_outputs: bool = False
    sample_dims: int = 1  # of one example's output: logits (C,) 1, next-token logits (T, V) 2
    help: str = ""
    # where ``stats`` gives its own count: that count from a batch's targets alone (what a
    # Hessian of the mean loss divides by before any output exists); None: the batch size
    count: Callable[[Tensor], float] | None = None


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
    """Add a loss (and its quantities); the CLI, the window, studies and recipes find it by
    name."""
    for q in loss.quantities:
        for split in SPLIT_NAMES:
            register_quantity(q.quantity(split))
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


def batch_sums(
    out: Tensor, y: Tensor, loss: LossFunction | str = "ce", lead: int | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Sums over the batch of the loss and of the accuracy (0..1), and what they count, fp64.

    ``out``: outputs of shape (*lead, B, ...), ``lead`` leading dimensions of stacked points
    (default: all but the batch and the loss's ``sample_dims``, i.e. logits (..., B, C), or
    (..., B, T, V) for ``lm``); bf16/fp16 outputs are cast to
    fp32 first unless the loss casts them itself. Returns tensors of shape ``lead``. The
    count is the number of examples (B), or the loss's own (``lm``: predicted tokens). A
    split's mean loss is the sum of the loss sums over the sum of the counts.

    ``ce``: cross-entropy (with label smoothing). ``nll``: the outputs are
    log-probabilities. ``mse``: as the reference, for class labels the mean over classes of
    (softmax − one-hot)² (a batch's sum is its ``MSELoss`` × B); for float targets the
    plain squared error. ``bce``: binary cross-entropy with logits, targets in [0, 1].
    """
    loss = loss if isinstance(loss, LossFunction) else resolve_loss(loss)
    lead = max(out.dim() - 1 - loss.entry.sample_dims, 0) if lead is None else lead
    if out.dtype in (torch.bfloat16, torch.float16) and not loss.entry.casts_outputs:
        out = out.float()
    sums = loss.entry.stats(out, y, loss, lead)
    if len(sums) == 3:
        return sums
    count = torch.full(out.shape[:lead], float(y.shape[0]), dtype=torch.float64,
                       device=out.device)
    return sums[0], sums[1], count


def batch_stats(
    out: Tensor, y: Tensor, loss: LossFunction | str = "ce", lead: int | None = None
) -> tuple[Tensor, Tensor]:
    """The loss and accuracy sums of :func:`batch_sums`, without the count (for a loss that
    counts examples, the count is the batch size)."""
    total, correct, _ = batch_sums(out, y, loss, lead)
    return total, correct


def builtin_stats(out: Tensor, y: Tensor, loss: LossFunction, lead: int
                  ) -> tuple[Tensor, Tensor]:
    """The built-in losses' sums (see :func:`batch_stats`)."""
    lead_shape = out.shape[:lead]
    if loss.name in ("ce", "nll") or (loss.name == "mse" and not y.is_floating_point()):
        if out.dim() != lead + 2 or y.is_floating_point():
            tokens = out.dim() == lead + 3 and y.dim() == 2 and not y.is_floating_point()
            raise InputError(
                f"the {loss.name} loss needs logits of shape (batch, classes) and integer labels;"
                f" the model gives {tuple(out.shape[lead:])} for labels {tuple(y.shape)}"
                + ("; for a language model's next-token logits use --loss lm" if tokens else "")
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


def user_stats(out: Tensor, y: Tensor, loss: LossFunction, lead: int
               ) -> tuple[Tensor, Tensor, Tensor]:
    """A user loss is a batch mean, weighted by the batch size, or a ``(sum, count)`` pair
    (a per-token loss: the sum over the batch's tokens and how many); one call per stacked
    point."""
    flat = out.reshape(-1, *out.shape[lead:]) if lead else out.unsqueeze(0)
    n = y.shape[0]
    sums, accs, counts = [], [], []
    for o in flat:
        try:
            value = loss.user(o, y)
        except Exception as exc:  # noqa: BLE001 - the user's code: one line naming it
            text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise InputError(f"the loss function {loss.name} failed: "
                             f"{type(exc).__name__}: {text}") from None
        total, count = _user_value(loss.name, value, n)
        sums.append(total)
        counts.append(count)
        if not y.is_floating_point() and o.dim() == 2:
            accs.append((o.argmax(-1) == y).sum(dtype=torch.float64))
        else:
            accs.append(torch.zeros((), dtype=torch.float64, device=o.device))
    shape = out.shape[:lead]
    return (torch.stack(sums).reshape(shape), torch.stack(accs).reshape(shape),
            torch.stack(counts).to(out.device).reshape(shape))


def _user_value(name: str, value: Any, n: int) -> tuple[Tensor, Tensor]:
    """(sum, count) of what a user's loss returned: a batch mean (× the batch size ``n``) or
    a ``(sum, count)`` pair."""
    def number(v: Any) -> Tensor | None:
        if isinstance(v, Tensor) and v.numel() == 1:  # its graph kept: a Hessian needs it
            return v.reshape(()).to(torch.float64)
        return None

    if isinstance(value, (tuple, list)) and len(value) == 2:
        total = number(value[0])
        count = number(value[1]) if isinstance(value[1], Tensor) else (
            torch.tensor(float(value[1]), dtype=torch.float64, device=total.device)
            if total is not None and isinstance(value[1], (int, float)) else None)
        if total is not None and count is not None:
            return total, count
    else:
        mean = number(value)
        if mean is not None:
            return mean * n, torch.tensor(float(n), dtype=torch.float64, device=mean.device)
    raise InputError(
        f"the loss function {name} must return one number (the batch's mean loss) as a "
        f"tensor, or a (sum, count) pair (a per-token loss), got {type(value).__name__}"
    )
