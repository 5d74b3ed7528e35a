"""Curvature speed, side by side in one run: ``python -m benchmarks.curvature``.

1. One Hessian-vector product as a multiple of one gradient pass (target ≤ 2.5×), same model,
   data and batch: LossViz's forward-over-reverse (and reverse-over-reverse) HVP against a
   plain autograd gradient and LossViz's own functional gradient.
2. The top eigenvalue against PyHessian's ``hessian.eigenvalues()`` power iteration (the
   installed package; a faithful re-implementation when it is not installed), same model,
   data, parameters (all, as PyHessian's) and tolerance; target ≥ 3× faster, values within
   the tolerance. scipy's ARPACK against LossViz's torch Lanczos on the device, same tol.
3. The convexity map, seconds per point, against a faithful re-implementation of the
   reference's ``min_max_hessian_eigs`` loop (tomgoldstein/loss-landscape: ``set_weights``
   on the CPU, a DataLoader with 2 workers and per-image transforms at batch 128, double
   backward accumulated into ``.grad``, ``eigsh(k=1, tol=1e-2)`` twice with the 0.51·λmax
   shift). The reference's H is the sum of per-batch mean Hessians (8 batches of 128 here),
   so its eigenvalues are compared after dividing by the number of batches.

Every figure is a median of repeats after a warm-up, and carries the 1-minute load average
at the moment it was measured. On the CPU torch runs on ``--threads`` threads (default 1:
on a shared 2-core machine two OpenMP threads contend and a gradient pass took 12× longer).
"""

from __future__ import annotations

import argparse
import copy
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
from torch.utils.data import DataLoader

from lossviz_core.curvature import HessianOperator, examples_of, top_eigenpairs
from lossviz_core.data import Split
from lossviz_core.device import pick_device
from lossviz_core.directions import make_directions
from lossviz_core.measures.curvature import CurvatureMeasure
from lossviz_core.plane import Plane
from lossviz_core.recipe.spec import DirectionSpec

from .cases import calibrate_bn, demo_workload, plane_coords
from .flops import device_name
from .reference_loop import (
    CIFAR_NORM,
    ImageDataset,
    cifar_like,
    eval_transform,
    normalized_split,
    set_weights,
    synchronize,
)

TARGETS = {"hvp_ratio": 2.5, "eig_speedup": 3.0}


def load() -> float:
    return round(os.getloadavg()[0], 2)


def timed(fn, device, repeats: int = 5) -> float:
    """Median seconds of ``fn()`` after one warm-up call."""
    fn()
    out = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        out.append(time.perf_counter() - start)
    return float(np.median(out))


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


def hvp_case(name: str, model: nn.Module, split: Split, device) -> list[dict]:
    model.eval()
    ex = examples_of(split)
    n = len(split.y)
    ops = {m: HessianOperator.from_model(model, ex, "ce", params="all", device=device,
                                         batch_size=n, mode=m) for m in ("fwd-rev", "rev-rev")}
    v = ops["fwd-rev"].random_vector(torch.Generator().manual_seed(0))
    params = [p for p in model.parameters()]

    def plain_gradient():
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(split.x), split.y)
        return torch.autograd.grad(loss, params)

    grad_s = timed(plain_gradient, device)
    lv_grad_s = timed(lambda: ops["fwd-rev"].loss_and_grad(), device)
    rows = []
    for mode, op in ops.items():
        s = timed(lambda op=op: op.hvp(v), device)
        rows.append({"case": "HVP ÷ gradient", "model": name, "examples": n,
                     "what": f"HVP {mode} (torch.func) vs plain autograd gradient",
                     "seconds": s, "baseline_seconds": grad_s, "ratio": s / grad_s,
                     "target": f"≤ {TARGETS['hvp_ratio']}×", "met": s / grad_s <= TARGETS[
                         "hvp_ratio"], "load": load(),
                     "note": f"LossViz functional gradient {lv_grad_s:.3g} s "
                             f"(HVP = {s / lv_grad_s:.2f}× it)"})
    return rows


# --------------------------------------------------------------------------- 2. eigenvalue


def pyhessian_top(model: nn.Module, batches: list, device, tol: float, max_iter: int = 100):
    """PyHessian's ``hessian(...).eigenvalues(maxIter, tol)`` (the package when installed):
    (λmax, products, seconds, which)."""
    torch.manual_seed(0)
    start = time.perf_counter()
    try:
        from pyhessian import hessian

        h = hessian(model, nn.CrossEntropyLoss(), dataloader=batches, cuda=device.type == "cuda")
        count, plain = [0], h.dataloader_hv_product

        def counted(v):
            count[0] += 1
            return plain(v)

        h.dataloader_hv_product = counted
        values, _ = h.eigenvalues(maxIter=max_iter, tol=tol, top_n=1)
        value, which = float(values[0]), "pyhessian 0.1"
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


def eigen_case(name: str, model: nn.Module, split: Split, device, tol: float = 1e-3) -> list[dict]:
    model.eval()
    n = len(split.y)
    op = HessianOperator.from_model(model, examples_of(split), "ce", params="all",
                                    device=device, batch_size=n)
    exact = float(top_eigenpairs(op, 1, 1e-8, vectors=False).values[0])  # not timed
    runs = {}
    for label, kw in (("scipy eigsh", {}), ("scipy eigsh ncv=8", {"ncv": 8}),
                      ("torch Lanczos", {"solver": "torch"})):
        synchronize(device)
        start = time.perf_counter()
        res = top_eigenpairs(op, 1, tol, vectors=False, **kw)
        synchronize(device)
        runs[label] = {"s": time.perf_counter() - start, "value": float(res.values[0]),
                       "hvps": res.hvps, "ok": res.converged[0], "load": load()}
    batches = [(split.x, split.y)]  # the same single batch LossViz uses
    base = pyhessian_top(model, batches, device, tol)
    tight, ptol = base, tol
    while abs(tight[0] - exact) / exact > tol and ptol > tol * 1e-3:
        ptol /= 10  # power iteration stops on a relative change: tighten it until it agrees
        tight = pyhessian_top(model, batches, device, ptol)
    rows = []
    for label in ("scipy eigsh", "torch Lanczos"):
        r = runs[label]
        err = abs(r["value"] - exact) / exact
        baselines = [("same tol", base, tol)]
        if tight is not base:  # PyHessian's own stop missed the tolerance: also at agreement
            baselines.append(("same accuracy", tight, ptol))
        for what, (value, hvps, secs, which), t in baselines:
            perr = abs(value - exact) / exact
            rows.append({
                "case": f"top eigenvalue vs PyHessian ({what})", "model": name, "examples": n,
                "what": f"LossViz {label} ({op.mode} HVP), tol {tol:g}: {r['hvps']} HVPs, "
                        f"error {err:.1e}; "
                        f"{which}, tol {t:g}: {hvps} HVPs, error {perr:.1e}",
                "seconds": r["s"], "baseline_seconds": secs, "ratio": secs / r["s"],
                "target": f"≥ {TARGETS['eig_speedup']}×, agree within {tol:g}",
                "met": secs / r["s"] >= TARGETS["eig_speedup"] and max(err, perr) <= tol,
                "load": r["load"], "note": f"exact λmax {exact:.7g} (eigsh tol 1e-8)"})
    sc, tl, small = runs["scipy eigsh"], runs["torch Lanczos"], runs["scipy eigsh ncv=8"]
    rows.append({"case": "torch Lanczos vs scipy eigsh", "model": name, "examples": n,
                 "what": f"torch Lanczos on {device.type} ({tl['hvps']} HVPs) vs ARPACK "
                         f"({sc['hvps']} HVPs), top eigenvalue, tol {tol:g}",
                 "seconds": tl["s"], "baseline_seconds": sc["s"], "ratio": sc["s"] / tl["s"],
                 "target": "> 1×: torch faster", "met": tl["s"] < sc["s"], "load": tl["load"],
                 "note": f"ARPACK with ncv=8: {small['hvps']} HVPs, {small['s']:.3g} s; values "
                         f"{tl['value']:.7g} / {sc['value']:.7g} / {small['value']:.7g}"})
    return rows


# --------------------------------------------------------------------------- 3. convexity map


def reference_min_max_hessian_eigs(net: nn.Module, loader: DataLoader) -> tuple[float, float, int]:
    """``hess_vec_prod.min_max_hessian_eigs`` of the reference, CPU (``use_cuda=False``)."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    params = [p for p in net.parameters() if len(p.size()) > 1]
    n = sum(p.numel() for p in params)
    criterion = nn.CrossEntropyLoss()

    def hess_vec_prod(vec):
        hess_vec_prod.count += 1
        vecs, loc = [], 0
        for p in params:
            k = p.data.numel()
            vecs.append(torch.from_numpy(vec[loc:loc + k]).view(p.data.shape).float())
            loc += k
        net.eval()
        net.zero_grad()
        for inputs, targets in loader:
            loss = criterion(net(inputs), targets)
            grad_f = torch.autograd.grad(loss, inputs=params, create_graph=True)
            prod = torch.zeros(1)
            for g, v in zip(grad_f, vecs, strict=True):
                prod = prod + (g * v).cpu().sum()
            prod.backward()
        return np.concatenate([p.grad.data.cpu().numpy().ravel() for p in params])

    hess_vec_prod.count = 0
    maxeig = eigsh(LinearOperator((n, n), matvec=hess_vec_prod), k=1, tol=1e-2)[0][0]
    shift = maxeig * 0.51

    def shifted(vec):
        return hess_vec_prod(vec) - shift * vec

    mineig = eigsh(LinearOperator((n, n), matvec=shifted), k=1, tol=1e-2)[0][0] + shift
    if maxeig <= 0 and mineig > 0:
        maxeig, mineig = mineig, maxeig
    return float(maxeig), float(mineig), hess_vec_prod.count


def convexity_case(device, points: int, ref_points: int, n: int = 1024) -> list[dict]:
    w = demo_workload(torch.device("cpu"))
    images, labels = w.images[:n], w.labels[:n]
    net = copy.deepcopy(w.model).cpu().eval()
    dirs = make_directions(net, DirectionSpec(seed=0), two_d=True)
    coords = plane_coords(max(points, ref_points), seed=3) * 0.5
    # LossViz: the measure on the plane, the same examples normalized once on the device
    split = normalized_split(images, labels, *w.norm, device=device)
    lv_net = copy.deepcopy(net).to(device)
    plane = Plane(lv_net, dirs.to(device))
    lv = {}
    # scipy at the reference's tol; the torch Lanczos tests every step (no 20-vector floor),
    # so it needs a tighter tol for λmin to the same accuracy
    for solver, tol in (("scipy", 1e-2), ("torch", 1e-3)):
        measure = CurvatureMeasure(plane, split, "ce", device=device, solver=solver, tol=tol)
        measure.evaluate(coords[:1])  # warm-up
        times, values, loads = [], [], []
        for a, b in coords[:points]:
            start = time.perf_counter()
            out = measure.evaluate(np.array([[a, b]]))
            synchronize(device)
            times.append(time.perf_counter() - start)
            values.append((float(out["max_eig"][0]), float(out["min_eig"][0])))
            loads.append(load())
        lv[solver] = (times, values, loads, measure.info["hvps_per_point"], tol)
    # the reference: weights rebuilt on the CPU per point, a 2-worker DataLoader per product
    loader = DataLoader(ImageDataset(images, labels, eval_transform(*w.norm)), batch_size=128,
                        shuffle=False, num_workers=2)
    theta = [p.data.clone() for p in net.parameters()]
    d = [[t.numpy() for t in dirs.x], [t.numpy() for t in dirs.y]]
    ref_s, ref_vals, ref_hvps, ref_loads = [], [], [], []
    for a, b in coords[:ref_points]:
        start = time.perf_counter()
        set_weights(net, theta, d, (float(a), float(b)))
        mx, mn, count = reference_min_max_hessian_eigs(net, loader)
        ref_s.append(time.perf_counter() - start)
        ref_vals.append((mx, mn))
        ref_hvps.append(count)
        ref_loads.append(load())
    batches = -(-n // 128)
    k = min(points, ref_points)
    ref_spp, rows = float(np.median(ref_s)), []
    ref_min = [round(v[1] / batches, 4) for v in ref_vals]
    for solver, (times, values, loads, hvps, tol) in lv.items():
        diffs = [abs(a[0] - r[0] / batches) / abs(a[0])
                 for a, r in zip(values[:k], ref_vals[:k], strict=True)]
        spp = float(np.median(times))
        rows.append({
            "case": "convexity map s/point", "model": "digits_cnn", "examples": n,
            "what": f"LossViz curvature measure, {solver} tol {tol:g} ({hvps:.0f} HVPs/pt) vs "
                    f"reference min_max_hessian_eigs, tol 1e-2 ({np.mean(ref_hvps):.0f} HVPs/pt)",
            "seconds": spp, "baseline_seconds": ref_spp, "ratio": ref_spp / spp,
            "target": "faster", "met": spp < ref_spp,
            "load": f"{np.median(loads):.2f} / ref {np.median(ref_loads):.2f}",
            "note": f"λmax agrees within {max(diffs):.1e} (reference ÷ {batches} batches); λmin "
                    f"{[round(v[1], 4) for v in values[:k]]} vs reference÷{batches} {ref_min}"})
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
    rows: list[dict] = []
    for name, model, split in workloads(device, a.quick):
        rows += hvp_case(name, model, split, device)
        rows += eigen_case(name, model, split, device)
        print(f"  {name} done (load {load()})", file=sys.stderr, flush=True)
    pts, ref = (1, 1) if a.quick else (a.points, a.ref_points)
    rows += convexity_case(device, pts, ref)
    text = markdown(rows, env)
    if a.out:
        a.out.write_text(json.dumps({"env": env, "rows": rows}, indent=1, default=str))
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
