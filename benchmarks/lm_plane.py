"""A plane through a language model: memory and seconds per point, ``python -m benchmarks.lm_plane``.

One run, side by side, each in a fresh process on the same threads: a plain script that
loads a GPT-2 (random weights, from a config) and evaluates the same tokens (next-token
cross-entropy), ``lossviz surface`` with seeded directions, ``lossviz surface`` with stored
directions (today's default), and the reference's way (θ, d₁, d₂ held beside the model,
``p.data = θ + a·d₁ + b·d₂`` per point); the plain script again at the end, so a change of
the machine's load shows. Memory: the process's peak resident set (``wait4``'s ru_maxrss;
on a GPU, torch's peak allocated device memory), and what each costs beyond the plain
script, as a multiple of the model's weight bytes. Time: seconds per grid point (the
median over the points) against the plain script's seconds per evaluation of the same
tokens (the median of its runs, both plain runs pooled), and, robust to a shared machine's
changing load, against a plain evaluation of the same tokens by the same process right
after each point (the model back at θ): the median of those ratios.

The model, tokens and loss reach LossViz as a user's files would (``FILE.py:model``,
``FILE.py:tokens``, ``FILE.py:loss``). The token ids travel as float32 (the data layer casts
inputs to float on this branch's main) and the model casts them back (exact below 2**24);
``--num-classes 50257`` tells main's label check that the targets are token ids, not a
class count read off the labels.

    python -m benchmarks.lm_plane                         # CPU: 102M parameters, 4 × 128 tokens
    python -m benchmarks.lm_plane --device cuda --layers 24 --width 2048 --heads 16 \\
        --batch 16 --seq 512 --dtype bf16                 # GPU: ~1.3B parameters in bf16
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

USER_FILE = textwrap.dedent('''
    """GPT-2 from a config (random weights), random token ids, next-token cross-entropy."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    CONFIG = {config}
    BATCH, DTYPE = {batch}, {dtype!r}


    class LM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.gpt = GPT2LMHeadModel(GPT2Config(**CONFIG)).eval()

        def forward(self, ids):
            return self.gpt(ids.long()).logits  # the ids arrive as float32


    def model():
        m = LM()
        return m.to(getattr(torch, DTYPE)) if DTYPE != "float32" else m


    def tokens(split):
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        ids = torch.randint(0, CONFIG["vocab_size"], (BATCH, CONFIG["n_positions"]), generator=g)
        return ids, ids


    def loss(logits, ids):
        v = logits.shape[-1]
        return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, v).float(),
                                                 ids[:, 1:].reshape(-1).long())
''')

# the plain evaluation and the reference's way, in a fresh process each (argv: user file,
# device, output json, grid, runs)
SCRIPT = textwrap.dedent('''
    import importlib.util, json, statistics, sys, time
    import numpy as np
    import torch
    path, device, out, grid, runs, mode = sys.argv[1:7]
    spec = importlib.util.spec_from_file_location("lm_user", path)
    lm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lm)
    device = torch.device(device)
    model = lm.model().to(device).eval()
    ids, _ = lm.tokens("train")
    x, y = ids.float().to(device), ids.to(device)

    def evaluate():
        with torch.no_grad(), torch.autocast(device.type, torch.bfloat16,
                                             enabled=device.type == "cuda"):
            value = float(lm.loss(model(x), y))
        if device.type == "cuda":
            torch.cuda.synchronize()
        return value

    report = {"params": sum(p.numel() for p in model.parameters()),
              "weight_bytes": sum(p.numel() * p.element_size() for p in model.parameters())}
    if mode == "plain":
        times, losses = [], []
        for _ in range(int(runs)):
            t = time.perf_counter()
            losses.append(evaluate())
            times.append(time.perf_counter() - t)
        report.update(seconds=times, losses=losses)
    else:  # the reference's way: θ, d1, d2 stored; p.data = θ + a·d1 + b·d2 per point,
        # each followed by a plain evaluation at θ (the paired baseline)
        from lossviz_core.directions.vectors import random_direction
        gen = torch.Generator().manual_seed(0)
        d1 = random_direction(model, "weights", "filter", "biasbn", gen)
        d2 = random_direction(model, "weights", "filter", "biasbn", gen)
        params = list(model.parameters())
        theta = [p.data.clone() for p in params]
        times, losses, plain = [], [], []
        values = np.linspace(-1, 1, int(grid))
        for b in values:
            for a in values:
                t = time.perf_counter()
                for p, w, u, v in zip(params, theta, d1, d2):
                    p.data = w + (u * float(a) + v * float(b))
                losses.append(evaluate())
                times.append(time.perf_counter() - t)
                for p, w in zip(params, theta):
                    p.data = w
                t = time.perf_counter()
                evaluate()
                plain.append(time.perf_counter() - t)
        report.update(seconds=times, losses=losses, paired_plain=plain)
    if device.type == "cuda":
        report["cuda_peak"] = torch.cuda.max_memory_allocated(device)
    json.dump(report, open(out, "w"))
''')

# ``lossviz surface`` itself (cli.main), each chunk's evaluation timed and followed by a plain
# evaluation of the same tokens on the same model at θ (the paired baseline)
DRIVER = textwrap.dedent('''
    import importlib.util, json, sys, time
    import torch
    from lossviz_core.cli import main
    from lossviz_core.run import executor
    out, user, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    spec = importlib.util.spec_from_file_location("lm_user", user)
    lm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lm)
    chunks, plain, real = [], [], executor.iter_surface

    def baseline(ws):
        x, y = ws.data.train.x, ws.data.train.y
        t = time.perf_counter()
        with torch.no_grad(), torch.autocast(x.device.type, torch.bfloat16,
                                             enabled=x.device.type == "cuda"):
            float(lm.loss(ws.model(x), y))
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        plain.append(time.perf_counter() - t)

    def timed(ws, *a, **k):
        gen = real(ws, *a, **k)
        while True:
            t = time.perf_counter()
            try:
                chunk = next(gen)
            except StopIteration as stop:
                return stop.value
            chunks.append([time.perf_counter() - t, len(chunk.indices)])
            baseline(ws)  # the model holds θ between chunks
            yield chunk

    executor.iter_surface = timed
    code = main(argv)
    report = {"code": code, "chunks": chunks, "paired_plain": plain}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        report["cuda_peak"] = torch.cuda.max_memory_allocated()
    json.dump(report, open(out, "w"))
    sys.exit(code)
''')


def load() -> float:
    return round(os.getloadavg()[0], 2)


def run_case(kind: str, folder: Path, user: Path, args, env: dict) -> dict:
    out = folder / f"{kind}-{time.monotonic_ns()}.json"
    if kind in ("plain", "reference"):
        argv = [sys.executable, "-c", SCRIPT, str(user), args.device, str(out), str(args.grid),
                str(args.runs), kind]
    else:
        grid = f"-1:1:{args.grid}"
        argv = [sys.executable, "-c", DRIVER, str(out), str(user), "surface", "--model",
                f"{user}:model",
                "--dataset", f"{user}:tokens", "--loss", f"{user}:loss", f"--x={grid}",
                f"--y={grid}", "--device", args.device, "--num-classes", "50257",
                "--dir-storage",
                "seeded" if kind == "seeded" else "stored",
                "--out", str(folder / f"{kind}.h5"), "--overwrite"]
    return run_process(argv, env, out)


def run_process(argv: list[str], env: dict, out: Path) -> dict:
    """One case in a fresh process: its report, with its own peak resident set (wait4), the
    wall seconds and the load average before and after."""
    before, t0 = load(), time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-800:]
    report = json.loads(out.read_text()) if out.exists() else {}
    report.update(wall_s=time.perf_counter() - t0, load_before=before, load_after=load(),
                  exit=proc.returncode, peak_rss_mib=usage.ru_maxrss / 1024,
                  stderr=tail if proc.returncode else "")
    return report


def per_point(case: dict) -> list[float]:
    """Seconds per grid point: one-point chunks as they are, longer ones divided."""
    if "chunks" in case:
        return [s / n for s, n in case["chunks"] for _ in range(n)]
    return case.get("seconds", [])


def summary(cases: list[tuple[str, dict]], device: str) -> list[dict]:
    plain = [c for k, c in cases if k == "plain" and not c.get("exit")]
    if not plain:
        raise SystemExit("the plain script failed: " + cases[0][1].get("stderr", ""))
    weight = plain[0]["weight_bytes"]
    mem = "cuda_peak" if device.startswith("cuda") else "peak_rss_mib"
    scale = 2**20 if mem == "cuda_peak" else 1
    base_mem = min(c[mem] for c in plain) / scale
    base_s = statistics.median(s for c in plain for s in c["seconds"])
    rows = []
    for kind, c in cases:
        if c.get("exit"):
            rows.append({"case": kind, "failed": c.get("stderr")})
            continue
        peak = c.get(mem, 0) / scale
        times = per_point(c)
        pairs = [t / p for t, p in zip(times, c.get("paired_plain", []), strict=False)]
        rows.append({
            "case": kind, "peak_mib": round(peak, 1), "beyond_plain_mib": round(peak - base_mem, 1),
            "beyond_x_weights": round((peak - base_mem) * 2**20 / weight, 3),
            "s_per_point": round(statistics.median(times), 3) if times else None,
            "x_plain": round(statistics.median(times) / base_s, 3) if times else None,
            "x_paired": round(statistics.median(pairs), 3) if pairs else None,
            "points": len(times), "load": (c["load_before"], c["load_after"]),
        })
    return rows


def markdown(rows: list[dict], meta: dict) -> str:
    head = (f"### A plane through a {meta['params'] / 1e6:.0f}M-parameter GPT-2 "
            f"({meta['device']}, {meta['dtype']}, {meta['batch']} × {meta['seq']} tokens, "
            f"{meta['grid']}×{meta['grid']} plane, {meta['threads']} threads)\n\n"
            f"Weights: {meta['weight_bytes'] / 2**20:.0f} MiB. {meta['date']}, commit "
            f"{meta['commit']}. Plain evaluation: {meta['plain_s']:.3f} s (median).\n\n"
            "| case | peak (MiB) | beyond plain (MiB) | beyond / weight bytes | s per point "
            "| × plain | × paired plain | points | load average (start, end) |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        if "failed" in r:
            lines.append(f"| {r['case']} | failed: {r['failed'][-120:]!r} ||||||||")
            continue
        lines.append(f"| {r['case']} | {r['peak_mib']:.0f} | {r['beyond_plain_mib']:.0f} | "
                     f"{r['beyond_x_weights']:.2f} | {r['s_per_point']} | {r['x_plain']} | "
                     f"{r['x_paired'] or '–'} | {r['points']} | {r['load'][0]}, {r['load'][1]} |")
    return head + "\n".join(lines) + "\n"


def consistency(folder: Path, cases: list[tuple[str, dict]]) -> dict:
    """Max relative difference of the grids: seeded vs stored vs the reference's way."""
    import h5py
    import numpy as np

    z = {}
    for kind in ("seeded", "stored"):
        if (folder / f"{kind}.h5").exists():
            with h5py.File(folder / f"{kind}.h5", "r") as f:
                z[kind] = np.asarray(f["train_loss"][()]).reshape(-1)
    ref = next((c for k, c in cases if k == "reference" and "losses" in c), None)
    if ref is not None:
        z["reference"] = np.asarray(ref["losses"])
    out = {}
    names = sorted(z)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            out[f"{a} vs {b}"] = float(np.max(np.abs(z[a] - z[b]) / np.abs(z[b])))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=9)
    p.add_argument("--width", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--grid", type=int, default=3)
    p.add_argument("--runs", type=int, default=3, help="plain evaluations per plain case")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    p.add_argument("--cases", default="plain,seeded,stored,reference,plain")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    from lossviz_core.device import threads_for_load

    threads, _ = threads_for_load()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))  # every case on the same threads
    config = dict(n_layer=args.layers, n_embd=args.width, n_head=args.heads,
                  n_positions=args.seq, vocab_size=50257)
    with tempfile.TemporaryDirectory(prefix="lossviz-lm-") as tmp:
        folder = Path(tmp)
        user = folder / "gpt2_lm.py"
        user.write_text(USER_FILE.format(config=config, batch=args.batch, dtype=args.dtype))
        cases = []
        for kind in args.cases.split(","):
            print(f"[{time.strftime('%H:%M:%S')}] {kind} (load {load()})", flush=True)
            cases.append((kind, run_case(kind, folder, user, args, env)))
            if cases[-1][1].get("exit"):
                print(f"  failed: {cases[-1][1]['stderr']}", flush=True)
        rows = summary(cases, args.device)
        agree = consistency(folder, cases)
    plain = next(c for k, c in cases if k == "plain")
    meta = {"params": plain["params"], "weight_bytes": plain["weight_bytes"],
            "device": args.device, "dtype": args.dtype, "batch": args.batch, "seq": args.seq,
            "grid": args.grid, "threads": threads, "config": config,
            "date": time.strftime("%Y-%m-%d %H:%M"), "commit": _commit(),
            "plain_s": statistics.median(s for k, c in cases if k == "plain"
                                         for s in c.get("seconds", []))}
    text = markdown(rows, meta) + "\nLargest relative difference of the grids: " + ", ".join(
        f"{k} {v:.1e}" for k, v in agree.items()) + "\n"
    print(text)
    out = args.out or Path(__file__).parent / "results" / (
        f"{time.strftime('%Y-%m-%d')}-lm-plane-{args.device.split(':')[0]}.json")
    out.write_text(json.dumps({"meta": meta, "rows": rows, "agreement": agree,
                               "cases": cases}, indent=1, default=str))
    out.with_suffix(".md").write_text(text)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], text=True,
                              capture_output=True, cwd=Path(__file__).parent,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    main()
