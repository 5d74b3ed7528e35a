"""The training dialog's runs without Qt: one run, or the small-vs-large-batch preset's two
from one saved initialization (the paper's sharp-vs-flat experiment), their batch sizes
and folders, as a generator the task runner drives."""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from . import settings_store

PRESETS = {"single": "Single run", "batch": "Small vs large batch (same initialization)"}
# the seed report's batch sizes on CIFAR-10's 50,000 training images, scaled to a dataset
SEED_REPORT_BATCHES, SEED_REPORT_IMAGES = (64, 4096), 50_000
TRAIN_IMAGES = {"cifar10": 50_000, "digits": 1797 - 360}  # a tensors file: unknown

def default_run_folder(model: str, batches: tuple[int, int] | None = None) -> str:
    """A new folder under the user's results folder (``runs/``), named after the model (and
    the two batch sizes of the small-vs-large preset) and the time."""
    what = f"{model}-batch-{batches[0]}-vs-{batches[1]}" if batches else model
    base = settings_store.results_folder("runs", f"{what}-{time.strftime('%Y%m%d-%H%M%S')}")
    folder, n = base, 2
    while folder.exists():  # two runs in one second
        folder, n = base.with_name(f"{base.name}-{n}"), n + 1
    return str(folder)


def batch_pair(images: int | None) -> tuple[int, int]:
    """(small, large) batch sizes: the seed report's 64 and 4096 scaled to a training set
    of ``images`` (powers of two, the small one at least 8, the large one at least 16
    times it and at most the set); the report's own where the size is unknown."""
    if not images:
        return SEED_REPORT_BATCHES

    def pow2(v: float) -> int:
        return 2 ** max(0, round(math.log2(max(v, 1.0))))

    small = max(8, pow2(SEED_REPORT_BATCHES[0] * images / SEED_REPORT_IMAGES))
    large = max(16 * small, pow2(SEED_REPORT_BATCHES[1] * images / SEED_REPORT_IMAGES))
    return small, min(large, max(2 ** int(math.log2(images)), 2 * small))


def training_generator(spec: Any, out: str, preset: str,
                       batches: tuple[int, int] | None = None) -> Generator[Any, None, Any]:
    """Yield (tag, EpochReport); return the RunInfo, or (small RunInfo, large RunInfo)."""
    from lossviz_core.train import iter_training

    if preset != "batch":
        info = yield from _tagged("run", iter_training(spec, out))
        return info
    import torch

    from lossviz_core.models import build_model
    from lossviz_core.sources.checkpoints import save_checkpoint

    torch.manual_seed(spec.seed)
    init = save_checkpoint(build_model(spec.model), Path(out) / "init.pt", epoch=0)
    runs = []
    for tag, (bs, folder) in run_folders(spec, out, preset, batches).items():
        run_spec = spec.replace(batch_size=bs, init_checkpoint=str(init))
        runs.append((yield from _tagged(tag, iter_training(run_spec, folder))))
    return tuple(runs)


def run_folders(spec: Any, out: str, preset: str, batches: tuple[int, int] | None = None
                ) -> dict[str, tuple[int, Path]]:
    """Each run's tag, batch size and folder: one run in ``out``, or the batch preset's two
    (``batches``, else the seed report's scaled to the data) in ``out/batch_<size>``."""
    if preset != "batch":
        return {"run": (spec.batch_size, Path(out))}
    small, large = batches or batch_pair(TRAIN_IMAGES.get(spec.dataset.name))
    return {"small": (small, Path(out) / f"batch_{small}"),
            "large": (large, Path(out) / f"batch_{large}")}


def _tagged(tag: str, gen: Generator) -> Generator[Any, None, Any]:
    try:
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            yield tag, item
    finally:
        gen.close()  # the training generator's own finally runs on cancel
