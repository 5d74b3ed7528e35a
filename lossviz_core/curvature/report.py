"""The curvature report at one point: what ``lossviz curvature`` writes, and its figure.

``iter_curvature_report(op, options)`` is a generator like the engine's others: it yields a
:class:`~lossviz_core.progress.Step` before each part (its share of the planned
Hessian-vector products, and the ETA from the seconds one product took so far) and returns
the report, a JSON-able dict with at least ``eigenvalues`` (top k, largest first),
``lambda_min``, ``trace``, ``trace_stderr``, ``per_layer``, ``sharpness``, ``density``
(``grid`` and ``values``), ``converged`` and ``examples``. Work at a point costs tens to
hundreds of products, each one pass over the examples: :func:`plan` says how many first.

With the ``torch`` solver (the default) one Lanczos run from a Rademacher vector gives the
top eigenvalues, λmin and the spectral density together (grown until all three are there),
and the trace deflates with that run's basis (``krylov``): its part of the trace is free
and its products go to the residual alone. ``scipy`` runs ARPACK per part, as before.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from lossviz_core.curvature.density import quadrature, slq
from lossviz_core.curvature.eigen import TORCH_MAXITER, EigenResult, lambda_min, top_eigenpairs
from lossviz_core.curvature.lanczos import lanczos_spectrum
from lossviz_core.curvature.layers import layer_groups, per_layer_top
from lossviz_core.curvature.sharpness import average_sharpness, epsilon_sharpness, sam_sharpness
from lossviz_core.curvature.trace import deflated, estimate_trace
from lossviz_core.errors import InputError
from lossviz_core.progress import Step, drain

# passes per part, as Hessian-vector products: ARPACK's default basis is 20 vectors and
# a restart or two is usual; a gradient costs about half a product, a loss a fifth
_ARPACK_HVPS, _GRADIENT, _LOSS = 40, 0.5, 0.2


@dataclasses.dataclass(frozen=True)
class CurvatureOptions:
    """What the report computes and how hard it tries (tolerances, caps, probes, seeds)."""

    k: int = 5
    tol: float = 1e-3
    maxiter: int | None = None
    solver: str = "torch"
    trace: str = "krylov"
    trace_hvps: int = 99
    density_steps: int = 60
    density_runs: int = 1
    per_layer: bool = True
    layer_by: str = "layer"
    sharpness: bool = True
    epsilon: float = 1e-3
    epsilon_steps: int = 10
    rho: float = 0.05
    sam_steps: int = 5
    average_samples: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse values no solver can use, in one line naming the option (its flag, where the
        command line has one)."""
        least = {"k": 1, "trace_hvps": 3, "density_steps": 2, "density_runs": 1,
                 "epsilon_steps": 1, "sam_steps": 1, "average_samples": 2}
        for name, low in least.items():
            if getattr(self, name) < low:
                raise InputError(f"{_option(name)} must be at least {low}, got "
                                 f"{getattr(self, name)}")
        if self.maxiter is not None and self.maxiter < 1:
            raise InputError(f"{_option('maxiter')} must be at least 1, got {self.maxiter}")
        if not self.tol >= 0:  # 0: as tight as the solver goes (ARPACK: machine precision)
            raise InputError(f"{_option('tol')} must be 0 or more, got {self.tol}")
        for name in ("epsilon", "rho") if self.sharpness else ():
            if not getattr(self, name) > 0:  # also NaN
                raise InputError(f"{_option(name)} must be positive, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FLAGS = {"k": "--top-k", "tol": "--tol", "maxiter": "--maxiter", "trace_hvps": "--trace-hvps",
          "density_steps": "--density-steps", "epsilon": "--epsilon", "rho": "--rho"}


def _option(name: str) -> str:
    """An option as the command line names it (``k`` is ``--top-k``), else by its name."""
    return _FLAGS.get(name, f"curvature option {name}")


def plan(op: Any, options: CurvatureOptions | None = None,
         seconds_per_hvp: float | None = None) -> dict[str, Any]:
    """The planned work in Hessian-vector products per part, and an ETA when the seconds
    one product takes are known (measured so far by ``op`` if not given)."""
    o = options or CurvatureOptions()
    if _one_krylov(o):  # eigenvalues, λmin and the density from one Lanczos run
        parts = {"eigenvalues": max(o.density_steps, _ARPACK_HVPS // 2 + o.k),
                 "trace": o.trace_hvps // 3,
                 "density": o.density_steps * (o.density_runs - 1)}
    else:
        parts = {"eigenvalues": _ARPACK_HVPS + 2 * o.k + o.k, "lambda_min": _ARPACK_HVPS,
                 "trace": o.trace_hvps, "density": o.density_steps * o.density_runs}
    if o.per_layer:
        parts["per_layer"] = _ARPACK_HVPS * len(layer_groups(op.names, o.layer_by)) // 2
    if o.sharpness:
        parts["sharpness"] = int(np.ceil((1.2 * o.epsilon_steps + o.sam_steps + 3) * _GRADIENT
                                         + (o.average_samples + 2) * _LOSS))
    if seconds_per_hvp is None and op.hvps:
        seconds_per_hvp = op.hvp_seconds / op.hvps
    total = int(sum(parts.values()))
    return {"hvps": total, "parts": parts, "seconds_per_hvp": seconds_per_hvp,
            "eta_seconds": None if seconds_per_hvp is None else total * seconds_per_hvp,
            "examples": op.examples.n, "unit": op.examples.unit, "n_params": op.size}


def describe_plan(p: dict[str, Any]) -> str:
    """One line: "about N Hessian-vector products over E examples (~T s)"."""
    text = (f"about {p['hvps']} Hessian-vector products, each a pass over {p['examples']} "
            f"{p.get('unit', 'examples')}, {p['n_params']} parameters")
    if p.get("eta_seconds") is not None:
        text += f" (~{p['eta_seconds']:.0f} s at {p['seconds_per_hvp']:.3g} s each)"
    return text


def iter_curvature_report(op: Any, options: CurvatureOptions | None = None
                          ) -> Generator[Step, None, dict[str, Any]]:
    """:func:`curvature_report` as a generator of Steps (stop iterating to cancel)."""
    o = options or CurvatureOptions()
    start, before, grads = time.perf_counter(), op.hvps, op.gradients
    probe = op.random_vector(_gen(o.seed))
    op.hvp(probe)  # the first product also loads torch's forward-mode rules: not timed
    t0 = op.hvp_seconds
    op.hvp(probe)
    p = plan(op, o, seconds_per_hvp=op.hvp_seconds - t0)
    yield Step("curvature: " + describe_plan(p), 0.0)

    def step(name: str) -> Step:
        spent = op.hvps - before
        # the first product (loading torch's forward-mode rules) is left out of the rate
        rate = (op.hvp_seconds - t0) / max(spent - 1, 1)
        left = max(p["hvps"] - spent, 0) * rate
        frac = min(spent / max(p["hvps"], 1), 0.99)
        return Step(f"{name}: about {p['parts'].get(name, 0)} products "
                    f"({spent}/{p['hvps']} so far, ETA {left:.0f} s)", frac)

    yield step("eigenvalues")
    k = min(o.k, op.size)
    if _one_krylov(o):
        top, low, dens, tr = yield from _from_one_krylov(op, o, k, step)
    else:
        top = top_eigenpairs(op, k, o.tol, o.maxiter, o.solver, o.seed, vectors=False,
                             residuals=True)
        yield step("lambda_min")
        low = lambda_min(op, float(top.values[0]), o.tol, o.maxiter, o.solver, o.seed)
        yield step("trace")
        tr = estimate_trace(op, o.trace, o.trace_hvps, o.seed)
        yield step("density")
        dens = slq(op, o.density_steps, o.density_runs, o.seed)
    layers: dict[str, Any] = {}
    if o.per_layer:
        yield step("per_layer")
        layers = per_layer_top(op, o.layer_by, o.tol, o.maxiter, o.solver, o.seed)
    sharp: dict[str, Any] = {}
    if o.sharpness:
        yield step("sharpness")
        sharp = {"epsilon": epsilon_sharpness(op, o.epsilon, o.epsilon_steps, o.seed),
                 "sam": sam_sharpness(op, o.rho, o.sam_steps, o.seed),
                 "average": average_sharpness(op, o.rho, o.average_samples, o.seed)}
    report = {
        "eigenvalues": [float(v) for v in top.values],
        "lambda_min": float(low.values[0]),
        "trace": tr.value, "trace_stderr": tr.stderr,
        "per_layer": {name: d["value"] for name, d in layers.items()},
        "sharpness": {name: d["value"] for name, d in sharp.items()},
        "density": dens.to_dict(),
        "converged": {"eigenvalues": list(top.converged), "lambda_min": bool(low.converged[0]),
                      "per_layer": {n: d["converged"] for n, d in layers.items()},
                      "sharpness": {n: d.get("converged", True) for n, d in sharp.items()}},
        "examples": op.examples.n, "unit": op.examples.unit,
        "details": {"eigenvalues": top.to_dict(), "lambda_min": low.to_dict(),
                    "trace": tr.to_dict(), "per_layer": layers, "sharpness": sharp},
        "hessian": op.info, "options": o.to_dict(), "plan": p,
        "hvps": op.hvps - before, "gradients": op.gradients - grads,
        "seconds": time.perf_counter() - start,
    }
    report["hessian"]["hvps"] = op.hvps
    return json.loads(json.dumps(report, default=_json_default))


def _one_krylov(o: CurvatureOptions) -> bool:
    return o.solver == "torch" and o.trace in ("krylov", "hutchpp", "hutchinson")


def _from_one_krylov(op: Any, o: CurvatureOptions, k: int, step: Any):
    """The top k, λmin, the density and the trace from one Lanczos run (see the module
    docstring): yields the steps of the parts after it, returns (top, low, density, trace)."""
    start, before = time.perf_counter(), op.hvps
    import torch

    gen = torch.Generator().manual_seed(int(o.seed))  # slq's probes, drawn the same way
    v0 = op.random_vector(gen, "rademacher")
    spec = lanczos_spectrum(op.hvp, v0, k, o.tol, min(o.density_steps, op.size),
                            o.maxiter or TORCH_MAXITER)
    seconds, spent = time.perf_counter() - start, op.hvps - before
    residuals = [float((op.hvp(v) - lam * v).norm()) for v, lam in
                 zip(spec.vectors, spec.top, strict=True)]
    top = EigenResult(spec.top, None, spec.converged, spent + k, seconds, "torch", o.tol,
                      residuals, {"krylov_steps": len(spec.krylov.alphas)})
    low = EigenResult(np.array([spec.bottom]), None, [spec.bottom_converged], 0, 0.0, "torch",
                      o.tol, None, {"from": "the eigenvalues' Lanczos run"})
    yield step("density")
    krylovs = [spec.krylov]
    if o.density_runs > 1:  # further runs from the next probes, as slq draws them
        more = [op.random_vector(gen, "rademacher") for _ in range(o.density_runs - 1)]
        krylovs += list(_more_runs(op, more, o.density_steps))
    dens = quadrature(krylovs, min(o.density_steps, op.size), hvps=op.hvps - before,
                      seconds=time.perf_counter() - start)
    yield step("trace")
    if o.trace == "krylov":
        tr = deflated(op, spec.krylov.basis, spec.krylov.alphas, o.trace_hvps // 3, o.seed)
    else:
        tr = estimate_trace(op, o.trace, o.trace_hvps, o.seed)
    return top, low, dens, tr


def _more_runs(op: Any, probes: list, steps: int):
    from lossviz_core.curvature.lanczos import lanczos

    for v in probes:
        yield lanczos(op.hvp, v, min(steps, op.size))


def curvature_report(op: Any, options: CurvatureOptions | None = None) -> dict[str, Any]:
    """Everything at the operator's point (see the module docstring for the keys)."""
    return drain(iter_curvature_report(op, options))


def write_report(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """The report as JSON at ``path`` (written atomically)."""
    from lossviz_core.atomic import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, "curvature report") as tmp:
        Path(tmp).write_text(json.dumps(report, indent=1, sort_keys=True))
    return path


def _gen(seed: int):
    import torch

    return torch.Generator().manual_seed(int(seed) + 7919)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
