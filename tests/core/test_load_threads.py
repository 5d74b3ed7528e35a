"""``threads_for_load``: torch's CPU threads follow the cores the machine's load leaves free,
and every long-running command (surface, train, ...) applies it."""

from __future__ import annotations

import os

import pytest
import torch

from lossviz_core import device
from lossviz_core.cli import main


@pytest.fixture(autouse=True)
def keep_torch_threads(monkeypatch):
    """Each test sets torch's thread count; the one the session had comes back after."""
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(before)


def machine(monkeypatch, cores, load):
    """A machine of ``cores`` CPUs whose 1-minute load average is ``load`` (an exception:
    a system without load averages)."""
    monkeypatch.setattr(os, "cpu_count", lambda: cores)

    def getloadavg():
        if isinstance(load, Exception):
            raise load
        return (load, load, load)

    monkeypatch.setattr(os, "getloadavg", getloadavg)


@pytest.mark.parametrize(("cores", "load", "want"), [
    (4, 0.0, 4),    # an idle machine: every core
    (4, 1.2, 3),    # one core taken by someone else
    (8, 2.6, 5),    # round(5.4)
    (8, 2.4, 6),    # round(5.6)
    (2, 10.0, 1),   # oversubscribed: one thread, never zero
    (2, 2.0, 1),
    (6, OSError("no load average"), 6),  # unknown load: treated as idle
    (None, 0.0, 1),  # os.cpu_count() unknown: one core
])
def test_threads_follow_the_free_cores(monkeypatch, cores, load, want):
    machine(monkeypatch, cores, load)
    torch.set_num_threads(3 if want != 3 else 2)  # not already the answer
    n, why = device.threads_for_load()
    assert n == want
    assert torch.get_num_threads() == want
    shown = 0.0 if isinstance(load, Exception) else load
    assert why == f"{want} of {cores or 1} CPU threads, load average {shown:.1f}"


def test_explicit_cores_and_load_win_over_the_machine(monkeypatch):
    machine(monkeypatch, 16, 15.0)
    n, why = device.threads_for_load(cores=4, load=1.0)
    assert (n, torch.get_num_threads()) == (3, 3)
    assert why == "3 of 4 CPU threads, load average 1.0"
    n, _ = device.threads_for_load(cores=4)  # the machine's load, the given cores
    assert (n, torch.get_num_threads()) == (1, 1)


def test_omp_num_threads_set_by_the_user_is_left_alone(monkeypatch):
    machine(monkeypatch, 8, 7.0)  # the load rule alone would give 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    torch.set_num_threads(2)
    n, why = device.threads_for_load()
    assert (n, torch.get_num_threads()) == (2, 2)
    assert why == "2 threads (OMP_NUM_THREADS)"


@pytest.mark.parametrize("command", ["surface", "train"])
def test_commands_set_the_threads_the_load_leaves(tmp_path, capsys, monkeypatch, command):
    machine(monkeypatch, 4, 3.0)
    torch.set_num_threads(2)
    if command == "surface":
        argv = ["surface", "--demo", "--x=-1:1:3", "--y=-1:1:3", "--device", "cpu",
                "--out", str(tmp_path / "s.h5")]
    else:
        argv = ["train", "--model", "digits_cnn", "--dataset", "digits", "--subsample", "64",
                "--epochs", "1", "--batch-size", "32", "--device", "cpu",
                "--out", str(tmp_path / "run")]
    assert main(argv) == 0, capsys.readouterr().err
    assert torch.get_num_threads() == 1
    assert "1 of 4 CPU threads, load average 3.0" in capsys.readouterr().err
