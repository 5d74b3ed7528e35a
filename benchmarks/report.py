"""Results: a JSON file rewritten after every case (partial runs stay useful) and markdown."""

from __future__ import annotations

import json
import math
from pathlib import Path

# The targets: (what, limit); checked only where the case was measured.
GPU_TARGETS = {
    "resnet56_ratio": 40.0,         # ≥ 40× the reference-style loop
    "resnet56_spp": 0.11,           # ≤ 0.11 s per point
    "resnet110_spp": 0.22,          # ≤ 0.22 s per point
    "resnet56_51x51_seconds": 360.0,  # whole 51×51 surface, warm-up included
    "digits_multi_ratio": 5.0,      # multi-point ≥ 5× one point at a time
}
CPU_TARGETS = {"demo_51x51_seconds": 20.0, "demo_ratio": 3.0}
PRECISION_LIMIT = 0.01


class Recorder:
    """Collects case dicts; writes ``out`` (JSON) and ``out`` with ``.md`` after each one."""

    def __init__(self, out: Path, env: dict, suite: str, command: str) -> None:
        self.out = Path(out)
        self.data = {"suite": suite, "command": command, "env": env, "cases": [],
                     "skipped": [], "total_seconds": None}
        self.out.parent.mkdir(parents=True, exist_ok=True)

    def add(self, case: dict) -> dict:
        self.data["cases"].append(case)
        self.write()
        return case

    def skip(self, what: str, why: str) -> None:
        print(f"  skipped {what}: {why}", flush=True)
        self.data["skipped"].append({"case": what, "why": why})
        self.write()

    def write(self) -> None:
        tmp = self.out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=_json_default))
        tmp.replace(self.out)
        self.out.with_suffix(".md").write_text(markdown(self.data))


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def _f(x, digits: int = 3, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}g}{unit}"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2g} %"


def markdown(data: dict) -> str:
    """The run as a markdown section: environment, one table per kind of case, targets."""
    env = data["env"]
    lines = [f"### {data['suite']} suite: {env['device_name']} ({env['date']})", "",
             f"- command: `{data['command']}`",
             f"- device: {env['device_name']} (`{env['device']}`), torch {env['torch']}, "
             f"python {env['python']}, {env['cpu_count']} CPUs ({env['cpu_threads']} torch "
             f"threads), commit {env.get('git_commit')}"]
    if env.get("bf16_peak_tflops"):
        lines.append(f"- bf16 dense peak used for '% of peak': {env['bf16_peak_tflops']:g} TFLOP/s")
    if env.get("load_average") is not None:
        busy = env["load_average"] > env["cpu_count"]
        lines.append(f"- 1-minute load average at the start: {env['load_average']:.1f} "
                     + ("(above the CPU count: other work shared the CPUs)" if busy
                        else f"(at most {env['cpu_count']}: a quiet machine)"))
    if data.get("total_seconds"):
        lines.append(f"- harness wall time: {data['total_seconds']:.0f} s")
    cases = data["cases"]
    by_kind = {k: [c for c in cases if c["kind"] == k] for k in
               ("eval", "multi", "precision", "train", "e2e", "estimate")}
    if by_kind["eval"]:
        lines += ["", "Seconds per grid point (one pass over the images), reference-style loop "
                  "vs LossViz, same model, data and filter-normalized random plane:", "",
                  "| model | images | variant | reference s/pt (pts) | LossViz s/pt (pts) | "
                  "ratio | warm-up s | mode / compile / precision / batch | TFLOP/s ref → LV | "
                  "% peak (LV) | max rel diff vs ref |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for c in by_kind["eval"]:
            ref = c["reference"] or {}
            for label, lv in c["lossviz"].items():
                i = lv["info"]
                lines.append(
                    f"| {c['model']} | {c['images']} | {label} | "
                    f"{_f(ref.get('seconds_per_point'))} ({ref.get('points', 0)}) | "
                    f"{_f(lv['seconds_per_point'])} ({lv['points']}) | "
                    f"{_f(lv.get('ratio'))}× | {_f(lv['warmup_seconds'])} | "
                    f"{i.get('mode')} / {i.get('compile')} / {i.get('precision')} / "
                    f"{i.get('batch_size')} | {_f(ref.get('tflops'))} → {_f(lv['tflops'])} | "
                    f"{_pct(lv.get('peak_fraction'))} | {_f(lv.get('max_rel_diff_vs_reference'), 2)} |")
    if by_kind["multi"]:
        lines += ["", "One point at a time vs many points per pass:", "",
                  "| model | images | single s/pt | multi s/pt (K) | multi ÷ single speed-up | "
                  "auto chose | auto s/pt |", "|---|---|---|---|---|---|---|"]
        for c in by_kind["multi"]:
            lines.append(
                f"| {c['model']} | {c['images']} | {_f(c['single']['seconds_per_point'])} | "
                f"{_f(c['multi']['seconds_per_point'])} ({c['multi']['info'].get('multi_k')}) | "
                f"{_f(c['ratio'])}× | {c['auto']['info'].get('mode')} | "
                f"{_f(c['auto']['seconds_per_point'])} |")
    if by_kind["precision"]:
        lines += ["", "bf16 vs fp32 surfaces (max relative difference of the loss over a grid):",
                  "", "| model | images | points | bf16 vs fp32 | default precision | default vs "
                  "fp32 | fp32 loss range |", "|---|---|---|---|---|---|---|"]
        for c in by_kind["precision"]:
            lo, hi = c["fp32_loss_range"]
            lines.append(f"| {c['model']} | {c['images']} | {c['points']} | "
                         f"{_pct(c['max_rel_diff_bf16'])} | {c['default_precision']} | "
                         f"{_pct(c['max_rel_diff_default'])} | {lo:.3g} .. {hi:.3g} |")
    if by_kind["train"]:
        lines += ["", "Training, seconds per epoch (reference-style: DataLoader + CPU augmentation,"
                  " batch 128, fp32; LossViz: `iter_training`, data on the device):", "",
                  "| model | images | reference s/epoch | LossViz s/epoch (first epoch) | ratio | "
                  "TFLOP/s ref → LV |", "|---|---|---|---|---|---|"]
        for c in by_kind["train"]:
            lv = c["lossviz"]
            lines.append(f"| {c['model']} | {c['images']} | {_f(c['reference']['seconds'])} | "
                         f"{_f(lv['seconds_per_epoch'])} ({_f(lv['first_epoch_seconds'])}) | "
                         f"{_f(c['ratio'])}× | {_f(c['tflops_reference'])} → "
                         f"{_f(c['tflops_lossviz'])} |")
    for c in by_kind["e2e"]:
        lines += ["", f"End to end, {c['grid']} surface in a fresh process (start-up included): "
                  f"**{_f(c['seconds'])} s** ({c.get('points_done')} points, "
                  f"{c.get('points_finite')} finite) — `{c.get('command')}`"]
        for f in c.get("failures") or []:
            lines.append(f"  - attempt failed: {f}")
    for c in by_kind["estimate"]:
        lines += ["", f"Estimate, {c['what']}: **{_f(c['seconds'])} s** = warm-up "
                  f"{_f(c['warmup_seconds'])} s + {c['points']} × {_f(c['seconds_per_point'])} s "
                  f"({c['basis']})"]
    targets = check_targets(data)
    if targets:
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {t} | {m} | {'yes' if ok else 'NO'} |" for t, m, ok in targets]
    if data["skipped"]:
        lines += ["", "Skipped: " + "; ".join(f"{s['case']} ({s['why']})" for s in data["skipped"])]
    notes = sorted({n for c in cases for n in c.get("notes", [])})
    if notes:
        lines += ["", "Notes: " + "; ".join(notes)]
    return "\n".join(lines) + "\n"


def _eval_row(data: dict, model: str, prefer: str = "auto") -> dict | None:
    for c in data["cases"]:
        if c["kind"] == "eval" and c["model"] == model and c["lossviz"]:
            rows = c["lossviz"]
            return rows.get(prefer) or min(rows.values(), key=lambda r: r["seconds_per_point"])
    return None


def check_targets(data: dict) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for every target this run measured."""
    out: list[tuple[str, str, bool]] = []
    gpu = data["env"]["device"].startswith("cuda")
    cases = data["cases"]
    if gpu:
        r56 = _eval_row(data, "resnet56")
        if r56 is not None and "ratio" in r56:
            out.append(("ResNet-56 ≥ 40× reference", f"{r56['ratio']:.1f}×",
                        r56["ratio"] >= GPU_TARGETS["resnet56_ratio"]))
        if r56 is not None:
            out.append(("ResNet-56 ≤ 0.11 s/point", f"{r56['seconds_per_point']:.3g} s",
                        r56["seconds_per_point"] <= GPU_TARGETS["resnet56_spp"]))
        r110 = _eval_row(data, "resnet110")
        if r110 is not None:
            out.append(("ResNet-110 ≤ 0.22 s/point", f"{r110['seconds_per_point']:.3g} s",
                        r110["seconds_per_point"] <= GPU_TARGETS["resnet110_spp"]))
        for c in cases:
            if c["kind"] == "estimate" and c["model"] == "resnet56":
                out.append(("51×51 ResNet-56 surface ≤ 6 min incl. warm-up",
                            f"{c['seconds']:.0f} s ({c['basis']})",
                            c["seconds"] <= GPU_TARGETS["resnet56_51x51_seconds"]))
            if c["kind"] == "multi":
                out.append((f"{c['model']}: multi-point ≥ 5× single", f"{c['ratio']:.1f}×",
                            c["ratio"] >= GPU_TARGETS["digits_multi_ratio"]))
    else:
        for c in cases:
            if c["kind"] == "e2e" and c.get("seconds"):
                out.append((f"{c['model']} {c['grid']} end to end ≤ 20 s", f"{c['seconds']:.1f} s",
                            c["seconds"] <= CPU_TARGETS["demo_51x51_seconds"]))
            elif c["kind"] == "e2e" and c.get("timeout"):
                out.append((f"{c['model']} {c['grid']} end to end ≤ 20 s",
                            f"> {c['timeout']:.0f} s (stopped)", False))
        demo = next((c for c in cases if c["kind"] == "eval" and c.get("demo")), None)
        row = None if demo is None else next(iter(demo["lossviz"].values()))
        if row is not None and "ratio" in row:
            out.append(("demo model ≥ 3× reference on this CPU", f"{row['ratio']:.1f}×",
                        row["ratio"] >= CPU_TARGETS["demo_ratio"]))
    for c in cases:
        if c["kind"] == "precision" and c["default_precision"] == "bf16":
            out.append((f"{c['model']}: default (bf16) within 1 % of fp32",
                        _pct(c["max_rel_diff_default"]),
                        c["max_rel_diff_default"] <= PRECISION_LIMIT))
    return out
