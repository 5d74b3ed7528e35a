"""Speed beside a CPU-bound load, and start-up: ``python -m benchmarks.load``.

Side by side in one run, each case in a fresh process:

- the demo's 21×21 surface, quiet and beside ``2 × cores`` busy processes, the way LossViz
  runs it now (threads chosen from the load average, a replan when the measured rate falls
  far below the probe's) against the way it ran before (torch's default threads, the first
  probe's plan kept): points per second and time to the first point;
- the window's first paint under Xvfb, now (triton kept out without a GPU) against before
  (``torch._dynamo`` imported before the window).

Prints a markdown section; the load average is reported with every figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mpc
import os
import shutil
import subprocess
import sys
import textwrap
import time

SURFACE = textwrap.dedent("""
    import json, os, sys, time
    t0 = time.perf_counter()
    import torch
    from lossviz_core import demo
    from lossviz_core.device import threads_for_load
    from lossviz_core.evaluation import planner
    from lossviz_core.recipe.spec import GridSpec, Range
    from lossviz_core.run.job import prepare
    mode = sys.argv[1]
    load = os.getloadavg()[0]
    if mode == "now":
        threads, _ = threads_for_load()
    else:  # before: every core, the first plan kept
        torch.set_num_threads(os.cpu_count())
        threads = torch.get_num_threads()
        planner.REPLAN_FACTOR = float("inf")
    r = demo.recipe("surface").replace(grid=GridSpec(Range(-1, 1, 21), Range(-1, 1, 21)))
    job = prepare(r)
    first = None
    gen = job.iter()
    for chunk in gen:
        first = first or time.perf_counter() - t0
    total = time.perf_counter() - t0
    info = job.workspace.info["evaluator"]
    print(json.dumps({"threads": threads, "load": load, "first_point": first, "total": total,
                      "pps": chunk.points_per_second, "plan": info["mode"],
                      "replanned": info.get("replanned")}))
""")

PAINT = textwrap.dedent("""
    import json, sys, time
    t0 = float(sys.argv[2])
    if sys.argv[1] == "before":
        import torch._dynamo, torchvision  # noqa: F401, E401  (what the window did before)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from lossviz.main_window import MainWindow, preload_engine
    app = QApplication([])
    preload_engine()
    w = MainWindow(autostart=False, restore=False)
    w.show()
    painted = {}
    def check():
        if w.isVisible() and w.windowHandle() is not None and w.windowHandle().isExposed():
            painted["t"] = time.time() - t0
            app.quit()
    timer = QTimer(); timer.timeout.connect(check); timer.start(5)
    app.exec()
    print(json.dumps({"first_paint": painted.get("t"), "triton": "triton" in sys.modules
                      and sys.modules["triton"] is not None}))
""")


def _spin() -> None:
    while True:
        pass


def busy(n: int) -> list[mpc.Process]:
    procs = [mpc.Process(target=_spin, daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    return procs


def run_json(code: str, *args: str, env: dict | None = None, timeout: float = 900) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def surfaces(repeats: int) -> list[dict]:
    rows = []
    for loaded in (False, True):
        procs = busy(2 * (os.cpu_count() or 1)) if loaded else []
        try:
            if loaded:
                time.sleep(20)  # let the 1-minute load average see the load
            for _ in range(repeats):
                for mode in ("before", "now"):  # interleaved: a load spike hits both
                    r = run_json(SURFACE, mode)
                    rows.append({"loaded": loaded, "mode": mode, **r})
                    print(f"  {'loaded' if loaded else 'quiet':6s} {mode:6s} {r}", flush=True)
        finally:
            for p in procs:
                p.terminate()
    return rows


def paints(repeats: int) -> list[dict]:
    env = dict(os.environ)
    prefix: list[str] = []
    if not env.get("DISPLAY") and shutil.which("xvfb-run"):
        prefix = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24 +extension GLX"]
    rows = []
    for _ in range(repeats):
        for mode in ("before", "now"):
            out = subprocess.run([*prefix, sys.executable, "-c", PAINT, mode, repr(time.time())],
                                 capture_output=True, text=True, timeout=300, env=env)
            if out.returncode != 0:
                raise RuntimeError(out.stderr.strip()[-300:])
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append({"mode": mode, "load": os.getloadavg()[0], **r})
            print(f"  paint {mode:6s} {r}", flush=True)
    return rows


def markdown(surf: list[dict], paint: list[dict]) -> str:
    lines = ["### Busy machine and start-up (`python -m benchmarks.load`)", "",
             f"- {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             "- demo 21×21 surface, each run a fresh process, before/now interleaved", "",
             "| machine | how | threads | mode | replanned | first point (s) | whole run (s) "
             "| points/s | load avg |", "|---|---|---|---|---|---|---|---|---|"]
    for r in surf:
        lines.append(f"| {'+ 2×cores busy' if r['loaded'] else 'as found'} | {r['mode']} | "
                     f"{r['threads']} | {r['plan']} | "
                     f"{'yes' if r['replanned'] else 'no'} | {r['first_point']:.2f} | "
                     f"{r['total']:.2f} | {r['pps']:.0f} | {r['load']:.1f} |")
    lines += ["", "| window | first paint after launch (s) | triton loaded | load avg |",
              "|---|---|---|---|"]
    for r in paint:
        lines.append(f"| {r['mode']} | {r['first_paint']:.2f} | {r['triton']} | "
                     f"{r['load']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", help="also write the markdown section here")
    a = p.parse_args()
    surf = surfaces(a.repeats)
    paint = paints(a.repeats)
    text = markdown(surf, paint)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
