"""LossViz speed harness: ``python -m benchmarks --suite smoke|cpu|gpu``.

Times the reference-style loop and LossViz side by side in one process, prints progress as
it goes, and writes ``--out`` (JSON, rewritten after every case) plus the same run as a
markdown section next to it (``.md``). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import time
import warnings
from pathlib import Path

import torch

from lossviz_core.device import pick_device

from . import cases as cs
from .flops import device_name, environment
from .report import Recorder

HERE = Path(__file__).resolve().parent
SUITES = ("smoke", "cpu", "gpu")
GPU_MODELS = ("resnet56", "resnet110", "resnet20", "resnet56_noshort", "resnet20_noshort",
              "resnet110_noshort")
# Rough device seconds per case on one H100/H200 (reference points + compile + timing),
# used only to skip what no longer fits the budget.
GPU_COST = {"resnet20": 45, "resnet56": 75, "resnet110": 110}


class Budget:
    """Seconds left for the run; a case that would not fit is skipped, not started."""

    def __init__(self, seconds: float, rec: Recorder) -> None:
        self.seconds, self.rec, self.start = seconds, rec, time.perf_counter()

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.start)

    def allows(self, what: str, cost: float) -> bool:
        if self.left() >= cost:
            print(f"[{time.perf_counter() - self.start:6.0f} s] {what} (~{cost:.0f} s)", flush=True)
            return True
        self.rec.skip(what, f"~{cost:.0f} s needed, {max(self.left(), 0):.0f} s of the budget left")
        return False


@contextlib.contextmanager
def guarded(rec: Recorder, what: str):
    """Run one case; a failure is recorded and the suite goes on to the next case."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - one broken case must not cost the others
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"  {what} FAILED: {type(exc).__name__}: {first}", flush=True)
        rec.skip(what, f"failed: {type(exc).__name__}: {first}")


def _eval(rec: Recorder, w: cs.Workload, device, ref_points: int, lv_points: int,
          variants: dict, demo: bool = False) -> dict:
    case = cs.eval_case(w, device, ref_points, lv_points, variants)
    case["demo"] = demo
    return rec.add(case)


def suite_smoke(rec: Recorder, device, a: argparse.Namespace, budget: Budget) -> None:
    """CI-sized: the demo model and ResNet-20 on 256 CIFAR-shaped images, 2 points each."""
    n = a.n_images or 256
    pts = a.points or 2
    _eval(rec, cs.demo_workload(device), device, a.ref_points or 2, pts, {"auto": {}}, demo=True)
    for name in a.models or ("resnet20",):
        _eval(rec, cs.cifar_workload(name, n, device), device, a.ref_points or 2, pts,
              {"auto": {}})


def suite_cpu(rec: Recorder, device, a: argparse.Namespace, budget: Budget) -> None:
    """CPU figures: the demo end to end, demo and ResNets side by side, precision, training."""
    if budget.allows("demo 51x51 end to end (CLI subprocess)", 30):
        rec.add(cs.e2e_demo_case(51, "cpu", timeout=a.e2e_timeout))
    demo = cs.demo_workload(device)
    if budget.allows("demo model: reference vs LossViz", 20):
        _eval(rec, demo, device, a.ref_points or 3, a.points or 200, {"auto": {}}, demo=True)
    if budget.allows("demo model: single vs multi-point", 10):
        rec.add(cs.multi_case(demo, device, 100))
    sizes = {"resnet20": a.n_images or 2048, "resnet56": a.n_images or 1024}
    for name in a.models or ("resnet20", "resnet56"):
        n = sizes.get(name, a.n_images or 1024)
        if budget.allows(f"{name} on {n} images: reference vs LossViz", 60):
            _eval(rec, cs.cifar_workload(name, n, device), device, a.ref_points or 2,
                  a.points or 3, {"auto": {}})
    if budget.allows("precision: demo and resnet20", 40):
        rec.add(cs.precision_case(demo, device, 7))
        rec.add(cs.precision_case(cs.cifar_workload("resnet20", 256, device), device, 3))
    if budget.allows("training: resnet56 on 256 images", 40):
        rec.add(cs.train_case("resnet56", 256, device, epochs=1))


def suite_gpu(rec: Recorder, device, a: argparse.Namespace, budget: Budget) -> None:
    """GPU figures at 50,000 images, most important first, within ``--budget`` seconds."""
    n = a.n_images or 50_000
    models = a.models or GPU_MODELS
    pts = a.points or 20
    if "resnet56" in models and budget.allows("resnet56: reference + LossViz auto", 200):
        with guarded(rec, "resnet56"):
            _resnet56_cases(rec, device, a, budget, n, pts)
    if budget.allows("digits models: single vs multi-point", 30):
        for name in (None, "digits_mlp", "digits_resnet"):
            with guarded(rec, f"single vs multi: {name or 'demo'}"):
                rec.add(cs.multi_case(cs.demo_workload(device, name), device,
                                      a.multi_points or 512))
    if budget.allows("precision: demo and resnet56", 40):
        with guarded(rec, "precision: demo"):
            rec.add(cs.precision_case(cs.demo_workload(device), device, 7))
        with guarded(rec, "precision: resnet56"):
            rec.add(cs.precision_case(cs.cifar_workload("resnet56", n, device), device, 3))
    if budget.allows("training: resnet56, reference epoch vs LossViz", 90):
        with guarded(rec, "training: resnet56"):
            rec.add(cs.train_case("resnet56", n, device, epochs=2))
    for name in models:
        if name == "resnet56":
            continue
        cost = GPU_COST.get(name.replace("_noshort", ""), 60)
        if budget.allows(f"{name}: reference + LossViz auto", cost):
            ref_pts = a.ref_points or (1 if "noshort" in name else 2)
            with guarded(rec, name):
                _eval(rec, cs.cifar_workload(name, n, device), device, ref_pts,
                      max(5, pts // 2), {"auto": {}})
    if budget.allows("demo 51x51 end to end (CLI subprocess)", 30):
        with guarded(rec, "demo 51x51 end to end"):
            rec.add(cs.e2e_demo_case(51, "cuda",
                                     timeout=min(a.e2e_timeout, max(budget.left(), 30))))


def _resnet56_cases(rec: Recorder, device, a: argparse.Namespace, budget: Budget, n: int,
                    pts: int) -> None:
    """ResNet-56 against the reference, the 51×51 estimate, and each compile level."""
    w = cs.cifar_workload("resnet56", n, device)
    case = _eval(rec, w, device, a.ref_points or 2, pts, {"auto": {}})
    auto = case["lossviz"]["auto"]
    rec.add({"kind": "estimate", "model": "resnet56", "what": "whole 51×51 ResNet-56 surface",
             "seconds": auto["warmup_seconds"] + cs.GRID_51 * auto["seconds_per_point"],
             "warmup_seconds": auto["warmup_seconds"], "points": cs.GRID_51,
             "seconds_per_point": auto["seconds_per_point"],
             "basis": f"measured s/point and warm-up, {n} images, this run"})
    levels = {"eager": dict(compile="off", multi=False),
              "compile default": dict(compile="default", multi=False),
              "max-autotune-no-cudagraphs": dict(compile="max-autotune-no-cudagraphs",
                                                 multi=False)}
    for label, opts in levels.items():
        if auto["info"].get("compile") == opts["compile"] and auto["info"].get("mode") == "single":
            continue  # auto already measured this level
        cost = 150 if "autotune" in label else 60
        if budget.allows(f"resnet56 {label}", cost):
            more = cs.eval_case(w, device, 0, pts, {label: opts}, ref=case["reference"])
            case["lossviz"].update(more["lossviz"])
            rec.write()
    del w


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--suite", choices=SUITES, default="smoke")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--models", nargs="+", help="zoo models for the reference-vs-LossViz cases")
    p.add_argument("--n-images", type=int, help="CIFAR-shaped images per case")
    p.add_argument("--points", type=int, help="grid points LossViz is timed on")
    p.add_argument("--ref-points", type=int, help="grid points the reference loop is timed on")
    p.add_argument("--multi-points", type=int, help="points for single vs multi (gpu)")
    p.add_argument("--e2e-timeout", type=float, default=120.0,
                   help="seconds before the end-to-end demo run is stopped (reported unfinished)")
    p.add_argument("--budget", type=float, help="seconds; later cases are skipped past it")
    p.add_argument("--out", type=Path, help="JSON result (a .md with the same stem is written too)")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    # vmap's fallback notice from the multi-point probe: known, and not a result
    warnings.filterwarnings("ignore", message="There is a performance drop")
    device = pick_device("cuda" if a.suite == "gpu" and a.device == "auto" else a.device)
    if a.suite != "gpu" and a.device == "auto":
        device = torch.device("cpu")  # the CPU figures are CPU figures even on a GPU machine
    slug = "".join(ch if ch.isalnum() else "-" for ch in device_name(device).lower())[:40]
    out = a.out or HERE / "results" / f"{time.strftime('%Y-%m-%d')}-{slug.strip('-')}-{a.suite}.json"
    command = "python -m benchmarks " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    rec = Recorder(out, environment(device), a.suite, command)
    budget = Budget(a.budget or {"smoke": 300, "cpu": 600, "gpu": 480}[a.suite], rec)
    print(f"{a.suite} suite on {rec.data['env']['device_name']} ({device}), torch "
          f"{torch.__version__}; writing {out}", flush=True)
    start = time.perf_counter()
    {"smoke": suite_smoke, "cpu": suite_cpu, "gpu": suite_gpu}[a.suite](rec, device, a, budget)
    rec.data["total_seconds"] = time.perf_counter() - start
    rec.write()
    print(out.with_suffix(".md").read_text(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
