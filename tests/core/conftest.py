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


@pytest.fixture
def one_thread():
    """Tiny products gain nothing from a second thread, and on a shared 2-core machine two
    OpenMP threads contend: one, restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
