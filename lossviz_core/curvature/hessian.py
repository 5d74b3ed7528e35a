"""The Hessian of the mean loss at a point of the plane, as a linear operator.

``H = ∇²L(θ + a·d₁ + b·d₂)``, L the sample-weighted mean loss over the chosen examples
(:mod:`.examples`), with respect to a chosen set of tensors: ``perturbed`` (the tensors the
directions move, so the curvature and the surface describe the same space: with
``ignore=biasbn`` biases and BatchNorm are fixed) or ``all`` (every parameter, as PyHessian
does). A Hessian-vector product is forward-over-reverse (``torch.func.jvp`` of
``torch.func.grad``; on the CPU ``vjp`` of ``grad``, which measured faster there) through
``functional_call`` on the model as it is, unfolded and in eval
mode (BatchNorm uses its running statistics, so L is a function of the weights alone),
summed batch by batch. The model is never written: the point lives in the operator.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, grad_and_value, jvp, vjp

from lossviz_core.curvature.examples import Examples
from lossviz_core.curvature.params import (
    aliases,
    all_names,
    check_params,
    perturbed_names,
    plane_names,
    plane_point,
)
from lossviz_core.errors import InputError, LossVizError
from lossviz_core.evaluation.capabilities import set_mode
from lossviz_core.evaluation.outputs import select_output
from lossviz_core.losses import LossFunction, batch_stats, resolve_loss

HVP_MODES = ("auto", "fwd-rev", "rev-rev")  # jvp of grad, or vjp of grad
# auto: forward-over-reverse, except on the CPU, where vjp of grad measured 15-20 % faster
# (benchmarks/curvature.py: digits CNN, 1 thread)
AUTO_MODE = {"cpu": "rev-rev"}
DTYPES = {"fp32": torch.float32, "fp64": torch.float64}
DEFAULT_BATCH = {"cuda": 1024, "cpu": 2048, "mps": 512}


class HessianOperator:
    """H·v for flat vectors v over ``names`` (concatenated in that order), at ``point``.

    ``model``: any module ``functional_call`` can run; ``names``: the tensors to
    differentiate; ``examples``: what L sums over; ``point``: named tensors of the point
    (default: the model's own); every other float tensor of the model's state is held at
    its value. ``dtype``: ``fp32`` (GPU work) or ``fp64`` (exact work: the whole state and
    the inputs are cast). ``mode``: ``fwd-rev`` (forward-over-reverse, ``jvp(grad)``),
    ``rev-rev`` (``vjp(grad)``) or ``auto`` (``fwd-rev``; ``rev-rev`` on the CPU, where it
    measured faster). ``hvps``, ``gradients``, ``losses``: passes over the data so far.
    """

    def __init__(self, model: nn.Module, names: Sequence[str], examples: Examples,
                 loss: str | LossFunction = "ce", *, point: Mapping[str, Tensor] | None = None,
                 dtype: str = "fp32", batch_size: int | None = None,
                 output: str | int | None = None, device: torch.device | str | None = None,
                 plane: Any = None, selection: str = "custom", mode: str = "auto") -> None:
        if isinstance(model, torch.jit.ScriptModule):
            raise InputError("curvature needs torch.func, which cannot differentiate a "
                             "TorchScript module; load the model from its Python source")
        if dtype not in DTYPES:
            raise InputError(f"unknown curvature precision {dtype!r}; choose fp32 or fp64")
        if mode not in HVP_MODES:
            raise InputError(f"unknown Hessian-vector product mode {mode!r}; use auto, "
                             "fwd-rev or rev-rev")
        if not names:
            raise InputError("no parameters to compute the curvature for (the directions "
                             "move none); use --hessian-params all")
        self.model, self.examples, self.output = model, examples, output
        self.loss_fn = loss if isinstance(loss, LossFunction) else resolve_loss(loss)
        self.precision, self.dtype = dtype, DTYPES[dtype]
        self.plane, self.selection, self.coords = plane, selection, (0.0, 0.0)
        state = {k: v for k, v in model.state_dict(keep_vars=False).items()
                 if v.is_floating_point()}
        point = dict(point or {})
        missing = [n for n in names if n not in state and n not in point]
        if missing:
            raise InputError(f"the model has no float tensors {missing[:3]}")
        self.names = list(names)
        var = set(self.names)
        tied = aliases(model, var)  # tied weights follow the variable they share storage with
        self._theta = {n: point.get(n, state.get(n)).detach().to(self.dtype).clone()
                       for n in self.names}
        # copies: the operator's point stays put whatever later writes into the model
        self._fixed = {k: (point[k] if k in point else v.clone()).detach().to(self.dtype)
                       for k, v in state.items() if k not in var and k not in tied}
        first = self._theta[self.names[0]]
        self.device = torch.device(device) if device is not None else first.device
        self._theta = {n: t.to(self.device) for n, t in self._theta.items()}
        self._fixed = {n: t.to(self.device) for n, t in self._fixed.items()}
        if mode == "auto":
            mode = AUTO_MODE.get(self.device.type, "fwd-rev")
        self.mode = mode
        self.shapes = [tuple(self._theta[n].shape) for n in self.names]
        self.sizes = [int(np.prod(s)) if s else 1 for s in self.shapes]
        self.size = int(sum(self.sizes))
        self.batch_size = int(batch_size or DEFAULT_BATCH.get(self.device.type, 1024))
        self.hvps = self.gradients = self.losses = 0
        self.hvp_seconds = 0.0
        # called after every pass over the data with "hvp", "gradient" or "loss" (progress)
        self.on_pass: Callable[[str], None] | None = None

    # ---- constructors ------------------------------------------------------------------
    @classmethod
    def from_model(cls, model: nn.Module, examples: Examples, loss: str | LossFunction = "ce",
                   params: str = "perturbed", dir_type: str = "weights",
                   ignore: str = "biasbn", **kw: Any) -> HessianOperator:
        """At the θ ``model`` holds; ``params``: ``perturbed`` (what a ``dir_type`` direction
        with this ``ignore`` moves) or ``all`` (every parameter)."""
        check_params(params)
        names = all_names(model) if params == "all" else perturbed_names(model, dir_type, ignore)
        return cls(model, names, examples, loss, selection=params, **kw)

    @classmethod
    def from_plane(cls, plane: Any, examples: Examples, loss: str | LossFunction = "ce",
                   params: str = "perturbed", a: float = 0.0, b: float = 0.0,
                   **kw: Any) -> HessianOperator:
        """At θ + a·d₁ + b·d₂ of a :class:`~lossviz_core.plane.Plane`; ``perturbed``: the
        tensors d₁ or d₂ moves."""
        check_params(params)
        names = all_names(plane.model) if params == "all" else plane_names(plane)
        op = cls(plane.model, names, examples, loss, point=plane_point(plane, a, b),
                 plane=plane, selection=params, **kw)
        op.coords = (float(a), float(b))
        return op

    def _like(self, names: Sequence[str], point: Mapping[str, Tensor]) -> HessianOperator:
        op = HessianOperator(self.model, names, self.examples, self.loss_fn, point=point,
                             dtype=self.precision, batch_size=self.batch_size,
                             output=self.output, device=self.device, plane=self.plane,
                             selection=self.selection, mode=self.mode)
        op.coords, op.on_pass = self.coords, self.on_pass
        return op

    def at(self, a: float, b: float = 0.0) -> HessianOperator:
        """The same operator at θ + a·d₁ + b·d₂ (built from a plane; nothing is written)."""
        if self.plane is None:
            raise InputError("this Hessian was not built on a plane: use from_plane()")
        op = self._like(self.names, plane_point(self.plane, a, b))
        op.coords = (float(a), float(b))
        return op

    def restricted(self, names: Sequence[str]) -> HessianOperator:
        """The diagonal block of H for ``names`` (a subset), the rest held at the point."""
        bad = [n for n in names if n not in self._theta]
        if bad:
            raise InputError(f"{bad[:3]} are not among this Hessian's parameters")
        return self._like(list(names), self.point())

    # ---- vectors -----------------------------------------------------------------------
    def point(self) -> dict[str, Tensor]:
        """Every float tensor of the point (the variables and the fixed ones)."""
        return {**self._fixed, **self._theta}

    def flatten(self, named: Mapping[str, Tensor] | Sequence[Tensor]) -> Tensor:
        """One flat vector (this operator's layout) of named or ordered tensors."""
        ts = [named[n] for n in self.names] if isinstance(named, Mapping) else list(named)
        return torch.cat([t.reshape(-1).to(self.device, self.dtype) for t in ts])

    def unflatten(self, v: Tensor) -> dict[str, Tensor]:
        """Named tensors (views of ``v``) shaped like the variables."""
        parts = torch.split(v, self.sizes)
        return {n: p.view(s) for n, p, s in zip(self.names, parts, self.shapes, strict=True)}

    def theta(self) -> Tensor:
        """The variables at the point, flat."""
        return self.flatten(self._theta)

    def random_vector(self, generator: torch.Generator, kind: str = "gaussian") -> Tensor:
        """A seeded random vector (drawn on the CPU: the same on every device)."""
        if kind == "rademacher":
            v = torch.randint(0, 2, (self.size,), generator=generator).to(torch.float64) * 2 - 1
        else:
            v = torch.randn(self.size, generator=generator, dtype=torch.float64)
        return v.to(self.device, self.dtype)

    # ---- products and values -----------------------------------------------------------
    def hvp(self, v: Tensor) -> Tensor:
        """H·v, summed batch by batch (one forward-over-reverse pass over the examples)."""
        start = time.perf_counter()
        tangent = self.unflatten(v.to(self.device, self.dtype))
        n = self.examples.n

        def one(x: Tensor, y: Tensor) -> Tensor:
            g = lambda p: grad(self._mean_loss)(p, x, y, n)  # noqa: E731
            if self.mode == "rev-rev":
                return self.flatten(vjp(g, self._theta)[1](tangent)[0])
            return self.flatten(jvp(g, (self._theta,), (tangent,))[1])

        with warnings.catch_warnings():  # torch's first jvp scripts its decompositions
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated")
            out = self._sum(one)
        self.hvps += 1
        self.hvp_seconds += time.perf_counter() - start
        self._passed("hvp")
        return out

    def matvec(self, v: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """H·v for a numpy vector (returned as float64 numpy, for scipy) or a tensor."""
        if isinstance(v, Tensor):
            return self.hvp(v)
        flat = torch.from_numpy(np.ascontiguousarray(np.asarray(v, np.float64).reshape(-1)))
        return self.hvp(flat).detach().cpu().to(torch.float64).numpy()

    def as_linear_operator(self, shift: float = 0.0):
        """H − shift·I as a ``scipy.sparse.linalg.LinearOperator`` (float64)."""
        from scipy.sparse.linalg import LinearOperator

        def mv(x: np.ndarray) -> np.ndarray:
            out = self.matvec(x)
            return out - shift * np.asarray(x).reshape(-1) if shift else out

        return LinearOperator((self.size, self.size), matvec=mv, dtype=np.float64)

    def loss_and_grad(self, delta: Tensor | None = None) -> tuple[float, Tensor]:
        """L and ∇L (flat) at the point moved by ``delta`` (flat, optional)."""
        p, n = self._moved(delta), self.examples.n

        def one(x: Tensor, y: Tensor) -> Tensor:
            g, value = grad_and_value(self._mean_loss)(p, x, y, n)
            return self.flatten(g), value.detach()

        g, value = self._sum(one)
        self.gradients += 1
        self._passed("gradient")
        return float(value), g

    def loss(self, delta: Tensor | None = None) -> float:
        """L at the point moved by ``delta`` (flat, optional); no gradients."""
        p, n = self._moved(delta), self.examples.n
        with torch.no_grad():
            value = self._sum(lambda x, y: self._mean_loss(p, x, y, n).reshape(1))
        self.losses += 1
        self._passed("loss")
        return float(value[0])

    @property
    def info(self) -> dict[str, Any]:
        """What this Hessian is: parameters, precision, examples, passes so far."""
        return {"params": self.selection, "n_params": self.size, "tensors": len(self.names),
                "precision": self.precision, "batch_size": self.batch_size, "mode": self.mode,
                "device": str(self.device), "loss": self.loss_fn.name, "point": list(self.coords),
                "hvps": self.hvps, **self.examples.describe()}

    # ---- internals ---------------------------------------------------------------------
    def _passed(self, kind: str) -> None:
        if self.on_pass is not None:
            self.on_pass(kind)

    def _moved(self, delta: Tensor | None) -> dict[str, Tensor]:
        if delta is None:
            return self._theta
        d = self.unflatten(delta.to(self.device, self.dtype))
        return {k: t + d[k] for k, t in self._theta.items()}

    def _mean_loss(self, variables: dict[str, Tensor], x: Tensor, y: Tensor, n: int) -> Tensor:
        out = functional_call(self.model, (variables, self._fixed), (x,))
        out = select_output(out, self.output)
        total, _ = batch_stats(out.to(self.dtype), y, self.loss_fn, lead=0)
        return total / n

    def _sum(self, fn: Callable[[Tensor, Tensor], Any]) -> Any:
        """Σ over batches of ``fn(x, y)`` (a tensor or a tuple of them); on CUDA
        out-of-memory the batch halves and the pass starts again."""
        while True:
            try:
                with self._mode():
                    acc = None
                    for x, y in self.examples.batches(self.batch_size, self.device, self.dtype):
                        part = fn(x, y)
                        if acc is None:
                            acc = part
                        elif isinstance(part, tuple):
                            acc = tuple(a + b for a, b in zip(acc, part, strict=True))
                        else:
                            acc = acc + part
                    return acc
            except torch.cuda.OutOfMemoryError:
                pass
            torch.cuda.empty_cache()  # outside the except block: the failed pass is freed
            if self.batch_size == 1:
                raise LossVizError("out of GPU memory for a Hessian-vector product even at "
                                   "batch size 1; use --device cpu or a smaller model")
            self.batch_size //= 2

    @contextmanager
    def _mode(self):
        """Eval mode (restored after), exact fp32 convolutions on CUDA (no TF32)."""
        was = self.model.training
        with ExitStack() as stack:
            if self.device.type == "cuda":
                from lossviz_core.evaluation.planner import cudnn_settings

                stack.enter_context(cudnn_settings(exact=True))
            set_mode(self.model, False)
            try:
                yield
            finally:
                set_mode(self.model, was)
