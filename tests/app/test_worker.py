"""GeneratorWorker: items, return value, errors, cancel (finally blocks run), no_grad.

The recorders are plain callables, so Qt calls them in the worker thread (no receiver
object); the tests poll what they recorded with waitUntil (a waitSignal on a cross-thread
signal would stop its timer from the worker thread).
"""

from __future__ import annotations

import threading

import pytest
import torch
from lossviz.worker import GeneratorWorker, call_in_thread, running_threads

from lossviz_core.errors import CheckpointError


@pytest.fixture
def collect():
    """Start a worker and record what it emits; joins the thread in teardown."""
    workers = []

    def start(make):
        w = GeneratorWorker(make)
        got = {"yielded": [], "returned": [], "errored": [], "finished": 0}
        w.yielded.connect(lambda v: got["yielded"].append(v))
        w.returned.connect(lambda v: got["returned"].append(v))
        w.errored.connect(lambda m, d: got["errored"].append((m, d)))
        w.finished.connect(lambda: got.__setitem__("finished", got["finished"] + 1))
        workers.append(w)
        return w, got

    yield start
    for w in workers:
        assert w.stop(5000)
    assert running_threads() == []


def test_yields_and_returns_off_the_gui_thread(qtbot, collect):
    gui = threading.get_ident()

    def gen():
        for i in range(3):
            yield (i, threading.get_ident() != gui, torch.is_grad_enabled())
        return "done"

    w, got = collect(gen)
    w.start()
    qtbot.waitUntil(lambda: got["finished"] == 1, timeout=5000)
    assert [v[0] for v in got["yielded"]] == [0, 1, 2]
    assert all(v[1] for v in got["yielded"]), "the generator must run in the worker thread"
    assert not any(v[2] for v in got["yielded"]), "no_grad must be entered in the worker"
    assert got["returned"] == ["done"]
    assert got["errored"] == []


def test_setup_runs_in_the_thread_and_lossviz_errors_have_no_details(qtbot, collect):
    gui = threading.get_ident()
    seen = {}

    def make():
        seen["thread"] = threading.get_ident()  # stands for job.prepare()
        raise CheckpointError("model.pt is not a checkpoint")

    w, got = collect(make)
    w.start()
    qtbot.waitUntil(lambda: got["finished"] == 1, timeout=5000)
    assert seen["thread"] != gui
    assert got["errored"] == [("model.pt is not a checkpoint", "")]
    assert got["returned"] == []


def test_unexpected_error_carries_the_traceback(qtbot, collect):
    def gen():
        yield 1
        {}["missing"]

    w, got = collect(gen)
    w.start()
    qtbot.waitUntil(lambda: got["finished"] == 1, timeout=5000)
    (message, details), = got["errored"]
    assert message.startswith("Unexpected error: KeyError")
    assert "Traceback" in details and "gen" in details


def test_cancel_stops_between_items_and_runs_finally(qtbot, collect):
    gate = threading.Event()
    state = {"closed": False, "made": 0}

    def gen():
        try:
            for i in range(10_000):
                state["made"] = i + 1
                yield i
                gate.wait(5)  # the test cancels while item 0 is in flight
        finally:
            state["closed"] = True

    w, got = collect(gen)
    w.start()
    qtbot.waitUntil(lambda: len(got["yielded"]) >= 1, timeout=5000)
    w.cancel()
    gate.set()
    qtbot.waitUntil(lambda: got["finished"] == 1, timeout=5000)
    assert state["closed"], "cancel must close the generator (its finally blocks run)"
    assert state["made"] <= 2
    assert got["returned"] == [] and got["errored"] == []


def test_call_in_thread_returns_the_value(qtbot, collect):
    w = call_in_thread(lambda: 6 * 7)
    got = []
    w.returned.connect(got.append)
    w.start()
    qtbot.waitUntil(lambda: got == [42], timeout=5000)
    assert w.stop(1000)


def test_demo_pca_and_interpolation_follow_the_panel():
    """With the demo as source, the Perturb and Bias/BN choices still reach the engine."""
    from lossviz.state import DEFAULTS, recipe_from_state

    v = dict(DEFAULTS, method="pca", dir_type="states", ignore="none")
    dirs = recipe_from_state(v).directions
    assert (dirs.method, dirs.dir_type, dirs.xignore, dirs.yignore) == ("pca", "states", "none", "none")
    v = dict(DEFAULTS, method="target", dir_type="weights")
    recipe = recipe_from_state(v)
    dirs = recipe.directions
    assert dirs.method == "target" and dirs.dir_type == "weights" and dirs.param("checkpoint")
    assert recipe.grid.y is None
