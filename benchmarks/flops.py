"""Arithmetic per grid point, the device's peak, and the environment a figure was measured in."""

from __future__ import annotations

import copy
import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

# Dense bf16 tensor-core peaks in TFLOP/s (vendor data sheets, no sparsity). Order matters:
# the first substring found in the device name wins, so specific names come first.
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.0),
    ("GH200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("RTX 4090", 165.0),
    ("V100", 125.0),
)
REPO = Path(__file__).resolve().parent.parent


def peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a CUDA device named ``device_name``; None if unknown or a CPU."""
    for key, tflops in BF16_PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return tflops
    return None


def forward_flops_per_sample(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass per example (torch.utils.flop_counter, counted on the CPU).

    Counted on a copy over a batch of 2 and divided by 2: the count is linear in the batch,
    and the copy leaves the benchmarked model (its device and memory format) untouched.
    """
    net = copy.deepcopy(model).cpu().float().eval()
    x = torch.zeros(2, *input_shape)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(x)
    return counter.get_total_flops() // 2


def tflops(flops_per_sample: int, samples: int, seconds: float) -> float:
    """Achieved TFLOP/s of ``samples`` forward passes in ``seconds``."""
    return flops_per_sample * samples / seconds / 1e12 if seconds > 0 else float("nan")


def device_name(device: torch.device) -> str:
    """'NVIDIA H200' for a GPU, the processor's model name for the CPU."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def environment(device: torch.device) -> dict:
    """Device, software versions, date and commit: what a figure needs to be reproducible."""
    env = {
        "device": str(device),
        "device_name": device_name(device),
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": _git_commit(),
        "inductor_cache_dir": os.environ.get("TORCHINDUCTOR_CACHE_DIR"),
        # other work on the machine makes every figure pessimistic: record how much there was
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
        env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory
                                      / 2**30, 1)
        env["bf16_peak_tflops"] = peak_tflops(env["device_name"])
    return env


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                             capture_output=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, text=True, capture_output=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
