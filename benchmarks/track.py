"""The tracker's overhead, side by side in one run: ``python -m benchmarks.track``.

The same training (``lossviz_core.train.iter_training``: the digits CNN, the trainer's
defaults, a fixed seed) with and without ``--track``, every ``--every`` steps, for each
measure set; the runs are interleaved (untracked, tracked A, tracked B, untracked, ...) so
background load on a shared machine hits every side alike, and each side reports its median
wall time. Overhead = tracked / untracked − 1; the records' share = the records' own seconds
(the tracker times each one) / the untracked run's, the last step's record included; the
target (≤ 5 % at a record every 100 steps) is judged on one record's median seconds over
the untracked training's seconds for 100 steps, since runs of a few seconds on a shared
machine differ by more than 5 % in wall time whatever they do.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lossviz_core.track import DEFAULT_MEASURES, read_track
from lossviz_core.train import TrainSpec, iter_training

TARGET = 0.05
SETS = {"default (" + ",".join(DEFAULT_MEASURES) + ")": DEFAULT_MEASURES,
        "lambda_max,sharpness,slice": ("lambda_max", "sharpness", "slice")}


def load() -> float:
    return round(os.getloadavg()[0], 2)


def train_once(folder: Path, steps: int, every: int, track: tuple[str, ...],
               examples: int, model: str, batch: int) -> tuple[float, list[dict]]:
    """Wall seconds of one training run of about ``steps`` optimizer steps."""
    per_epoch = -(-1437 // batch)  # the digits training split
    spec = TrainSpec(model=model, epochs=max(1, -(-steps // per_epoch)), batch_size=batch,
                     lr=0.05, save_every=10_000, seed=0, track=track, track_every=every,
                     track_examples=examples)
    start = time.perf_counter()
    for _ in iter_training(spec, folder, overwrite=True):
        pass
    seconds = time.perf_counter() - start
    return seconds, (read_track(folder) if track else [])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.track",
                                description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400, help="optimizer steps per run (400)")
    p.add_argument("--every", type=int, default=100, help="steps between records (100)")
    p.add_argument("--examples", type=int, default=256, help="probe examples (256)")
    p.add_argument("--repeats", type=int, default=3, help="runs of each side (3)")
    p.add_argument("--model", default="digits_cnn")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    p.add_argument("--out", type=Path, help="also write the rows as JSON here")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    env = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "load_start": load(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print(f"tracker overhead: {a.model}, {a.steps} steps, a record every {a.every}, load "
          f"{env['load_start']}", file=sys.stderr, flush=True)
    sides = {"untracked": (), **SETS}
    times: dict[str, list[float]] = {k: [] for k in sides}
    records: dict[str, list[dict]] = {}
    loads: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        train_once(Path(tmp) / "warm", 20, a.every, (), a.examples, a.model, a.batch)
        for r in range(a.repeats):
            for name, track in sides.items():
                secs, recs = train_once(Path(tmp) / f"{r}-{len(times[name])}", a.steps,
                                        a.every, track, a.examples, a.model, a.batch)
                times[name].append(secs)
                records[name] = recs
                loads.append(load())
                print(f"  {name}: {secs:.2f} s (load {loads[-1]})", file=sys.stderr,
                      flush=True)
    base = float(np.median(times["untracked"]))
    rows = []
    for name in SETS:
        med = float(np.median(times[name]))
        per = [r["seconds"] for r in records[name]]
        steps = records[name][-1]["step"] if per else a.steps  # whole epochs: a few more
        # one record's seconds over the untracked training's seconds for `every` steps
        share = float(np.median(per)) / (base / steps * a.every) if per else None
        rows.append({"measures": name, "seconds": med, "baseline_seconds": base,
                     "overhead": med / base - 1, "records": len(records[name]),
                     "steps": steps, "record_seconds": float(np.median(per)) if per else None,
                     "record_share": float(np.sum(per)) / base if per else None,
                     "interval_share": share, "met": share is not None and share <= TARGET})
    text = markdown(rows, env, a, loads)
    if a.out:
        a.out.write_text(json.dumps({"env": env, "rows": rows, "times": times}, indent=1))
    print(text)
    return 0


def markdown(rows: list[dict], env: dict, a: argparse.Namespace, loads: list[float]) -> str:
    lines = [f"### tracker overhead ({env['date']})", "",
             f"- {a.model}, batch {a.batch}, {a.steps} optimizer steps a run, a record every "
             f"{a.every} steps on {a.examples} probe examples; torch {env['torch']}, "
             f"{env['threads']} thread(s); {a.repeats} interleaved runs a side; load average "
             f"{env['load_start']} at start, {min(loads):.1f}–{max(loads):.1f} while measured",
             "", "| measures | tracked s | untracked s | overhead | records (steps) | "
             "s per record | records' share | a record per "
             f"{a.every} steps' training | ≤ 5 % |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['measures']} | {r['seconds']:.2f} | {r['baseline_seconds']:.2f} | "
                     f"{100 * r['overhead']:+.1f} % | {r['records']} ({r['steps']}) | "
                     f"{_num(r['record_seconds'], 1, '.3f')} | "
                     f"{_num(r['record_share'], 100, '.1f')} % | "
                     f"{_num(r['interval_share'], 100, '.1f')} % | "
                     f"{'yes' if r['met'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def _num(v: float | None, scale: float, fmt: str) -> str:
    return "–" if v is None else format(scale * v, fmt)


if __name__ == "__main__":
    sys.exit(main())
