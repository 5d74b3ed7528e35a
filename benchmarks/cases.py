"""One measured comparison each: the reference-style loop and LossViz, same model, data, plane.

Every case returns a plain dict (JSON-ready) and never asserts a time. Seconds per point
are wall-clock after a synchronized device; warm-up (probe, compile, first call) is
reported on its own and kept out of the per-point figure.
"""

from __future__ import annotations

import copy
import gc
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lossviz_core.data import Dataset, load_dataset
from lossviz_core.directions import Directions, make_directions
from lossviz_core.evaluation.evaluate import Evaluator
from lossviz_core.models import build_model
from lossviz_core.recipe.spec import DatasetSpec, DirectionSpec

from . import flops as fl
from .reference_loop import (
    CIFAR_NORM,
    ReferenceSurface,
    cifar_like,
    digits_raw,
    normalized_split,
    reference_train_epoch,
    synchronize,
)

GRID_51 = 51 * 51
CALIBRATION_IMAGES = 512


@dataclass
class Workload:
    """A model at θ, its plane, and the same data in both forms (raw images, device tensors)."""

    label: str
    model: nn.Module  # on the CPU, eval mode
    directions: Directions  # on the CPU
    images: np.ndarray  # raw HWC, for the reference's per-image transforms
    labels: np.ndarray
    norm: tuple  # (mean, std) for the reference's Normalize
    dataset: Dataset  # normalized once, on the device, for LossViz
    input_shape: tuple[int, ...]
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.labels)


# --------------------------------------------------------------------------- workloads


def cifar_workload(name: str, n: int, device: torch.device, seed: int = 0) -> Workload:
    """A zoo CIFAR model (random init, BN statistics calibrated) on ``n`` random CIFAR-shaped images."""
    images, labels = cifar_like(n, seed)
    split = normalized_split(images, labels, *CIFAR_NORM, device=device)
    torch.manual_seed(seed)
    model = calibrate_bn(build_model(name), split.x[:CALIBRATION_IMAGES], device)
    dataset = Dataset("cifar_like", split, None, 10, (3, 32, 32))
    dirs = make_directions(model, DirectionSpec(seed=seed), two_d=True)
    return Workload(name, model, dirs, images, labels, CIFAR_NORM, dataset, (3, 32, 32),
                    ["random init, BN statistics calibrated on 512 images, random labels"])


def demo_workload(device: torch.device, name: str | None = None) -> Workload:
    """The bundled demo model on digits (random-init ``digits_cnn`` if the demo is absent).

    ``name`` picks another digits zoo model (random init) instead of the demo.
    """
    model, label, note = _demo_model() if name is None else (None, name, "random init")
    if model is None:
        torch.manual_seed(0)
        model = build_model(label)
    model.eval()
    images, labels, mean, std = digits_raw()
    dataset = load_dataset(DatasetSpec("digits"), device)
    dirs = make_directions(model, DirectionSpec(seed=0), two_d=True)
    return Workload(label, model, dirs, images, labels, (mean, std), dataset, (1, 8, 8), [note])


def _demo_model() -> tuple[nn.Module | None, str, str]:
    try:
        from lossviz_core import demo
        from lossviz_core.sources.checkpoints import load_into

        recipe = demo.recipe("surface")
        spec_m, spec_d = recipe.model, recipe.dataset
        if spec_d.name != "digits" or not spec_m.checkpoint:
            raise ValueError("demo is not a digits checkpoint")
        model = build_model(spec_m.name)
        load_into(model, spec_m.checkpoint)
        return model, spec_m.name, "bundled demo checkpoint"
    except Exception as exc:  # noqa: BLE001 - any missing piece means: time a stand-in
        return None, "digits_cnn", f"random init (demo unavailable: {type(exc).__name__})"


def calibrate_bn(model: nn.Module, x: torch.Tensor, device: torch.device) -> nn.Module:
    """Set BatchNorm running statistics from ``x`` (cumulative average), as after training.

    A random-init ResNet's default statistics (0, 1) let eval-mode activations grow through
    the blocks; calibrated ones give losses of the size a real checkpoint has.
    """
    model.to(device).train()
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    with torch.no_grad():
        for xb in x.split(256):
            model(xb)
    for bn in bns:
        bn.momentum = 0.1
    return model.cpu().eval()


# --------------------------------------------------------------------------- timing


def plane_coords(k: int, seed: int = 1) -> np.ndarray:
    """``k`` points of the plane [-1, 1]², seeded: the same for both implementations."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(k, 2))


def grid_coords(num: int) -> np.ndarray:
    """A num×num grid over [-1, 1]², rows (α, β)."""
    v = np.linspace(-1.0, 1.0, num)
    a, b = np.meshgrid(v, v)
    return np.stack([a.ravel(), b.ravel()], axis=1)


class InterleavedReference:
    """The reference-style loop, one point per call, so it can run between LossViz blocks.

    Interleaving puts both implementations under the same background load (a shared
    machine's bursts would otherwise land on one side of the ratio only).
    """

    def __init__(self, w: Workload, coords: np.ndarray, device: torch.device) -> None:
        self.surface = ReferenceSurface(copy.deepcopy(w.model), w.directions.x, w.directions.y,
                                        w.images, w.labels, *w.norm, device=device)
        self.coords, self.seconds, self.losses = coords, [], []

    def __call__(self, i: int) -> None:
        seconds, losses = self.surface.timed_points(self.coords[i:i + 1])
        self.seconds += seconds
        self.losses += losses

    def result(self) -> dict:
        return {"seconds_per_point": float(np.median(self.seconds)), "points": len(self.seconds),
                "point_seconds": self.seconds, "losses": self.losses}


def time_lossviz(w: Workload, coords: np.ndarray, device: torch.device, blocks: int = 1,
                 between=None, **options) -> dict:
    """LossViz's Evaluator at ``coords`` after its warm-up (probe, compile, one first point).

    ``coords`` are timed in ``blocks`` calls, ``between(i)`` running before block ``i``;
    with several blocks seconds per point is the median over blocks.
    """
    net = copy.deepcopy(w.model)
    synchronize(device)
    start = time.perf_counter()
    ev = Evaluator(net, w.directions, w.dataset, device=device, **options)
    ev.info  # noqa: B018 - runs the probe (batch size, single vs multi, compile choice)
    probe = time.perf_counter() - start
    start = time.perf_counter()
    ev.evaluate(coords[:1])  # compiles, if the evaluator chose to
    first = time.perf_counter() - start
    losses, block_spp, total = [], [], 0.0
    for i, part in enumerate(np.array_split(coords, max(1, min(blocks, len(coords))))):
        if between is not None:
            between(i)
        start = time.perf_counter()
        out = ev.evaluate(part)  # returns host arrays: the device has finished
        seconds = time.perf_counter() - start
        total += seconds
        block_spp.append(seconds / len(part))
        losses += out["train_loss"].tolist()
    info = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
            for k, v in ev.info.items()}
    del ev, net
    _free(device)
    spp = float(np.median(block_spp)) if len(block_spp) > 1 else total / len(coords)
    return {"seconds_per_point": spp, "points": len(coords), "block_seconds_per_point": block_spp,
            "setup_seconds": probe, "first_call_seconds": first,
            "warmup_seconds": probe + first, "info": info, "losses": losses}


def max_rel_diff(a, b) -> float:
    """max |a − b| / |b| over the finite pairs (b the reference)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return float("nan")
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-12)))


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch._dynamo.reset()  # compiled graphs of finished evaluators: no recompile limit hit
        torch.cuda.empty_cache()


# --------------------------------------------------------------------------- cases


def eval_case(w: Workload, device: torch.device, ref_points: int, lv_points: int,
              variants: dict[str, dict], ref: dict | None = None) -> dict:
    """Reference vs LossViz on one workload; one LossViz row per entry of ``variants``.

    ``variants`` maps a label to Evaluator options (``compile``, ``precision``, ...).
    ``ref`` reuses an earlier reference measurement of the same workload.
    """
    coords = plane_coords(max(lv_points, ref_points))
    fps = fl.forward_flops_per_sample(w.model, w.input_shape)
    peak = fl.peak_tflops(fl.device_name(device)) if device.type == "cuda" else None
    rows = {}
    for label, options in variants.items():
        interleave = {}
        if ref is None and ref_points > 0:  # the first variant runs side by side with the reference
            reference = InterleavedReference(w, coords[:ref_points], device)
            interleave = {"blocks": ref_points, "between": reference}
        lv = time_lossviz(w, coords[:lv_points], device, n_points=GRID_51, **interleave, **options)
        if interleave:
            ref = reference.result()
            del reference
            _free(device)
            ref["tflops"] = fl.tflops(fps, w.n, ref["seconds_per_point"])
            ref["peak_fraction"] = None if peak is None else ref["tflops"] / peak
        lv["options"] = options
        lv["tflops"] = fl.tflops(fps, w.n, lv["seconds_per_point"])
        lv["peak_fraction"] = None if peak is None else lv["tflops"] / peak
        if ref is not None:
            k = min(ref["points"], lv["points"])
            lv["ratio"] = ref["seconds_per_point"] / lv["seconds_per_point"]
            lv["max_rel_diff_vs_reference"] = max_rel_diff(lv["losses"][:k], ref["losses"][:k])
        rows[label] = lv
        print(f"    {w.label} [{label}]: {lv['seconds_per_point']:.4g} s/pt, warm-up "
              f"{lv['warmup_seconds']:.1f} s, {lv['info'].get('mode')}/{lv['info'].get('compile')}"
              + (f", ratio {lv['ratio']:.1f}x" if "ratio" in lv else ""), flush=True)
    return {"kind": "eval", "model": w.label, "images": w.n, "flops_per_sample": fps,
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "peak_tflops": peak, "reference": ref, "lossviz": rows, "notes": w.notes}


def multi_case(w: Workload, device: torch.device, points: int) -> dict:
    """One point at a time vs many points per pass (vmap), side by side, plus auto's choice."""
    coords = plane_coords(points)
    single = time_lossviz(w, coords, device, multi=False, compile="off")
    multi = time_lossviz(w, coords, device, multi=True, compile="off")
    auto = time_lossviz(w, coords, device)
    return {"kind": "multi", "model": w.label, "images": w.n, "single": single,
            "multi": multi, "auto": auto, "notes": w.notes,
            "ratio": single["seconds_per_point"] / multi["seconds_per_point"]}


def precision_case(w: Workload, device: torch.device, grid: int) -> dict:
    """Max relative difference of bf16 (and of the default precision) from an fp32 surface."""
    coords = grid_coords(grid)
    runs = {p: time_lossviz(w, coords, device, precision=p, compile="off")
            for p in ("fp32", "bf16", "auto")}
    return {"kind": "precision", "model": w.label, "images": w.n, "points": len(coords),
            "default_precision": runs["auto"]["info"].get("precision"),
            "max_rel_diff_bf16": max_rel_diff(runs["bf16"]["losses"], runs["fp32"]["losses"]),
            "max_rel_diff_default": max_rel_diff(runs["auto"]["losses"], runs["fp32"]["losses"]),
            "fp32_loss_range": [min(runs["fp32"]["losses"]), max(runs["fp32"]["losses"])],
            "notes": w.notes}


def train_case(name: str, n: int, device: torch.device, epochs: int) -> dict:
    """Seconds per epoch: the reference's training loop vs ``lossviz_core.train.iter_training``."""
    from lossviz_core.train import TrainSpec, iter_training

    images, labels = cifar_like(n, seed=2)
    torch.manual_seed(0)
    ref = reference_train_epoch(build_model(name), images, labels, *CIFAR_NORM, device)
    _free(device)
    split = normalized_split(images, labels, *CIFAR_NORM)
    with tempfile.TemporaryDirectory(prefix="lossviz-bench-") as tmp:
        npz = Path(tmp) / "data.npz"
        np.savez(npz, x=split.x.numpy(), y=split.y.numpy())
        spec = TrainSpec(model=name, dataset=DatasetSpec(name=f"tensors:{npz}"), epochs=epochs,
                         batch_size=128, augment="crop_flip", device=str(device),
                         save_every=epochs)
        reports = list(iter_training(spec, Path(tmp) / "run"))
    _free(device)
    seconds = [r.seconds for r in reports]
    steady = min(seconds[1:]) if len(seconds) > 1 else seconds[0]
    fps = fl.forward_flops_per_sample(build_model(name), (3, 32, 32))
    train_flops = 3 * fps  # forward + backward ≈ 3 forward passes
    return {"kind": "train", "model": name, "images": n, "reference": ref,
            "lossviz": {"epoch_seconds": seconds, "seconds_per_epoch": steady,
                        "first_epoch_seconds": seconds[0], "precision": spec.precision,
                        "loss": reports[-1].train_loss},
            "ratio": ref["seconds"] / steady,
            "tflops_reference": fl.tflops(train_flops, n, ref["seconds"]),
            "tflops_lossviz": fl.tflops(train_flops, n, steady)}


def e2e_demo_case(grid: int, device: str, timeout: float = 900.0) -> dict:
    """The demo surface through the real CLI in a fresh process, timed from its start.

    A run that passes ``timeout`` seconds is stopped and reported as not finished.
    """
    from lossviz_core.results.store import read_result

    with tempfile.TemporaryDirectory(prefix="lossviz-bench-") as tmp:
        out = Path(tmp) / "demo.h5"
        rng = f"-1:1:{grid}"
        entry = "lossviz" if importlib.util.find_spec("lossviz") else "lossviz_core.cli"
        base = [sys.executable, "-m", entry, "surface", f"--x={rng}", f"--y={rng}",
                "--device", device, "--out", str(out)]
        have_demo = importlib.util.find_spec("lossviz_core.demo") is not None
        attempts = [base + ["--demo"]] if have_demo else []
        ckpt = Path(tmp) / "digits_cnn_init.pt"
        attempts.append(base + ["--model", "digits_cnn", "--dataset", "digits",
                                "--checkpoint", str(ckpt)])
        failures, timed_out = [], False
        for cmd in attempts:
            if "--checkpoint" in cmd and not ckpt.exists():
                _write_init_checkpoint(ckpt)
            start = time.perf_counter()
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"})
            except subprocess.TimeoutExpired:
                failures.append(f"{' '.join(cmd[3:7])}...: not finished after {timeout:.0f} s")
                timed_out = True
                break  # the CLI works but is slow: a second attempt would be as slow
            seconds = time.perf_counter() - start
            if proc.returncode == 0:
                res = read_result(out)
                loss = res.values[res.main_quantity()]
                return {"kind": "e2e", "model": "demo" if "--demo" in cmd else "digits_cnn (init)",
                        "grid": f"{grid}x{grid}", "seconds": seconds,
                        "points_done": int(res.done.sum()),
                        "points_finite": int(np.isfinite(loss).sum()),
                        "command": "lossviz " + " ".join(cmd[3:]).replace(tmp, "$TMP"),
                        "failures": failures}
            failures.append(f"{' '.join(cmd[3:6])}...: exit {proc.returncode}: "
                            f"{proc.stderr.strip().splitlines()[-1:] or ''}")
        return {"kind": "e2e", "model": "demo", "grid": f"{grid}x{grid}", "seconds": None,
                "failures": failures, "timeout": timeout if timed_out else None}


def _write_init_checkpoint(path: Path) -> None:
    from lossviz_core.sources.checkpoints import save_checkpoint

    torch.manual_seed(0)
    save_checkpoint(build_model("digits_cnn"), path)
