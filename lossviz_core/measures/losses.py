"""Loss functions L(outputs, targets): cross-entropy, NLL, MSE, BCE, or a user's function.

A grid point's loss is the sample-weighted mean over a whole split, accumulated in fp64
from per-batch sums (:func:`batch_stats`), so the batch size never changes the value.
Built-in losses give per-sample values; a user's ``FILE.py:FUNCTION`` gets
``(outputs, targets)`` for a batch and returns the batch's mean loss, which is weighted
by the batch size. Accuracy (percent) is counted where it means something: integer class
labels against logits (argmax), or 0/1 targets against BCE logits (sign).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import BUILTIN_LOSSES, LossSpec


@dataclass(frozen=True)
class LossFunction:
    """A loss by name; ``user``: a function ``(outputs, targets) -> batch mean``."""

    name: str = "ce"
    label_smoothing: float = 0.0
    user: Callable[[Tensor, Tensor], Tensor] | None = None

    def has_accuracy(self, targets: Tensor, per_sample_output: tuple[int, ...]) -> bool:
        """Whether an accuracy goes with this loss on these targets and outputs: class labels
        against one row of logits per sample, or 0/1 targets against BCE logits."""
        if self.name == "bce":
            return True
        return not targets.is_floating_point() and len(per_sample_output) == 1


def resolve_loss(spec: LossSpec | str, label_smoothing: float = 0.0) -> LossFunction:
    """The :class:`LossFunction` of a spec or name; a user file's function is loaded here."""
    if isinstance(spec, LossSpec):
        name, label_smoothing = spec.name, spec.label_smoothing
    else:
        name = spec
    if name in BUILTIN_LOSSES:
        return LossFunction(name, float(label_smoothing))
    if ".py:" in str(name):
        from lossviz_core.sources.usercode import load_function

        return LossFunction(str(name), 0.0, load_function(str(name), "loss"))
    raise InputError(
        f"unknown loss {name!r}; choose one of {', '.join(BUILTIN_LOSSES)} or FILE.py:FUNCTION"
    )


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
    lead_shape = out.shape[:lead]
    if loss.user is not None:
        return _user_stats(out, y, loss, lead)
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


def _user_stats(out: Tensor, y: Tensor, loss: LossFunction, lead: int) -> tuple[Tensor, Tensor]:
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
