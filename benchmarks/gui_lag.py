"""How long the window's GUI thread stalls while a grid computes: ``python -m benchmarks.gui_lag``.

Side by side in one run, each case in a fresh process under Xvfb (interleaved, so a load
spike on a shared machine hits both): a 10 ms ``QTimer`` probe on the GUI thread of

- ``idle``: the demo window after its first surface, doing nothing else (the baseline: what
  the machine and the event loop cost by themselves);
- ``computing``: the same window while a new random plane is prepared and its 15×11 grid is
  computed in the worker, the surface and contour views redrawn as chunks arrive.

For each: probe ticks, the largest gap between ticks, the 99th and 95th percentiles, and
the 1-minute load average. The test suite only asserts *where* the work runs (off the GUI
thread, tests/app/test_main_window.py); how long the GUI stalls is this figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

PROBE = textwrap.dedent("""
    import json, os, sys, tempfile, time
    import numpy as np
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    tmp = tempfile.mkdtemp()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp)
    from lossviz import settings_store
    settings_store.ORGANIZATION = "LossVizBenchmark"
    s = settings_store.open_settings(); s.setValue("library/folder", tmp + "/results"); s.sync()
    from lossviz.main_window import MainWindow, preload_engine
    preload_engine()
    w = MainWindow(autostart=False, restore=False)
    w.resize(1500, 920); w.show()

    def settle(limit=120):
        t0 = time.time()
        while w.computing and time.time() - t0 < limit:
            app.processEvents(); time.sleep(0.002)

    w.compute(); settle()  # the first surface: GL context and shaders, kept out of both cases
    ticks = []
    probe = QTimer(); probe.setInterval(10)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    mode, seconds = sys.argv[1], float(sys.argv[2])
    w.state.update(xnum=15, ynum=11)
    load = os.getloadavg()[0]
    probe.start()
    t0 = time.perf_counter()
    if mode == "computing":
        w.directions_panel.new_dirs.click()
        settle()
    else:
        while time.perf_counter() - t0 < seconds:
            app.processEvents(); time.sleep(0.002)
    took = time.perf_counter() - t0
    probe.stop()
    gaps = np.diff(ticks) * 1000
    print(json.dumps({"mode": mode, "seconds": took, "ticks": len(ticks),
                      "max_ms": float(gaps.max()), "p99_ms": float(np.percentile(gaps, 99)),
                      "p95_ms": float(np.percentile(gaps, 95)), "load": load,
                      "done": bool(w.result is not None and w.result.done.all())}))
""")


def probe(mode: str, seconds: float) -> dict:
    prefix: list[str] = []
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        prefix = ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24 +extension GLX"]
    out = subprocess.run([*prefix, sys.executable, "-c", PROBE, mode, str(seconds)],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-400:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict]) -> str:
    lines = ["### The GUI thread while computing (`python -m benchmarks.gui_lag`)", "",
             f"- {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             "Xvfb + Mesa llvmpipe; 10 ms QTimer probe; each case a fresh process, interleaved",
             "", "| case | seconds | ticks | max gap (ms) | p99 (ms) | p95 (ms) | load avg |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['seconds']:.1f} | {r['ticks']} | {r['max_ms']:.0f} | "
                     f"{r['p99_ms']:.0f} | {r['p95_ms']:.0f} | {r['load']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", help="also write the markdown section here")
    a = p.parse_args()
    rows = []
    for _ in range(a.repeats):
        busy = probe("computing", 0)
        if not busy["done"]:
            raise SystemExit("the grid did not finish; no figure")
        idle = probe("idle", busy["seconds"])  # the same length of time, nothing computing
        for r in (busy, idle):
            rows.append(r)
            print(f"  {r}", flush=True)
    text = markdown(rows)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
