"""*Compute on: Ray cluster*: the window computes a surface through a local Ray (2 CPUs, no
dashboard, a small object store), shows a line per worker, and gets the surface the engine
computes on this machine."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
from conftest import COMPUTE_MS

from lossviz_core import demo
from lossviz_core.progress import drain
from lossviz_core.recipe.spec import ComputeSpec, GridSpec, Range
from lossviz_core.run.job import prepare

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20,
                 log_to_driver=False, logging_level=logging.ERROR,
                 _system_config={"worker_niceness": 0})
    yield ray
    if started:
        ray.shutdown()


def test_the_window_computes_a_surface_on_ray_workers(qtbot, make_window, errors, local_ray):
    w = make_window(autostart=False)
    panel = w.ranges_panel
    assert panel.ray_address.isHidden() and panel.ray_workers.isHidden()  # this machine
    panel.executor.setCurrentIndex(panel.executor.findData("ray"))  # as the user picks it
    assert w.state["executor"] == "ray" and not panel.ray_workers.isHidden()
    w.state.update(xmin=-1.0, xmax=1.0, xnum=5, ymin=-0.5, ymax=0.5, ynum=3,
                   device="cpu", precision="fp32", ray_workers=2)
    assert not w.stale  # where it is computed is not part of the landscape
    statuses: list = []
    w.workers_changed.connect(statuses.append)
    w.compute()
    qtbot.waitUntil(lambda: not w.computing, timeout=3 * COMPUTE_MS)
    assert errors == []
    assert w.result is not None and w.result.done.all() and w.result.shape == (3, 5)

    # the per-worker status line: one line per worker, with the points each computed
    assert statuses and any(s.state == "ready" for snap in statuses for s in snap)
    lines = w.compute_panel.workers.text().splitlines()
    assert [line.split(" · ")[0] for line in lines] == ["○ w0", "○ w1"]  # both stopped now
    points = [int(re.search(r"(\d+) pts", line).group(1)) for line in lines]
    assert sum(points) == 15  # every point computed once, by one of them
    assert w.compute_panel.workers.isVisible()

    # the same numbers as this machine's executor, and the file records where they came from
    recipe = demo.recipe("surface").replace(
        grid=GridSpec(Range(-1, 1, 5), Range(-0.5, 0.5, 3)),
        compute=ComputeSpec(device="cpu", precision="fp32"))
    local = drain(prepare(recipe).iter())
    for q in ("train_loss", "train_acc"):
        np.testing.assert_allclose(w.result.values[q], local.values[q], rtol=1e-6, atol=1e-9)
    from lossviz_core.results.store import read_decisions

    assert {p["executor"] for p in read_decisions(w.entry.path)} == {"ray"}
    assert ray.is_initialized()  # the tests' Ray stays (the window did not start it)


def test_an_unreachable_cluster_is_one_message(qtbot, make_window, errors, local_ray,
                                               monkeypatch):
    import lossviz.cluster as cluster

    def unreachable(values, on_status=None):
        from lossviz_core.errors import LossVizError

        raise LossVizError("cannot start or reach Ray at ray://nowhere:10001 (ConnectionError)")

    monkeypatch.setattr(cluster, "executor_for", unreachable)
    w = make_window(autostart=False)
    w.state.update(executor="ray", ray_address="ray://nowhere:10001", xnum=3, ynum=3,
                   device="cpu")
    w.compute()
    qtbot.waitUntil(lambda: not w.computing, timeout=COMPUTE_MS)
    assert len(errors) == 1 and "ray://nowhere:10001" in errors[0][0]
    assert "Traceback" not in errors[0][0]


def test_the_windows_ray_is_not_reconnected_under_a_running_computation(local_ray,
                                                                        monkeypatch):
    from lossviz import cluster

    from lossviz_core.errors import LossVizError

    monkeypatch.setitem(cluster._connected, "owned", True)  # as if the window had started it
    monkeypatch.setitem(cluster._connected, "address", None)
    monkeypatch.setitem(cluster._connected, "users", 1)  # a study computes on it now
    shutdowns = []
    monkeypatch.setattr(local_ray, "shutdown", lambda: shutdowns.append(1))
    with pytest.raises(LossVizError, match="in use on the local Ray"):
        cluster.executor_for({"executor": "ray", "ray_address": "auto"})
    assert shutdowns == [] and local_ray.is_initialized()
    ex = cluster.executor_for({"executor": "ray", "ray_address": ""})  # the same one: fine
    assert cluster._connected["users"] == 2
    cluster.release(ex)
    cluster.release(ex)  # once only
    assert cluster._connected["users"] == 1
