"""Curvature speed, side by side in one run: ``python -m benchmarks.curvature``.

1. One Hessian-vector product as a multiple of one gradient pass (target ≤ 2.5×), same model,
   data and batch: LossViz's default (one backward through the kept gradient graph, BatchNorm
   folded) and each other mode (per-batch torch.func: rev-rev, fwd-rev, rev-fwd) against a
   plain autograd gradient and LossViz's own functional gradient, timed in interleaved
   rounds (each round: the gradient, then each mode's product, each run twice in a row and
   the second timed): the ratio is the median of the rounds' paired ratios, so load that
   comes and goes on a shared machine does not land on one side only.
2. The top eigenvalue against PyHessian's ``hessian.eigenvalues()`` power iteration (the
   installed package; a faithful re-implementation when it is not installed) in both its
   modes (``dataloader``: the graph rebuilt every product; ``data``: one batch, its graph
   kept), same model, data and parameters (all, as PyHessian's), at equal accuracy: each
   side at the loosest tolerance whose value is within 1e-3 of the exact λmax, timed from
   building the operator; target ≥ 3× faster. scipy's ARPACK against LossViz's torch
   Lanczos on the device, same tol.
3. The convexity map, seconds per point, against a faithful re-implementation of the
   reference's ``min_max_hessian_eigs`` loop (tomgoldstein/loss-landscape: ``set_weights``
   on the CPU, a DataLoader with 2 workers and per-image transforms at batch 128, double
   backward accumulated into ``.grad``, ``eigsh(k=1, tol=1e-2)`` twice with the 0.51·λmax
   shift). The reference's H is the sum of per-batch mean Hessians (8 batches of 128 here),
   so its eigenvalues are compared after dividing by the number of batches
   (:mod:`.convexity`).
4. The demo's full report, before and after (:mod:`.curvature_report`), and end to end.

Every figure is a median of repeats after a warm-up, and carries the 1-minute load average
at the moment it was measured. On the CPU torch runs on ``--threads`` threads (default 1:
on a shared 2-core machine two OpenMP threads contend and a gradient pass took 12× longer).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lossviz_core.curvature import HessianOperator, examples_of, top_eigenpairs
from lossviz_core.data import Split
from lossviz_core.device import pick_device

from .cases import calibrate_bn, demo_workload
from .convexity import convexity_case
from .curvature_report import report_case
from .flops import device_name
from .reference_loop import (
    CIFAR_NORM,
    cifar_like,
    normalized_split,
    synchronize,
)

TARGETS = {"hvp_ratio": 2.5, "eig_speedup": 3.0}


def load() -> float:
    return round(os.getloadavg()[0], 2)


# --------------------------------------------------------------------------- workloads


def workloads(device: torch.device, quick: bool) -> list[tuple[str, nn.Module, Split]]:
    """The demo digits CNN on its 1,437 training digits; ResNet-20 on CIFAR-shaped images."""
    w = demo_workload(torch.device("cpu"))
    digits = w.dataset.train
    out = [("digits_cnn", w.model.to(device), Split(digits.x.to(device), digits.y.to(device)))]
    if not quick:
        from lossviz_core.models import build_model

        n = 4096 if device.type == "cuda" else 128
        images, labels = cifar_like(n)
        split = normalized_split(images, labels, *CIFAR_NORM, device=device)
        torch.manual_seed(0)
        net = calibrate_bn(build_model("resnet20"), split.x[:512].cpu(), torch.device("cpu"))
        out.append(("resnet20", net.to(device), split))
    return out


# --------------------------------------------------------------------------- 1. HVP cost


# the product modes compared: the default (a kept graph, BatchNorm folded), then each piece
HVP_MODES = (("auto", "auto"), ("graph", False), ("rev-rev", False), ("fwd-rev", False),
             ("rev-fwd", "auto"))


def interleaved(fns: dict, device, repeats: int = 5) -> dict[str, list[float]]:
    """Seconds of each of ``fns`` per round, the rounds interleaved so that load on a shared
    machine falls on every side alike and each round gives a paired ratio. In a round each
    function runs twice in a row and the second run is timed: it then follows itself, as
    products follow products in Lanczos and gradients follow gradients in training (a
    function timed right after another's large allocations measured up to 40 % slower)."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            fn()
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            out[k].append(time.perf_counter() - start)
    return out


def hvp_case(name: str, model: nn.Module, split: Split, device, repeats: int = 5) -> list[dict]:
    """Each product mode against a plain autograd gradient: every round times the gradient,
    LossViz's functional gradient and one product of each mode, and the ratio reported is
    the median over rounds of product ÷ gradient of the same round."""
    model.eval()
    ex = examples_of(split)
    n = len(split.y)
    ops = {(m, f): HessianOperator.from_model(model, ex, "ce", params="all", device=device,
                                              batch_size=n, mode=m, fold_bn=f)
           for m, f in HVP_MODES}
    first = ops[HVP_MODES[0]]
    v = first.random_vector(torch.Generator().manual_seed(0))
    params = [p for p in model.parameters()]

    def plain_gradient():
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(split.x), split.y)
        return torch.autograd.grad(loss, params)

    synchronize(device)
    start = time.perf_counter()
    first.hvp(v)  # builds the kept graph: timed apart, it is paid once per point
    synchronize(device)
    build_s = time.perf_counter() - start
    fns = {"gradient": plain_gradient, "functional": lambda: first.loss_and_grad()}
    fns.update({key: (lambda op=op: op.hvp(v)) for key, op in ops.items()})
    times = interleaved(fns, device, repeats)
    grad = np.array(times["gradient"])
    grad_s, lv_grad_s = float(np.median(grad)), float(np.median(times["functional"]))
    rows = []
    for (mode, fold), op in ops.items():
        t = np.array(times[(mode, fold)])
        s, ratio = float(np.median(t)), float(np.median(t / grad))
        label = f"{op.mode}{', BN folded' if op.info['bn_folded'] else ''}"
        if mode == "auto":
            label = f"default: {label}"
        rows.append({"case": "HVP ÷ gradient", "model": name, "examples": n,
                     "what": f"HVP {label} vs plain autograd gradient",
                     "seconds": s, "baseline_seconds": grad_s, "ratio": ratio,
                     "target": f"≤ {TARGETS['hvp_ratio']}×",
                     "met": ratio <= TARGETS["hvp_ratio"], "load": load(),
                     "note": f"median of {repeats} interleaved rounds' ratios (range "
                             f"{(t / grad).min():.2f}–{(t / grad).max():.2f}×); LossViz "
                             f"functional gradient {lv_grad_s:.3g} s (HVP = "
                             f"{float(np.median(t / np.array(times['functional']))):.2f}× it)"
                             + (f"; building the kept graph (first product) {build_s:.3g} s"
                                if mode == "auto" else "")})
    return rows


# --------------------------------------------------------------------------- 2. eigenvalue


def pyhessian_top(model: nn.Module, batches: list, device, tol: float, max_iter: int = 100,
                  mode: str = "dataloader"):
    """PyHessian's ``hessian(...).eigenvalues(maxIter, tol)`` (the package when installed),
    timed from its construction: ``dataloader`` mode recomputes the gradient graph every
    product; ``data`` mode (one batch) builds it once, as LossViz's kept graph does.
    Returns (λmax, products, seconds, which)."""
    torch.manual_seed(0)
    start = time.perf_counter()
    try:
        import importlib

        from pyhessian import hessian

        ph = importlib.import_module("pyhessian.hessian")  # the module (its class shadows it)

        cuda = device.type == "cuda"
        count = [0]
        if mode == "data":
            h = hessian(model, nn.CrossEntropyLoss(), data=batches[0], cuda=cuda)
            plain = ph.hessian_vector_product

            def counted(*a):
                count[0] += 1
                return plain(*a)

            ph.hessian_vector_product = counted
            try:
                values, _ = h.eigenvalues(maxIter=max_iter, tol=tol, top_n=1)
            finally:
                ph.hessian_vector_product = plain
                model.zero_grad(set_to_none=True)
        else:
            h = hessian(model, nn.CrossEntropyLoss(), dataloader=batches, cuda=cuda)
            plain = h.dataloader_hv_product

            def counted(v):
                count[0] += 1
                return plain(v)

            h.dataloader_hv_product = counted
            values, _ = h.eigenvalues(maxIter=max_iter, tol=tol, top_n=1)
        value, which = float(values[0]), f"PyHessian 0.1 ({mode} mode)"
    except ImportError:
        count = [0]
        value = _power_iteration(model, batches, device, tol, max_iter, count)
        which = "PyHessian's power iteration, re-implemented (package not installed)"
    synchronize(device)
    return value, count[0], time.perf_counter() - start, which


def _power_iteration(model, batches, device, tol, max_iter, count) -> float:
    """PyHessian's ``eigenvalues(top_n=1)`` with ``dataloader_hv_product``, line for line."""
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    v = [torch.randn(p.size()).to(device) for p in params]
    v = _normalized(v)
    eigenvalue = None
    for _ in range(max_iter):
        count[0] += 1
        thv = [torch.zeros(p.size()).to(device) for p in params]
        num = 0
        for inputs, targets in batches:
            model.zero_grad()
            loss = nn.CrossEntropyLoss()(model(inputs.to(device)), targets.to(device))
            loss.backward(create_graph=True)
            grads = [0.0 if p.grad is None else p.grad + 0.0 for p in params]
            model.zero_grad()
            hv = torch.autograd.grad(grads, params, grad_outputs=v, only_inputs=True,
                                     retain_graph=False)
            thv = [t + h * float(inputs.size(0)) + 0.0 for t, h in zip(thv, hv, strict=True)]
            num += inputs.size(0)
        thv = [t / float(num) for t in thv]
        tmp = float(sum(torch.sum(a * b) for a, b in zip(thv, v, strict=True)))
        v = _normalized(thv)
        if eigenvalue is not None and abs(eigenvalue - tmp) / (abs(eigenvalue) + 1e-6) < tol:
            break
        eigenvalue = tmp
    for p in params:
        p.grad = None
    return tmp


def _normalized(v):
    s = float(sum(torch.sum(x * x) for x in v)) ** 0.5
    return [x / (s + 1e-6) for x in v]


LANCZOS_TOLS = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 1e-4)


def lossviz_top(model: nn.Module, split: Split, device, exact: float, accuracy: float):
    """LossViz's default top eigenvalue (torch Lanczos, kept graph, BN folded) at the loosest
    residual tolerance whose value is within ``accuracy`` of ``exact``; each try on a fresh
    operator, timed from its construction: (value, HVPs, seconds, tol)."""
    for tol in LANCZOS_TOLS:
        synchronize(device)
        start = time.perf_counter()
        op = HessianOperator.from_model(model, examples_of(split), "ce", params="all",
                                        device=device, batch_size=len(split.y))
        res = top_eigenpairs(op, 1, tol, vectors=False, solver="torch")
        synchronize(device)
        secs = time.perf_counter() - start
        if abs(res.values[0] - exact) / exact <= accuracy:
            return float(res.values[0]), res.hvps, secs, tol
    return float(res.values[0]), res.hvps, secs, tol


def eigen_case(name: str, model: nn.Module, split: Split, device, tol: float = 1e-3) -> list[dict]:
    model.eval()
    n = len(split.y)
    op = HessianOperator.from_model(model, examples_of(split), "ce", params="all",
                                    device=device, batch_size=n)
    exact = float(top_eigenpairs(op, 1, 1e-8, vectors=False).values[0])  # not timed
    runs = {}
    for label, kw in (("scipy eigsh", {}), ("scipy eigsh ncv=8", {"ncv": 8}),
                      ("torch Lanczos", {"solver": "torch"})):
        fresh = HessianOperator.from_model(model, examples_of(split), "ce", params="all",
                                           device=device, batch_size=n)
        synchronize(device)
        start = time.perf_counter()
        res = top_eigenpairs(fresh, 1, tol, vectors=False, **kw)
        synchronize(device)
        runs[label] = {"s": time.perf_counter() - start, "value": float(res.values[0]),
                       "hvps": res.hvps, "ok": res.converged[0], "load": load()}
    value, hvps, secs, ltol = lossviz_top(model, split, device, exact, tol)
    err = abs(value - exact) / exact
    rows = []
    for mode in ("dataloader", "data"):
        batches = [(split.x, split.y)]  # the same single batch LossViz uses
        base = pyhessian_top(model, batches, device, tol, mode=mode)
        ptol = tol
        while abs(base[0] - exact) / exact > tol and ptol > tol * 1e-3:
            ptol /= 10  # power iteration stops on a relative change: tighten it until it agrees
            base = pyhessian_top(model, batches, device, ptol, mode=mode)
        pvalue, phvps, psecs, which = base
        perr = abs(pvalue - exact) / exact
        rows.append({
            "case": f"top eigenvalue vs PyHessian ({mode} mode), same accuracy",
            "model": name, "examples": n,
            "what": f"LossViz default (torch Lanczos, {op.mode} HVP{', BN folded' if op.info['bn_folded'] else ''}), "
                    f"tol {ltol:g}: {hvps} HVPs, error {err:.1e}; {which}, tol {ptol:g}: "
                    f"{phvps} HVPs, error {perr:.1e}",
            "seconds": secs, "baseline_seconds": psecs, "ratio": psecs / secs,
            "target": f"≥ {TARGETS['eig_speedup']}×, both within {tol:g}",
            "met": psecs / secs >= TARGETS["eig_speedup"] and max(err, perr) <= tol,
            "load": load(), "note": f"exact λmax {exact:.7g} (eigsh tol 1e-8)"})
    sc, tl, small = runs["scipy eigsh"], runs["torch Lanczos"], runs["scipy eigsh ncv=8"]
    rows.append({"case": "torch Lanczos vs scipy eigsh", "model": name, "examples": n,
                 "what": f"torch Lanczos on {device.type} ({tl['hvps']} HVPs) vs ARPACK "
                         f"({sc['hvps']} HVPs), top eigenvalue, tol {tol:g}",
                 "seconds": tl["s"], "baseline_seconds": sc["s"], "ratio": sc["s"] / tl["s"],
                 "target": "> 1×: torch faster", "met": tl["s"] < sc["s"], "load": tl["load"],
                 "note": f"ARPACK with ncv=8: {small['hvps']} HVPs, {small['s']:.3g} s; values "
                         f"{tl['value']:.7g} / {sc['value']:.7g} / {small['value']:.7g}"})
    return rows


# --------------------------------------------------------------------------- report


def markdown(rows: list[dict], env: dict) -> str:
    lines = [f"### curvature: {env['device_name']} ({env['date']})", "",
             f"- device `{env['device']}`, torch {env['torch']}, {env['threads']} torch threads, "
             f"load average at start {env['load_start']}", "",
             "| case | model (examples) | what | LossViz s | baseline s | ratio | target | met | "
             "load | note |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['model']} ({r['examples']}) | {r['what']} | "
                     f"{r['seconds']:.3g} | {r['baseline_seconds']:.3g} | {r['ratio']:.2f}× | "
                     f"{r['target']} | {'yes' if r['met'] else 'NO'} | {r['load']} | "
                     f"{r['note']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.curvature",
                                description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--points", type=int, default=3, help="convexity-map points (LossViz)")
    p.add_argument("--ref-points", type=int, default=2, help="convexity-map points (reference)")
    p.add_argument("--quick", action="store_true", help="the digits CNN only, 1 point each")
    p.add_argument("--parts", default="hvp,eigen,report,convexity",
                   help="which parts to run (hvp, eigen, report, convexity)")
    p.add_argument("--out", type=Path, help="also write the rows as JSON here")
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated")
    torch.set_num_threads(a.threads)
    device = pick_device(a.device)
    env = {"device": str(device), "device_name": device_name(device), "torch": torch.__version__,
           "threads": torch.get_num_threads(), "load_start": load(),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print(f"curvature benchmark on {env['device_name']} ({device}), load {env['load_start']}",
          file=sys.stderr, flush=True)
    parts = set(a.parts.split(","))
    rows: list[dict] = []
    for name, model, split in workloads(device, a.quick):
        if "hvp" in parts:
            rows += hvp_case(name, model, split, device)
        if "eigen" in parts:
            rows += eigen_case(name, model, split, device)
        print(f"  {name} done (load {load()})", file=sys.stderr, flush=True)
    if "report" in parts and device.type == "cpu":
        rows += report_case(a.threads)
        print(f"  demo report done (load {load()})", file=sys.stderr, flush=True)
    if "convexity" in parts:
        pts, ref = (1, 1) if a.quick else (a.points, a.ref_points)
        rows += convexity_case(device, pts, ref)
    text = markdown(rows, env)
    if a.out:
        a.out.write_text(json.dumps({"env": env, "rows": rows}, indent=1, default=str))
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
