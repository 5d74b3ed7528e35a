"""Trust under faults: readers never stop a job, one writer per file, kills leave resumable
files that resume bit-equal, writes stay per chunk, nothing is replaced unasked."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from lossviz_core import demo
from lossviz_core.cli import main
from lossviz_core.recipe.spec import GridSpec, Range
from lossviz_core.results.store import SurfaceStore, read_decisions, read_result
from lossviz_core.run.grid import make_result

CLI = [sys.executable, "-m", "lossviz_core.cli"]
FIXED = ["--multi", "off", "--batch-size", "256", "--precision", "fp32",
         "--memory-format", "contiguous"]  # every decision a busy machine could change


def start(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def wait_for(predicate, timeout=60.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_readers_holding_and_polling_never_stop_the_job(tmp_path):
    out = tmp_path / "watched.h5"
    job = start("surface", "--demo", "--x=-1:1:31", "--y=-1:1:31", *FIXED, "--out", out)
    assert wait_for(out.exists), job.communicate()
    holder = subprocess.Popen([sys.executable, "-c",  # a notebook holding the file open
                               f"import h5py, time; f = h5py.File({str(out)!r}, 'r'); "
                               "time.sleep(60)"])
    reads, failures, ended, last = [], [], threading.Event(), []

    def poll():
        after_end = 0
        while after_end < 100:
            over = ended.is_set()  # taken before the read: a read after it saw the job's end
            got = None
            try:
                with h5py.File(out, "r") as f:  # a plain reader, HDF5's default locking
                    f["train_loss"][()]
                got = read_result(out)
                reads.append(got)
            except Exception as exc:  # noqa: BLE001 - counted, never fatal to the writer
                failures.append(exc)
            if over:
                after_end += 1
                if got is not None:  # the poller's own read of the finished file
                    last.append(got)
                    return
            time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        _, err = job.communicate(timeout=240)
    finally:
        ended.set()
        poller.join()
        holder.kill()
    assert job.returncode == 0, err
    assert len(reads) > 3
    assert last, f"no read succeeded after the job ended: {failures[-3:]}"
    seen = last[0]
    with h5py.File(out, "r") as f:  # the finished file, read independently of read_result
        done = f["lossviz/done"][()].astype(bool)
        stored = {q: f[q][()] for q in ("train_loss", "train_acc")}
    assert done.shape == (31, 31) and done.all()
    assert set(seen.values) == set(stored)
    for q, values in stored.items():
        assert np.isfinite(values).all()
        np.testing.assert_array_equal(seen.values[q], values)
    np.testing.assert_array_equal(seen.done, done)
    for r in reads:  # a reader never saw a point done without its value
        assert np.isfinite(r.values["train_loss"][r.done]).all()
    assert leftovers(tmp_path) == []


def test_a_second_writer_is_refused_at_once(tmp_path):
    out = tmp_path / "one.h5"
    first = start("surface", "--demo", "--x=-1:1:41", "--y=-1:1:41", *FIXED, "--out", out)
    lock = tmp_path / ".one.h5.lock"
    assert wait_for(lock.exists), first.communicate()
    second = subprocess.run([*CLI, "surface", "--demo", "--x=-1:1:5", "--y=-1:1:5", "--out",
                             str(out), "--overwrite"], capture_output=True, text=True)
    assert second.returncode == 2
    lines = [ln for ln in second.stderr.splitlines() if ln.startswith("lossviz: error")]
    assert len(lines) == 1 and "being written by another LossViz process" in lines[0]
    assert "Traceback" not in second.stderr
    assert first.poll() is None, "refused while the first one still runs"  # at once: no wait
    _, err = first.communicate(timeout=240)
    assert first.returncode == 0, err
    assert read_result(out).shape == (41, 41) and read_result(out).done.all()
    assert leftovers(tmp_path) == []


def test_sigkill_at_random_moments_then_resume_is_bit_equal(tmp_path):
    args = ["surface", "--demo", "--x=-1:1:25", "--y=-1:1:21", *FIXED]
    ref = subprocess.run([*CLI, *args, "--out", str(tmp_path / "ref.h5")], capture_output=True,
                         text=True)
    assert ref.returncode == 0, ref.stderr
    want = read_result(tmp_path / "ref.h5")
    rng = random.Random(12)
    for trial in range(3):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        out = folder / "cut.h5"
        job = start(*args, "--out", out)
        if trial == 0:  # a random moment of the start: importing, preparing, first chunk
            time.sleep(rng.uniform(0.3, 3.0))
        else:  # mid-run, after a random share of the points
            share = rng.uniform(0.05, 0.6)
            wait_for(lambda o=out, s=share: o.exists() and read_result(o).done.mean() > s, 120, 0.01)
        job.kill()
        job.communicate()
        assert job.returncode == -signal.SIGKILL, f"trial {trial} ended before the kill"
        if trial > 0:  # the kill hit a run with points saved and points still to do
            cut_done = read_result(out).done
            assert 0 < cut_done.sum() < cut_done.size, f"trial {trial} was not mid-run"
        if out.exists():
            cut = read_result(out)  # readable after any kill
            resumed = subprocess.run([*CLI, "surface", "--resume", "--out", str(out)],
                                     capture_output=True, text=True)
            assert resumed.returncode == 0, resumed.stderr
        else:  # killed before the file was made: start again, a stale temporary is cleaned
            cut = None
            again = subprocess.run([*CLI, *args, "--out", str(out)], capture_output=True,
                                   text=True)
            assert again.returncode == 0, again.stderr
        got = read_result(out)
        assert got.done.all()
        for q in want.values:
            np.testing.assert_array_equal(got.values[q], want.values[q])
        if cut is not None:
            np.testing.assert_array_equal(got.values["train_loss"][cut.done],
                                          cut.values["train_loss"][cut.done])
        assert leftovers(folder) == [], f"trial {trial} left {leftovers(folder)}"
        assert read_decisions(out)[-1]["batch_size"] == 256


def test_resume_computes_the_rest_as_the_file_says(tmp_path, capsys, monkeypatch,
                                                    cut_after_one_chunk):
    """No flags on resume: the file's batch and mode are used, not a new probe's."""
    out = tmp_path / "pinned.h5"
    cut_after_one_chunk()
    assert main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:7", "--batch-size", "100",
                 "--multi", "off", "--memory-format", "contiguous", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    cut = read_result(out)
    n = int(cut.done.sum())
    assert f"interrupted: {n}/63 points saved in {out}" in err
    monkeypatch.undo()
    assert main(["surface", "--resume", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "as the file's points were computed" in err and "batch 100" in err
    assert f"{n}/63" in err  # the progress bar starts where the file is
    full = tmp_path / "full.h5"
    # an uninterrupted run with the same pinned decisions (the memory format too: a busy
    # machine's probe may pick the other, which sums in another order)
    assert main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:7", "--batch-size", "100",
                 "--multi", "off", "--memory-format", "contiguous", "--out", str(full)]) == 0
    np.testing.assert_array_equal(read_result(out).values["train_loss"],
                                  read_result(full).values["train_loss"])
    # another precision than the file's is refused, in one line
    cut_after_one_chunk()
    other = tmp_path / "bf.h5"
    main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:7", "--precision", "bf16",
          "--out", str(other)])
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:7", "--precision", "fp32",
                 "--resume", "--out", str(other)]) == 2
    assert "computed in bf16" in capsys.readouterr().err


class Rows:
    """A fast stand-in evaluator: loss = flat index."""

    chunk_size = 64

    def __init__(self, nx):
        self.nx = nx

    def evaluate(self, coords):
        return {"train_loss": coords[:, 0] * 1000 + coords[:, 1],
                "train_acc": np.zeros(len(coords))}


def _written_bytes() -> int:
    with open("/proc/self/io") as f:
        return int(next(ln for ln in f if ln.startswith("wchar")).split()[1])


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc")
def test_a_chunk_writes_its_cells_only_and_the_file_never_grows(tmp_path):
    per_chunk, growth = {}, {}
    for n in (101, 1001):
        grid = GridSpec(Range(-1, 1, n), Range(-1, 1, n))
        result = make_result(grid)
        out = tmp_path / f"g{n}.h5"
        store = SurfaceStore.open(out, result)
        size0 = out.stat().st_size
        rng = np.random.default_rng(0)
        deltas = []
        for _ in range(20):
            idx = rng.choice(n * n, 64, replace=False)
            values = {"train_loss": rng.random(64), "train_acc": rng.random(64)}
            before = _written_bytes()
            store.write_chunk(idx, values)
            deltas.append(_written_bytes() - before)
        growth[n] = out.stat().st_size - size0
        per_chunk[n] = int(np.median(deltas))
        store.close()
        back = read_result(out)
        assert back.done.sum() <= 20 * 64 and np.isnan(back.values["train_loss"][~back.done]).all()
    assert growth == {101: 0, 1001: 0}
    assert per_chunk[1001] < 2 * per_chunk[101] + 4096, per_chunk
    assert per_chunk[1001] < 256 * 1024, per_chunk  # not the 8 MB a dataset holds


def test_a_partial_reference_file_resumes_to_the_full_surface(tmp_path, capsys):
    full = tmp_path / "full.h5"
    grid = ["--x=-1:1:5", "--y=-1:1:3", *FIXED]
    assert main(["surface", "--demo", *grid, "--out", str(full)]) == 0
    want = read_result(full)
    ref = tmp_path / "ref.h5"
    x, y = want.x, want.y
    with h5py.File(ref, "w") as f:  # the reference's layout: (nx, ny) declared, flat filled
        f["xcoordinates"], f["ycoordinates"] = x, y
        for q in ("train_loss", "train_acc"):
            flat = want.values[q].ravel().copy()
            flat[[1, 4, 7, 8, 13]] = -1  # not computed yet
            f[q] = flat.reshape(len(x), len(y))
    assert main(["surface", "--demo", *grid, "--resume", "--out", str(ref)]) == 0
    capsys.readouterr()
    got = read_result(ref)
    assert got.done.all()
    np.testing.assert_allclose(got.values["train_loss"], want.values["train_loss"], rtol=1e-12)
    # a file whose train_loss was deleted resumes by recomputing it, not by "completing"
    with h5py.File(full, "r+") as f:
        del f["train_loss"]
    assert main(["surface", "--demo", *grid, "--resume", "--out", str(full)]) == 0
    np.testing.assert_allclose(read_result(full).values["train_loss"], want.values["train_loss"],
                               rtol=1e-12)


def test_overwrite_replaces_only_a_complete_result(tmp_path, capsys, monkeypatch,
                                                   cut_after_one_chunk):
    out = tmp_path / "s.h5"
    args = ["surface", "--demo", "--x=-1:1:5", "--y=-1:1:5", "--out", str(out)]
    assert main(args) == 0
    old = read_result(out).values["train_loss"].copy()
    cut_after_one_chunk()
    assert main([*args, "--seed", "3", "--overwrite"]) == 130
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "kept as it was" in err and "s.partial.h5" in err
    np.testing.assert_array_equal(read_result(out).values["train_loss"], old)
    assert main([*args, "--seed", "3", "--overwrite"]) == 0
    assert not np.array_equal(read_result(out).values["train_loss"], old)
    assert not (tmp_path / "s.partial.h5").exists()


def test_errors_after_the_bar_start_a_line_of_their_own(tmp_path, capsys, monkeypatch):
    from lossviz_core.errors import StoreError
    from lossviz_core.run import grid

    real = grid.iter_surface

    def failing(*a, **k):
        gen = real(*a, **k)
        yield next(gen)
        raise StoreError("the disk went away")

    monkeypatch.setattr("lossviz_core.run.executor.iter_surface", failing)
    assert main(["surface", "--demo", "--x=-1:1:5", "--y=-1:1:5", "--out",
                 str(tmp_path / "e.h5")]) == 2
    err = capsys.readouterr().err
    assert "\nlossviz: error: the disk went away" in err


def test_sigterm_is_ctrl_c_and_sigint_at_start_up_is_one_line(tmp_path):
    out = tmp_path / "term.h5"
    job = start("surface", "--demo", "--x=-1:1:41", "--y=-1:1:41", *FIXED, "--out", out)
    assert wait_for(lambda: out.exists() and read_result(out).done.sum() > 0)
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 130 and "--resume" in err and "Traceback" not in err
    assert leftovers(tmp_path) == []
    # a shell's background job ignores SIGINT: give the child the default Ctrl-C back
    early = subprocess.Popen([sys.executable, "-m", "lossviz", "surface", "--demo", "--out",
                              str(tmp_path / "x.h5")], stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.8)  # importing torch still
    early.send_signal(signal.SIGINT)
    _, err = early.communicate(timeout=60)
    # 130 with one line; or, on a machine so slow that Python had not started, the signal's
    # plain default (no output at all)
    assert "Traceback" not in err and early.returncode in (130, -signal.SIGINT), err


def _crafted(tmp_path):
    """(argv, needle) for inputs that must be refused with one line."""
    ckpt = str(demo.final_checkpoint())
    rng = np.random.default_rng(0)
    np.save(tmp_path / "array.npy", np.zeros((4, 1, 8, 8)))
    np.savez(tmp_path / "text.npz", x=np.array(["a", "b"]), y=np.arange(2))
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (100_000, 1_000_000)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        z.writestr("x.npy", header.getvalue() + b"\0" * 16)
        y = io.BytesIO()
        np.save(y, np.arange(3))
        z.writestr("y.npy", y.getvalue())
    x = rng.normal(size=(8, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "biglabel.npz", x=x, y=np.array([0, 1, 2, 3, 4, 5, 6, 5_000_000]))
    np.savez(tmp_path / "giga.npz", x=x, y=np.array([0, 1, 2, 3, 4, 5, 6, 10**9]))
    (tmp_path / "net.py").write_text(  # sized by the labels when nothing else says
        "import torch\nfrom torch import nn\n"
        "def make(num_classes=10):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))\n"
        "def data(split):\n"
        "    x = torch.zeros(8, 1, 8, 8)\n"
        "    return (x, torch.tensor([0, 1, 2, 3, 4, 5, 6, 5_000_000])) if split == 'train' "
        "else None\n")
    run = tmp_path / "evil_run"
    run.mkdir()
    (run / "run.json").write_text('{"model": {"name": "digits_cnn"}, "dataset": {"name": '
                                  '"digits"}, "checkpoints": [{"epoch": 0, "file": '
                                  '"../../../../etc/passwd"}, {"epoch": 1, "file": "a.pt"}]}')
    (run / "a.pt").write_bytes(b"")
    host = Path("/etc/hostname")
    with h5py.File(tmp_path / "extern.h5", "w") as f:
        g = f.create_group("xdirection")
        g.create_dataset("0", shape=(4,), dtype="u1",
                         external=[(str(host), 0, 4)] if host.exists() else None)
    with h5py.File(tmp_path / "linked.h5", "w") as f:
        f["xdirection"] = h5py.ExternalLink(str(tmp_path / "extern.h5"), "/xdirection")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link.h5").symlink_to(tmp_path / "nowhere.h5")
    surf = ["surface", "--model", "digits_cnn", "--checkpoint", ckpt]
    own = ["surface", "--model", f"{tmp_path / 'net.py'}:make"]
    out = ["--out", str(tmp_path / "o.h5")]
    return [
        ([*surf, "--dataset", f"tensors:{tmp_path / 'array.npy'}", *out], ".npy array"),
        ([*surf, "--dataset", f"tensors:{tmp_path / 'text.npz'}", *out], "not numbers"),
        ([*surf, "--dataset", f"tensors:{tmp_path / 'huge.npz'}", *out], "declares shape"),
        ([*surf, "--dataset", f"tensors:{tmp_path / 'biglabel.npz'}", *out], "labels up to 5000000"),
        # no checkpoint: the class count would come from the labels
        ([*own, "--dataset", f"tensors:{tmp_path / 'biglabel.npz'}", *out],
         "has labels up to 5000000 but only 8 different ones, which would make a 5000001-way "
         "output layer; give the class count with --num-classes or a checkpoint"),
        ([*own, "--dataset", f"tensors:{tmp_path / 'giga.npz'}", *out],
         "has labels up to 1000000000 but only 8 different ones"),
        ([*own, "--dataset", f"{tmp_path / 'net.py'}:data", *out],
         "has labels up to 5000000 but only 8 different ones"),
        # training a model sized by the data: refused before it is built
        (["train", "--model", "digits_cnn", "--dataset", f"tensors:{tmp_path / 'giga.npz'}",
          "--epochs", "1", "--out", str(tmp_path / "run-giga")],
         "has labels up to 1000000000 but only 8 different ones"),
        # the class count given: labels beyond it are refused by the model's outputs
        ([*own, "--num-classes", "10", "--dataset", f"tensors:{tmp_path / 'giga.npz'}", *out],
         "has labels up to 1000000000 but model"),
        (["surface", "--pca", str(run), *out], "outside the run folder"),
        ([*surf, "--directions", str(tmp_path / "extern.h5"), *out], "another file"),
        ([*surf, "--directions", str(tmp_path / "linked.h5"), *out], "link to another file"),
        (["surface", "--demo", "--x=-1:1:1000000", "--y=-1:1:1000000", *out], "too large"),
        (["surface", "--demo", "--out", str(tmp_path / "pipe")], "FIFO"),
        (["info", str(tmp_path / "pipe")], "FIFO"),
        (["surface", "--demo", "--out", str(tmp_path / "link.h5")], "symbolic link"),
        (["surface", "--demo", "--out", "/dev/null"], "device"),
    ]


def test_crafted_inputs_get_one_line_each(tmp_path, capsys):
    for argv, needle in _crafted(tmp_path):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("lossviz: error")]
        assert code == 2 and len(lines) == 1 and needle in lines[0], (argv, err)
        assert "Traceback" not in err
        assert not (tmp_path / "o.h5").exists()


def test_a_shape_mismatch_names_both_shapes_in_one_line(tmp_path, capsys):
    from torch import nn

    rng = np.random.default_rng(0)
    gray = tmp_path / "gray.npz"
    np.savez(gray, x=rng.normal(size=(8, 1, 8, 8)).astype(np.float32), y=np.arange(8) % 4)
    rgb = tmp_path / "rgb.npz"
    np.savez(rgb, x=rng.normal(size=(8, 3, 8, 8)).astype(np.float32), y=np.arange(8) % 4)
    (tmp_path / "net.py").write_text(
        "from torch import nn\n"
        "def make(num_classes=10):\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(144, num_classes))\n")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(144, 4)).eval()
    batch = torch.export.Dim("batch", min=2)
    torch.export.save(torch.export.export(net, (torch.zeros(4, 1, 8, 8),),
                                          dynamic_shapes=({0: batch},)), tmp_path / "dyn.pt2")
    torch.export.save(torch.export.export(net, (torch.zeros(4, 1, 8, 8),)), tmp_path / "four.pt2")
    cases = [
        (f"{tmp_path / 'net.py'}:make", gray,
         ["whose examples have shape (1, 8, 8)", "first layer 0 (Conv2d) takes 3 input channels",
          "examples of shape (3, H, W)"], "fixed batch"),
        (f"export:{tmp_path / 'dyn.pt2'}", rgb,
         ["whose examples have shape (3, 8, 8)", "the exported program expects examples of "
          "shape (1, 8, 8)"], "fixed batch"),
        (f"export:{tmp_path / 'four.pt2'}", gray,
         ["whose examples have shape (1, 8, 8)", "exported with a fixed batch size of 4"],
         "expects examples"),
    ]
    for model, data, needles, absent in cases:
        code = main(["surface", "--model", model, "--dataset", f"tensors:{data}", "--x=-1:1:3",
                     "--y=-1:1:3", "--device", "cpu", "--out", str(tmp_path / "o.h5")])
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("lossviz: error")]
        assert code == 2 and len(lines) == 1, err
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])
        assert absent not in lines[0], lines[0]
        assert "Traceback" not in err
        assert not (tmp_path / "o.h5").exists()


def test_labels_that_skip_a_class_are_accepted(tmp_path, capsys):
    from lossviz_core.data import load_dataset
    from lossviz_core.recipe.spec import DatasetSpec

    digits = load_dataset(DatasetSpec("digits"))
    keep = digits.train.y != 9
    np.savez(tmp_path / "no9.npz", x=digits.train.x[keep].numpy(), y=digits.train.y[keep].numpy())
    code = main(["surface", "--model", "digits_cnn", "--checkpoint", str(demo.final_checkpoint()),
                 "--dataset", f"tensors:{tmp_path / 'no9.npz'}", "--x=-1:1:3", "--y=-1:1:3",
                 "--out", str(tmp_path / "no9.h5")])
    assert code == 0, capsys.readouterr().err


def test_nothing_is_replaced_unasked(tmp_path, capsys):
    out = tmp_path / "done.h5"
    base = ["surface", "--demo", "--x=-1:1:3", "--y=-1:1:3"]
    assert main([*base, "--out", str(out), "--plot", str(tmp_path / "fig.png")]) == 0
    before = out.read_bytes()
    fig = (tmp_path / "fig.png").read_bytes()
    other = tmp_path / "other.h5"
    capsys.readouterr()
    assert main([*base, "--out", str(other), "--save-directions", str(out)]) == 2
    assert main([*base, "--out", str(other), "--plot", str(tmp_path / "fig.png")]) == 2
    assert main(["plot", str(out), "--out", str(tmp_path / "fig.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("already exists") == 3
    assert out.read_bytes() == before and (tmp_path / "fig.png").read_bytes() == fig
    assert main(["plot", str(out), "--out", str(tmp_path / "fig.png"), "--overwrite"]) == 0


def test_a_read_only_folder_is_one_line(tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root may write anyway: the folder answers as it would to a user
        from lossviz_core.results import paths

        real = os.access
        monkeypatch.setattr(paths.os, "access", lambda p, mode, **k: False if (
            Path(p) == ro and mode & os.W_OK) else real(p, mode, **k))
    try:
        assert main(["surface", "--demo", "--out", str(ro / "x.h5")]) == 2
        err = capsys.readouterr().err
        assert "read-only" in err and "Traceback" not in err and not (ro / "x.h5").exists()
    finally:
        ro.chmod(0o755)


def test_numpy_1_checkpoints_load(tmp_path):
    """Metadata pickled under numpy 1.x names numpy.core.multiarray.scalar: plain data."""
    import zipfile

    from lossviz_core.sources.checkpoints import load_checkpoint

    path = tmp_path / "new.pt"
    state = {k: v.clone() for k, v in torch.load(demo.final_checkpoint())["state_dict"].items()}
    torch.save({"state_dict": state, "acc": np.float64(97.5), "epoch": np.int64(30)}, path)
    old = tmp_path / "old.pt"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(old, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("data.pkl"):
                assert b"numpy._core.multiarray" in data
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            zout.writestr(item, data)
    loaded, meta = load_checkpoint(old)
    assert float(meta["acc"]) == 97.5 and int(meta["epoch"]) == 30
    assert torch.equal(loaded["conv1.weight"], state["conv1.weight"])


def test_a_plan_far_slower_than_probed_is_replaced_and_recorded(tmp_path, capsys, monkeypatch):
    import lossviz_core.evaluation.evaluate as ev_mod

    calls = []

    def probe(option, *args, **kwargs):
        calls.append(option)
        if len(calls) == 1:  # a probe fooled by a load spike: multi-point, far too optimistic
            return True, 4, 1e-12
        return False, 1, 1e-3  # then a sober one (slower than the demo really is: it stands)

    monkeypatch.setattr(ev_mod.planner, "REPLAN_SECONDS", 0.0)
    monkeypatch.setattr(ev_mod.mp, "probe_multi", probe)
    out = tmp_path / "replanned.h5"
    assert main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:9", "--out", str(out)]) == 0
    assert "changed plan mid-run" in capsys.readouterr().err
    plans = read_decisions(out)
    assert [p["mode"] for p in plans] == ["multi", "single"] and len(calls) == 2
    with h5py.File(out, "r") as f:
        ids = set(np.unique(f["lossviz/plan"][()]).tolist())
    assert ids == {0, 1}  # each point says which plan computed it
    monkeypatch.undo()
    ref = tmp_path / "ref.h5"
    assert main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:9", "--multi", "off", "--out",
                 str(ref)]) == 0
    np.testing.assert_allclose(read_result(out).values["train_loss"],
                               read_result(ref).values["train_loss"], rtol=1e-5)


def test_a_full_disk_mid_run_is_one_line_and_resume_completes(tmp_path, capsys, monkeypatch):
    import errno

    from lossviz_core.results import store as store_module

    out = tmp_path / "full.h5"
    real = store_module._write_cells
    calls = {"n": 0, "fail_from": None}

    def filling_up(dset, idx, values):
        calls["n"] += 1
        if calls["fail_from"] is not None and calls["n"] >= calls["fail_from"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(dset, idx, values)

    monkeypatch.setattr(store_module, "_write_cells", filling_up)
    real_write = store_module.SurfaceStore.write_chunk

    def write_chunk(self, indices, values, plan=0):
        if self.written and calls["fail_from"] is None:  # the disk fills after the first chunk
            calls["fail_from"] = calls["n"] + 2  # partway through this chunk's arrays
        return real_write(self, indices, values, plan)

    monkeypatch.setattr(store_module.SurfaceStore, "write_chunk", write_chunk)
    argv = ["surface", "--demo", "--x=-1:1:9", "--y=-1:1:9", *FIXED, "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("lossviz: error")]
    assert len(lines) == 1 and "No space left" in lines[0] and "--resume" in lines[0]
    assert "Traceback" not in err
    cut = read_result(out)
    kept = int(cut.done.sum())
    assert 0 < kept < cut.done.size and np.isfinite(cut.values["train_loss"][cut.done]).all()
    monkeypatch.setattr(store_module, "_write_cells", real)  # space again
    monkeypatch.setattr(store_module.SurfaceStore, "write_chunk", real_write)
    assert main(["surface", "--resume", "--out", str(out)]) == 0
    done = read_result(out)
    assert done.done.all()
    np.testing.assert_array_equal(done.values["train_loss"][cut.done],
                                  cut.values["train_loss"][cut.done])


def test_the_command_line_loads_no_compiler_it_does_not_use(tmp_path):
    """`lossviz surface --demo` on a CPU: neither torch._dynamo nor triton (nor torchvision,
    which pulls dynamo in) is imported; together they cost over a second of start-up."""
    code = ("import sys\nfrom lossviz_core.cli import main\n"
            f"rc = main(['surface', '--demo', '--x=-1:1:3', '--y=-1:1:3', "
            f"'--out', {str(tmp_path / 'd.h5')!r}])\n"
            "print(rc, *(m in sys.modules for m in ('torch._dynamo', 'triton', 'torchvision')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.stdout.split() == ["0", "False", "False", "False"], done.stderr


def test_a_second_ctrl_c_during_cleanup_still_leaves_a_resumable_file(tmp_path):
    out = tmp_path / "twice.h5"
    job = start("surface", "--demo", "--x=-1:1:41", "--y=-1:1:41", *FIXED, "--out", out,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert wait_for(lambda: out.exists() and read_result(out).done.sum() > 0)
    job.send_signal(signal.SIGINT)
    time.sleep(0.05)
    job.send_signal(signal.SIGINT)  # impatient: the cleanup must not be broken by it
    _, err = job.communicate(timeout=60)
    assert job.returncode == 130 and "--resume" in err and "Traceback" not in err
    kept = read_result(out)
    assert 0 < kept.done.sum() < kept.done.size
    assert main(["surface", "--resume", "--out", str(out)]) == 0
    assert read_result(out).done.all() and leftovers(tmp_path) == []


def test_a_run_folders_dataset_never_downloads_unless_this_command_asks(tmp_path):
    import json
    import shutil

    from lossviz_core.resolve import resolve

    run = tmp_path / "run"
    shutil.copytree(demo.run_dir(), run)
    info = json.loads((run / "run.json").read_text())
    info["dataset"] = {**info["dataset"], "download": True}  # as a shared run might say
    (run / "run.json").write_text(json.dumps(info))
    assert resolve({"pca": str(run)}).dataset.download is False
    assert resolve({"pca": str(run), "download": True}).dataset.download is True


def test_a_stale_temporary_of_a_killed_writer_is_cleaned_and_the_run_goes_on(tmp_path):
    out = tmp_path / "s.h5"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that no longer runs, as a killed writer's
    stale = tmp_path / f".{out.name}.{dead.pid}.tmp"
    stale.write_bytes(b"half an HDF5 file")
    mine = tmp_path / f".{out.name}.{os.getpid()}.tmp.keep"  # not a writer's: left alone
    mine.write_bytes(b"x")
    assert main(["surface", "--demo", "--x=-1:1:3", "--y=-1:1:3", *FIXED, "--out",
                 str(out)]) == 0
    assert read_result(out).done.all()
    assert not stale.exists() and mine.exists()


def test_a_plan_the_probe_confirms_is_not_probed_again_and_again(tmp_path, capsys,
                                                                 monkeypatch):
    import lossviz_core.evaluation.evaluate as ev_mod

    calls = []

    def probe(option, *args, **kwargs):
        calls.append(option)
        return False, 1, 1e-12  # always the same plan, always far too optimistic

    monkeypatch.setattr(ev_mod.planner, "REPLAN_SECONDS", 0.0)
    monkeypatch.setattr(ev_mod.mp, "probe_multi", probe)
    out = tmp_path / "stands.h5"
    assert main(["surface", "--demo", "--x=-1:1:15", "--y=-1:1:15", "--out", str(out)]) == 0
    assert "changed plan" not in capsys.readouterr().err
    # the start-up probe, one check that confirms the plan, then its measured cost is the
    # reference: no probe per chunk for the rest of the grid
    assert len(calls) == 2 and [p["mode"] for p in read_decisions(out)] == ["single"]
