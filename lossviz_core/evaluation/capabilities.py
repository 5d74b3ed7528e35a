"""What a model supports, detected once: fx tracing (BN folding) and ``torch.func`` (multi-point).

A TorchScript module cannot be traced by ``torch.fx`` nor called through
``torch.func.functional_call``; a model with data-dependent control flow cannot be traced;
some custom modules break under ``vmap``. Each capability is tried for real, on a two-sample
batch, so the evaluator never discovers a missing one in the middle of a grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap


@dataclass(frozen=True)
class Capabilities:
    """``fx``: torch.fx can trace it (BN folding); ``functional``: functional_call and vmap
    over stacked weights work (multi-point); ``scripted``: a TorchScript module."""

    fx: bool
    functional: bool
    scripted: bool
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"fx": self.fx, "functional": self.functional, "scripted": self.scripted,
                **{f"why_not_{k}": v for k, v in self.reasons.items()}}


def detect(model: nn.Module, sample: Tensor | None, select=None) -> Capabilities:
    """Try fx tracing and a vmapped functional call on ``sample`` (2 examples at most)."""
    reasons: dict[str, str] = {}
    scripted = isinstance(model, torch.jit.ScriptModule)
    fx = not scripted
    if fx:
        try:
            torch.fx.symbolic_trace(model)
        except Exception as exc:  # noqa: BLE001 - any untraceable forward
            fx, reasons["fx"] = False, _short(exc)
    else:
        reasons["fx"] = "TorchScript module"
    functional = not scripted and sample is not None
    if scripted:
        reasons["functional"] = "TorchScript module"
    elif sample is not None:
        was_training = model.training
        try:
            _eval(model)
            params = {n: p.detach().unsqueeze(0).expand(2, *p.shape)
                      for n, p in model.named_parameters()}
            x = sample[:2]
            with torch.no_grad():
                out = vmap(lambda p: _pick(functional_call(model, p, (x,)), select))(params)
                plain = _pick(model(x), select)
            if tuple(out.shape[1:]) != tuple(plain.shape):
                raise RuntimeError(f"vmap gave shape {tuple(out.shape)}")
        except Exception as exc:  # noqa: BLE001 - any failure means: one point at a time
            functional, reasons["functional"] = False, _short(exc)
        finally:
            _train(model, was_training)
    return Capabilities(fx, functional, scripted, reasons)


def _pick(out, select):
    return out if select is None else select(out)


def _eval(model: nn.Module) -> None:
    set_mode(model, False)


def _train(model: nn.Module, mode: bool) -> None:
    set_mode(model, mode)


def set_mode(model: nn.Module, training: bool) -> None:
    """``model.train(training)``, for models that refuse it (``torch.export`` modules are
    fixed in the mode they were exported in)."""
    try:
        model.train(training)
    except (NotImplementedError, RuntimeError):
        pass


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:160]
