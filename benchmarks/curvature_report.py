"""The demo's full curvature report, before and after (part 4 of ``python -m
benchmarks.curvature``): the same Hessian (the bundled demo, its 1,437 training digits, the
perturbed parameters), once as the report used to run (ARPACK for the eigenvalues and again
for λmin, Hutch++ for the trace, a separate SLQ run, per-batch reverse-over-reverse products,
BatchNorm unfolded) and once with today's defaults (one Lanczos run for eigenvalues, λmin and
density, the trace deflated by its basis, products through the kept graph with BatchNorm
folded), then ``lossviz curvature --demo`` end to end in a fresh process. Target ≤ 10 s on the
2-core CPU; the values of both are compared (the same eigenvalues to the tolerance, the
traces within their standard errors).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lossviz_core import demo
from lossviz_core.curvature import CurvatureOptions, HessianOperator, curvature_report, examples_of
from lossviz_core.run.workspace import materialize

TARGET_SECONDS = 10.0
OLD = {"mode": "rev-rev", "fold_bn": False}
OLD_OPTIONS = CurvatureOptions(solver="scipy", trace="hutchpp")


def load() -> float:
    return round(os.getloadavg()[0], 2)


def report_case(threads: int) -> list[dict]:
    ws = materialize(demo.recipe("surface"))
    examples = examples_of(ws.data, ("train",))
    runs = {}
    for label, kw, options in (("today", {}, CurvatureOptions()),
                               ("before", OLD, OLD_OPTIONS)):
        op = HessianOperator.from_plane(ws.plane, examples, ws.loss, "perturbed", **kw)
        start = time.perf_counter()
        report = curvature_report(op, options)
        runs[label] = {"s": time.perf_counter() - start, "report": report, "load": load(),
                       "hvps": report["hvps"], "per_hvp": op.hvp_seconds / max(op.hvps, 1)}
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "lossviz", "curvature", "--demo", "--out",
                               str(Path(tmp) / "c.json")], capture_output=True, text=True,
                              env=env, timeout=1800)
        cli_s = time.perf_counter() - start
    new, old = runs["today"], runs["before"]
    rn, ro = new["report"], old["report"]
    ev_diff = float(np.max(np.abs(np.subtract(rn["eigenvalues"], ro["eigenvalues"]))
                           / np.abs(ro["eigenvalues"])))
    trace_gap = abs(rn["trace"] - ro["trace"])
    trace_se = float(np.hypot(rn["trace_stderr"], ro["trace_stderr"]))
    agree = (f"eigenvalues agree within {ev_diff:.1e}; λmin {rn['lambda_min']:.4g} / "
             f"{ro['lambda_min']:.4g}; trace {rn['trace']:.4g} ± {rn['trace_stderr']:.2g} / "
             f"{ro['trace']:.4g} ± {ro['trace_stderr']:.2g} ({trace_gap / trace_se:.1f} σ)")
    rows = [{"case": "demo full report", "model": "digits_cnn", "examples": examples.n,
             "what": f"today's defaults ({new['hvps']} HVPs at {new['per_hvp']:.3g} s) vs the "
                     f"report as it ran before ({old['hvps']} HVPs at {old['per_hvp']:.3g} s)",
             "seconds": new["s"], "baseline_seconds": old["s"], "ratio": old["s"] / new["s"],
             "target": f"≤ {TARGET_SECONDS:g} s", "met": new["s"] <= TARGET_SECONDS,
             "load": f"{new['load']} / before {old['load']}", "note": agree},
            {"case": "demo full report, end to end", "model": "digits_cnn",
             "examples": examples.n,
             "what": "`lossviz curvature --demo` in a fresh process (start-up, data, model, "
                     "report, JSON) vs the report before, in process",
             "seconds": cli_s, "baseline_seconds": old["s"], "ratio": old["s"] / cli_s,
             "target": f"≤ {TARGET_SECONDS:g} s", "met": cli_s <= TARGET_SECONDS and
             proc.returncode == 0, "load": load(),
             "note": "exit 0" if proc.returncode == 0 else proc.stderr[-300:]}]
    return rows
