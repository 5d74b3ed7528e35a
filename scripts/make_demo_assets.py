#!/usr/bin/env python
"""Write the bundled demo (resources/demo/): a training run and a small/large-batch pair.

Deterministic and CPU-only (about a minute on two cores). Writes::

    resources/demo/trajectory/   run folder: digits_cnn on digits, SGD + momentum, step
                                 schedule, a checkpoint every epoch (the PCA plane's path)
    resources/demo/pair/init.pt          the shared initialization
    resources/demo/pair/small_batch.pt   batch 16 from init.pt
    resources/demo/pair/large_batch.pt   batch 1024 (nearly the whole 1437-image split),
                                         same epochs, same rate: sharp vs flat (Keskar et al.)
    resources/demo/demo.json     what they are, their accuracies, and the demo ranges

Usage: ``python scripts/make_demo_assets.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from lossviz_core.directions.pca import pca_directions
from lossviz_core.models import build_model
from lossviz_core.recipe.spec import DatasetSpec, Range
from lossviz_core.runs import read_run, write_run
from lossviz_core.sources.checkpoints import load_state_dict, save_checkpoint
from lossviz_core.train import TrainSpec, iter_training, step_milestones

MODEL = "digits_cnn"
DATASET = DatasetSpec(name="digits")
TRAJECTORY = TrainSpec(
    model=MODEL, dataset=DATASET, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4,
    schedule="step", batch_size=128, epochs=30, save_every=1, seed=0, device="cpu",
    precision="fp32",
)  # step schedule: the reference's 150/225/275 of 300 scaled to 15/22/28 of 30
PAIR_EPOCHS = 20
PAIR = TrainSpec(
    model=MODEL, dataset=DATASET, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4,
    schedule="constant", epochs=PAIR_EPOCHS, seed=0, device="cpu", precision="fp32",
)
SMALL_BATCH, LARGE_BATCH = 16, 1024
PAIR_SEED = 1  # seeds the shared initialization
PCA_POINTS = 25  # points along PC1; PC2 gets as many as keep the cells square
LINE_POINTS_PER_UNIT = 20  # the line range is sampled every 0.05


def train(spec: TrainSpec, run_dir: Path) -> dict:
    """Run ``iter_training`` to the end, printing one line per epoch; the last metrics."""
    last = None
    for r in iter_training(spec, run_dir, overwrite=True):
        print(f"  epoch {r.epoch:2d}/{r.epochs}  lr {r.lr:.4g}  train loss {r.train_loss:.4f}  "
              f"test acc {r.test_acc:.2f} %", file=sys.stderr)
        last = r
    return {"train_loss": last.train_loss, "train_acc": last.train_acc,
            "test_loss": last.test_loss, "test_acc": last.test_acc}


def strip_timings(run_dir: Path) -> None:
    """Drop the per-epoch seconds so regenerating the demo reproduces run.json byte for byte."""
    info = read_run(run_dir)
    for m in info.metrics:
        m.pop("seconds", None)
    write_run(info)


def nice_range(lo: float, hi: float, num: int) -> Range:
    """[lo, hi] widened by 15 % on each side (at least 0.2) and rounded outwards to 0.1."""
    margin = max(0.15 * (hi - lo), 0.2)
    return Range(math.floor((lo - margin) * 10) / 10, math.ceil((hi + margin) * 10) / 10, num)


def pca_ranges(run_dir: Path) -> tuple[Range, Range, dict]:
    """Ranges of the PCA plane that hold the whole trajectory with a margin."""
    dirs = pca_directions(build_model(MODEL), run_dir)
    t = dirs.trajectory
    x = nice_range(float(t.x.min()), float(t.x.max()), PCA_POINTS)
    y0 = nice_range(float(t.y.min()), float(t.y.max()), 2)
    step = (x.max - x.min) / (PCA_POINTS - 1)
    ny = max(11, int(round((y0.max - y0.min) / step)) + 1)
    y = Range(y0.min, y0.max, ny)
    return x, y, {"explained_variance": [float(v) for v in t.explained_variance]}


def bn_valid_interval(a: dict, b: dict) -> tuple[float, float]:
    """The α for which every interpolated BatchNorm running variance stays positive."""
    lo, hi = -math.inf, math.inf
    for k, va in a.items():
        if not k.endswith("running_var"):
            continue
        va, vb = va.double(), b[k].double()
        d = vb - va
        if (d < 0).any():
            hi = min(hi, float((va[d < 0] / -d[d < 0]).min()))
        if (d > 0).any():
            lo = max(lo, float((-va[d > 0] / d[d > 0]).max()))
    return lo, hi


def line_range(a: dict, b: dict) -> Range:
    """-0.5:1.5 (the paper's view) cut to where interpolated BN statistics stay valid."""
    lo, hi = bn_valid_interval(a, b)
    x0 = max(-0.5, math.ceil((lo + 0.05) * 20) / 20)
    x1 = min(1.5, math.floor((hi - 0.05) * 20) / 20)
    return Range(x0, x1, int(round((x1 - x0) * LINE_POINTS_PER_UNIT)) + 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(__file__).resolve().parent.parent / "resources" / "demo"
    p.add_argument("--out", type=Path, default=default_out, help="demo folder to (re)write")
    a = p.parse_args(argv)
    out: Path = a.out
    t0 = time.perf_counter()
    torch.set_num_threads(min(2, torch.get_num_threads()))  # same numbers on any machine size
    out.mkdir(parents=True, exist_ok=True)

    print(f"trajectory: {MODEL} on digits, {TRAJECTORY.epochs} epochs", file=sys.stderr)
    shutil.rmtree(out / "trajectory", ignore_errors=True)
    traj_final = train(TRAJECTORY, out / "trajectory")
    strip_timings(out / "trajectory")
    pca_x, pca_y, pca_info = pca_ranges(out / "trajectory")

    pair_dir = out / "pair"
    shutil.rmtree(pair_dir, ignore_errors=True)
    torch.manual_seed(PAIR_SEED)
    init = save_checkpoint(build_model(MODEL), pair_dir / "init.pt", epoch=0)
    pair_meta = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, batch in (("small_batch", SMALL_BATCH), ("large_batch", LARGE_BATCH)):
            print(f"{name}: batch {batch}, {PAIR_EPOCHS} epochs from init.pt", file=sys.stderr)
            spec = PAIR.replace(batch_size=batch, init_checkpoint=str(init))
            final = train(spec, Path(tmp) / name)
            state = load_state_dict(read_run(Path(tmp) / name).final_checkpoint)
            save_checkpoint(state, pair_dir / f"{name}.pt", epoch=PAIR_EPOCHS, batch_size=batch,
                            acc=final["test_acc"])
            pair_meta[name] = {"file": f"pair/{name}.pt", "batch_size": batch, **final}
    small = load_state_dict(pair_dir / "small_batch.pt")
    large = load_state_dict(pair_dir / "large_batch.pt")
    line_x = line_range(small, large)

    train_keys = ("optimizer", "lr", "momentum", "weight_decay", "schedule", "epochs", "seed")
    demo = {
        "model": MODEL,
        "dataset": DATASET.to_dict(),
        "generated_by": "scripts/make_demo_assets.py",
        "torch": torch.__version__.split("+")[0],
        "trajectory": {
            "run": "trajectory",
            "batch_size": TRAJECTORY.batch_size,
            **{k: getattr(TRAJECTORY, k) for k in train_keys},
            "step_epochs": list(step_milestones(TRAJECTORY)),
            "final": traj_final,
            "pca": {"x": str(pca_x), "y": str(pca_y), **pca_info},
        },
        "pair": {
            "init": "pair/init.pt",
            **{k: getattr(PAIR, k) for k in train_keys},
            **pair_meta,
            "line": {"x": str(line_x), "bn_valid_alpha": [v if math.isfinite(v) else None
                                          for v in bn_valid_interval(small, large)]},
        },
    }
    (out / "demo.json").write_text(json.dumps(demo, indent=2) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({size / 1e6:.2f} MB) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(json.dumps({k: demo[k] for k in ("trajectory", "pair")}, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
