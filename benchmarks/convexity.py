"""The convexity map's seconds per point against the reference's ``min_max_hessian_eigs``
(part 3 of ``python -m benchmarks.curvature``; see that module's docstring)."""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from lossviz_core.directions import make_directions
from lossviz_core.measures.curvature import CurvatureMeasure
from lossviz_core.plane import Plane
from lossviz_core.recipe.spec import DirectionSpec

from .cases import demo_workload, plane_coords
from .reference_loop import ImageDataset, eval_transform, normalized_split, set_weights, synchronize


def load() -> float:
    import os

    return round(os.getloadavg()[0], 2)


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


