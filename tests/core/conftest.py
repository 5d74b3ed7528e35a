"""Fixtures shared by the engine's tests."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(scope="session")
def cluster():
    """One local Ray for the whole run (it takes seconds to start): 2 CPUs, no dashboard, a
    small object store, workers at normal priority as RayExecutor's own local Ray."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        yield ray
        return
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20,
             log_to_driver=False, logging_level=logging.ERROR,
             _system_config={"worker_niceness": 0})
    yield ray
    ray.shutdown()
