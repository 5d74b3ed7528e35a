"""Fixtures shared by the engine's tests."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cluster():
    """One local Ray for the whole run (it takes seconds to start): 2 CPUs, no dashboard, a
    small object store, workers at normal priority as RayExecutor's own local Ray."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        yield ray
        return
    # the workers see the test plugin (tests/plugin), as nodes with it installed would
    plugin = str(Path(__file__).resolve().parents[1] / "plugin")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20,
             log_to_driver=False, logging_level=logging.ERROR,
             runtime_env={"env_vars": {"PYTHONPATH": plugin}},
             _system_config={"worker_niceness": 0})
    yield ray
    ray.shutdown()


@pytest.fixture
def cut_after_one_chunk(monkeypatch):
    """``arm()``: the next grid stops after its first chunk as if Ctrl-C was pressed."""

    def arm() -> None:
        from lossviz_core.run import grid

        real = grid.iter_surface

        def interrupted(*a, **k):
            gen = real(*a, **k)
            yield next(gen)
            raise KeyboardInterrupt

        monkeypatch.setattr("lossviz_core.run.executor.iter_surface", interrupted)

    return arm


@pytest.fixture(scope="session")
def digits_mlps(tmp_path_factory):
    """Three digits MLPs trained independently (seeds 1, 2, 3; 8 epochs, a second each):
    run folders, for the geometry tests (planes, curves, alignment)."""
    from lossviz_core.progress import drain
    from lossviz_core.recipe.spec import DatasetSpec
    from lossviz_core.train import TrainSpec, iter_training

    root = tmp_path_factory.mktemp("mlps")
    runs = []
    for seed in (1, 2, 3):
        spec = TrainSpec(model="digits_mlp", dataset=DatasetSpec("digits"), epochs=8, lr=0.05,
                         batch_size=32, weight_decay=0.0, seed=seed)
        runs.append(drain(iter_training(spec, root / f"mlp{seed}")))
    return runs
