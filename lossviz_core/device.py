"""Compute device choice: cuda, mps, cpu, chosen automatically, overridable."""

from __future__ import annotations

from typing import Any

import torch

from lossviz_core.errors import InputError


def pick_device(name: str | None = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; otherwise the named device."""
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise InputError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but no CUDA GPU is available; use --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise InputError("device 'mps' requested but Apple MPS is not available; use --device cpu")
    return dev


def device_description(dev: torch.device) -> str:
    """A human-readable device name, e.g. 'NVIDIA H100 80GB HBM3' or 'CPU (2 threads)'."""
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    if dev.type == "mps":
        return "Apple MPS"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'' if n == 1 else 's'})"


def fits_on_device(nbytes: int, device: torch.device, fraction: float = 0.3) -> bool:
    """Whether ``nbytes`` of data may live on ``device``: CUDA data larger than ``fraction``
    of free memory stays in pinned host memory and is streamed (activations need the rest).
    """
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= fraction * free


def host_memory_available() -> float:
    """Bytes of host memory available now (Linux ``MemAvailable``; elsewhere psutil, or 8 GB)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return float(psutil.virtual_memory().available)
    except ImportError:
        return 8e9


def resume_threads(recorded: Any) -> tuple[int, str] | None:
    """A resume's CPU threads: the count the file's points were computed on (a matrix
    product's summation order may follow its threads), at most the machine's cores; None
    (the load decides) when the file records none or ``OMP_NUM_THREADS`` is set by the
    user. Sets torch's threads and returns ``(n, why)``."""
    import os

    if not recorded or os.environ.get("OMP_NUM_THREADS"):
        return None
    cores = os.cpu_count() or 1
    n = max(1, min(int(recorded), cores))
    torch.set_num_threads(n)
    if n == int(recorded):
        return n, f"{n} CPU thread{'s' if n != 1 else ''}, as the file's points were computed"
    return n, (f"{n} CPU threads ({recorded} computed the file's points: the rest may differ "
               "from them in the last bits)")


def threads_for_load(cores: int | None = None, load: float | None = None) -> tuple[int, str]:
    """Set torch's CPU threads to the cores the machine's load leaves free; ``(n, why)``.

    On a shared machine torch's default (every core) oversubscribes it: with a load average
    near 10 on 2 cores, a 21×21 demo surface took 144 s on 2 threads and 10 s on 1.
    ``OMP_NUM_THREADS`` set by the user wins."""
    import os

    cores = cores or os.cpu_count() or 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
    if os.environ.get("OMP_NUM_THREADS"):
        n = torch.get_num_threads()
        return n, f"{n} threads (OMP_NUM_THREADS)"
    n = int(max(1, min(cores, round(cores - load))))
    torch.set_num_threads(n)
    return n, f"{n} of {cores} CPU threads, load average {load:.1f}"
