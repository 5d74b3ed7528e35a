"""The Hessian of the mean loss at a point of the plane, as a linear operator.

``H = ∇²L(θ + a·d₁ + b·d₂)``, L the sample-weighted mean loss over the chosen examples
(:mod:`.examples`), with respect to a chosen set of tensors: ``perturbed`` (the tensors the
directions move, so the curvature and the surface describe the same space: with
``ignore=biasbn`` biases and BatchNorm are fixed) or ``all`` (every parameter, as PyHessian
does). A Hessian-vector product (:mod:`.products`) is by default one backward pass through
the gradient's graph, built once per point (``graph``), or, when that graph would not fit
in memory, forward-over-reverse per batch (``vjp`` of ``grad`` on the CPU, where it measured
faster), through ``functional_call`` on the model in eval mode (BatchNorm uses its running
statistics, so L is a function of the weights alone) with BatchNorm folded into the
preceding convolution where torch.fx can trace the model. The model is never written: the
point lives in the operator.
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

from lossviz_core.curvature.examples import Examples
from lossviz_core.curvature.params import (
    aliases,
    all_names,
    check_params,
    perturbed_names,
    plane_names,
    plane_point,
)
from lossviz_core.curvature.products import (
    FALLBACK_MODE,
    FOLD_OPTIONS,
    HVP_MODES,
    GradientGraph,
    folded_forward,
    forward,
    func_product,
    graph_budget,
)
from lossviz_core.errors import InputError, LossVizError
from lossviz_core.evaluation.capabilities import set_mode
from lossviz_core.evaluation.outputs import select_output
from lossviz_core.losses import LossFunction, batch_stats, batch_sums, resolve_loss

DTYPES = {"fp32": torch.float32, "fp64": torch.float64}
DEFAULT_BATCH = {"cuda": 1024, "cpu": 2048, "mps": 512}


class HessianOperator:
    """H·v for flat vectors v over ``names`` (concatenated in that order), at ``point``.

    ``model``: any module ``functional_call`` can run; ``names``: the tensors to
    differentiate; ``examples``: what L sums over; ``point``: named tensors of the point
    (default: the model's own); every other float tensor of the model's state is held at
    its value. ``dtype``: ``fp32`` (GPU work) or ``fp64`` (exact work: the whole state and
    the inputs are cast). ``mode``: ``graph`` (the gradient's graph kept, one backward per
    product), ``fwd-rev`` (``jvp(grad)``), ``rev-rev`` (``vjp(grad)``), ``rev-fwd``
    (``grad(jvp)``) or ``auto`` (``graph`` while it fits in memory, else ``rev-rev`` on the
    CPU and ``fwd-rev`` elsewhere). ``fold_bn``: evaluate with eval-mode BatchNorm folded
    into the convolutions (``auto``: where torch.fx traces the model; the Hessian is the
    same; ``folded``: the :func:`~.products.folded_forward` of this model, already traced).
    ``hvps``, ``gradients``, ``losses``: passes over the data so far.
    """

    def __init__(self, model: nn.Module, names: Sequence[str], examples: Examples,
                 loss: str | LossFunction = "ce", *, point: Mapping[str, Tensor] | None = None,
                 dtype: str = "fp32", batch_size: int | None = None,
                 output: str | int | None = None, device: torch.device | str | None = None,
                 plane: Any = None, selection: str = "custom", mode: str = "auto",
                 fold_bn: str | bool = "auto", folded: Any = None) -> None:
        if isinstance(model, torch.jit.ScriptModule):
            raise InputError("curvature needs torch.func, which cannot differentiate a "
                             "TorchScript module; load the model from its Python source")
        if dtype not in DTYPES:
            raise InputError(f"unknown curvature precision {dtype!r}; choose fp32 or fp64")
        if mode not in HVP_MODES:
            raise InputError(f"unknown Hessian-vector product mode {mode!r}; use "
                             f"{', '.join(HVP_MODES)}")
        if fold_bn not in FOLD_OPTIONS:
            raise InputError(f"unknown BatchNorm folding {fold_bn!r}; use auto, True or False")
        if not names:
            raise InputError("no parameters to compute the curvature for (the directions "
                             "move none); use --hessian-params all")
        self.model, self.examples, self.output = model, examples, output
        self._count: float | None = None
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
        self.requested_mode, self.fold_bn = mode, fold_bn
        self.mode = "graph" if mode == "auto" else mode
        self._graph: GradientGraph | None = None
        self.graph_note = ""
        # traced once per model and shared by the operators made from this one
        self._fold = None if fold_bn is False else (
            folded if folded is not None else folded_forward(model, fold_bn))
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
                             selection=self.selection, mode=self.requested_mode,
                             fold_bn=self.fold_bn, folded=self._fold)
        op.coords, op.on_pass = self.coords, self.on_pass
        op._count = self._count  # the same examples: counted once
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
        """H·v: one backward through the kept gradient graph (``graph``), or summed batch by
        batch by torch.func (one pass over the examples)."""
        start = time.perf_counter()
        tangent = self.unflatten(v.to(self.device, self.dtype))
        n = self.count
        if self.mode == "graph" and self._graph is None:
            self._build_graph()
        out = None
        if self.mode == "graph":
            try:
                with self._mode():
                    out = self.flatten(self._graph.product(tangent))
            except torch.cuda.OutOfMemoryError:
                self._drop_graph("a product through it ran out of GPU memory")
        if out is None:
            def one(x: Tensor, y: Tensor) -> Tensor:
                loss = lambda p: self._mean_loss(p, x, y, n)  # noqa: E731
                return self.flatten(func_product(self.mode, loss, self._theta, tangent))

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

    @property
    def graph_value(self) -> float | None:
        """L at the point when the kept gradient graph is built (else None)."""
        return None if self._graph is None else self._graph.value

    def value_and_gradient(self) -> tuple[float, Tensor]:
        """L and ∇L (flat) at the point: read off the kept gradient graph once products have
        built it (no pass over the data), else :meth:`loss_and_grad`."""
        if self._graph is None:
            return self.loss_and_grad()
        return self._graph.value, self.flatten([g.detach() for g in self._graph.grads])

    def loss_and_grad(self, delta: Tensor | None = None) -> tuple[float, Tensor]:
        """L and ∇L (flat) at the point moved by ``delta`` (flat, optional)."""
        p, n = self._moved(delta), self.count

        def one(x: Tensor, y: Tensor) -> Tensor:
            # plain autograd, not torch.func.grad: that loads torch._dynamo (~2 s at start)
            with torch.enable_grad():
                leaves = {k: v.detach().requires_grad_(True) for k, v in p.items()}
                value = self._mean_loss(leaves, x, y, n)
                g = torch.autograd.grad(value, list(leaves.values()), allow_unused=True)
            grads = {k: torch.zeros_like(v) if d is None else d
                     for (k, v), d in zip(leaves.items(), g, strict=True)}
            return self.flatten(grads), value.detach()

        g, value = self._sum(one)
        self.gradients += 1
        self._passed("gradient")
        return float(value), g

    def loss(self, delta: Tensor | None = None) -> float:
        """L at the point moved by ``delta`` (flat, optional); no gradients."""
        p, n = self._moved(delta), self.count
        with torch.no_grad():
            value = self._sum(lambda x, y: self._mean_loss(p, x, y, n).reshape(1))
        self.losses += 1
        self._passed("loss")
        return float(value[0])

    @property
    def count(self) -> float:
        """What the loss is a mean over: the examples, or the loss's own count (``lm``: the
        predicted tokens of every sequence, counted once from the targets)."""
        if self._count is None:
            own = self.loss_fn.entry.count
            if self.loss_fn.user is not None:  # a user's loss may return (sum, count)
                self._count = self._counted()
            elif own is None:
                self._count = float(self.examples.n)
            else:
                self._count = float(sum(own(y) for _, y in self.examples.batches(
                    self.batch_size, self.device, self.dtype)))
            if self._count <= 0:
                raise InputError("the examples have no targets to compute the curvature of")
        return self._count

    def _counted(self) -> float:
        """The loss's own count over the examples, from one pass without gradients (a
        user's loss says it only with its value: a batch mean counts examples)."""
        p, total = self._moved(None), 0.0
        with torch.no_grad(), self._mode():
            for x, y in self.examples.batches(self.batch_size, self.device, self.dtype):
                out = select_output(forward(self.model, self._fold, p, self._fixed, x),
                                    self.output)
                total += float(batch_sums(out.to(self.dtype), y, self.loss_fn, lead=0)[2])
        return total

    @property
    def info(self) -> dict[str, Any]:
        """What this Hessian is: parameters, precision, examples, passes so far."""
        return {"params": self.selection, "n_params": self.size, "tensors": len(self.names),
                "precision": self.precision, "batch_size": self.batch_size, "mode": self.mode,
                "bn_folded": self._fold is not None, "graph_note": self.graph_note,
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

    def _build_graph(self) -> None:
        """Keep ∇L's graph for the products, or fall back per batch when it would not fit."""
        n = self.count
        graph = GradientGraph(self._theta, graph_budget(self.device))
        batches = sum(-(-len(p) // self.batch_size) for p in self.examples.parts)
        try:
            with self._mode():
                ok = graph.build(self.examples.batches(self.batch_size, self.device, self.dtype),
                                 batches, lambda p, x, y: self._mean_loss(p, x, y, n))
        except torch.cuda.OutOfMemoryError:
            ok = False
            torch.cuda.empty_cache()
        if ok:
            self._graph = graph
            return
        self._drop_graph(f"the gradient graph (~{graph.saved_bytes / 2**20:.0f} MiB) does not "
                         "fit in memory")

    def _drop_graph(self, why: str) -> None:
        self._graph = None
        self.mode = FALLBACK_MODE.get(self.device.type, "fwd-rev")
        self.graph_note = f"{why}: {self.mode} per batch"
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _mean_loss(self, variables: dict[str, Tensor], x: Tensor, y: Tensor, n: int) -> Tensor:
        out = forward(self.model, self._fold, variables, self._fixed, x)
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
