"""Crafted or corrupt files: one line in the file's terms, no hang, no crash, no huge read."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tracemalloc

import h5py
import numpy as np
import pytest
import torch

from lossviz_core import demo
from lossviz_core.cli import main
from lossviz_core.errors import LossVizError
from lossviz_core.results.store import read_result

CLI = [sys.executable, "-m", "lossviz_core.cli"]
SMALL = ["--x=-1:1:3", "--y=-1:1:3", "--device", "cpu"]


def one_line(capsys, argv, code=2):
    """Run the CLI in this process: the exit code and its one error line."""
    got = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("lossviz: error")]
    assert got == code and len(lines) == 1, (argv, err)
    assert "Traceback" not in err and "LOSSVIZ_DEBUG" not in err, err  # not a raw exception
    return lines[0]


@pytest.fixture(scope="module")
def surface(tmp_path_factory):
    out = tmp_path_factory.mktemp("surface") / "s.h5"
    assert main(["surface", "--demo", "--x=-1:1:5", "--y=-1:1:5", "--out", str(out)]) == 0
    return out


def copy(surface, tmp_path, name="c.h5"):
    return shutil.copy(surface, tmp_path / name)


def test_a_hard_link_cycle_is_read_in_bounded_time(surface, tmp_path):
    """It hung info, plot, --resume and --directions at 100 % CPU (651 s seen)."""
    cyc = copy(surface, tmp_path)
    with h5py.File(cyc, "a") as f:
        f["lossviz/loop"] = f["lossviz"]  # a group holding its own parent
    with h5py.File(tmp_path / "dirs.h5", "w") as f:
        f.create_group("xdirection")["0"] = np.zeros(3)
        f.create_group("lossviz")["loop"] = f["/"]
    info = subprocess.run([*CLI, "info", cyc], capture_output=True, text=True, timeout=120)
    assert info.returncode == 0 and "5x5 points" in info.stdout, info.stderr
    assert read_result(cyc).done.all()
    ckpt = demo.final_checkpoint()
    direct = subprocess.run([*CLI, "surface", "--model", "digits_cnn", "--checkpoint", ckpt,
                             "--directions", tmp_path / "dirs.h5", *SMALL, "--out",
                             tmp_path / "o.h5"], capture_output=True, text=True, timeout=300)
    assert direct.returncode == 2 and "does not fit the model" in direct.stderr, direct.stderr


def _compressed(f, name, shape, **kw):
    """A dataset declaring ``shape`` whose zeros compress to almost nothing."""
    return f.create_dataset(name, shape=shape, dtype="f8", chunks=(min(shape[0], 4096),)
                            + shape[1:], compression="gzip", fillvalue=0.0, **kw)


def test_declared_sizes_are_checked_before_anything_is_read(surface, tmp_path, capsys):
    """A 286 KB result drove info to 6.5 GB; a 1 MB direction file to 1.7 GB."""
    cases = []
    big_axis = copy(surface, tmp_path, "axis.h5")
    with h5py.File(big_axis, "a") as f:
        del f["xcoordinates"]
        _compressed(f, "xcoordinates", (400_000_000,))
    cases.append((big_axis, "declares 4e+08 values"))
    big_value = copy(surface, tmp_path, "value.h5")
    with h5py.File(big_value, "a") as f:
        del f["train_loss"]
        _compressed(f, "train_loss", (20_000, 10_000))
    cases.append((big_value, "'train_loss' holds 200000000 values but the coordinates make a "
                              "5x5 grid"))
    wide = copy(surface, tmp_path, "wide.h5")
    with h5py.File(wide, "a") as f:
        for axis in ("xcoordinates", "ycoordinates"):
            del f[axis]
            f[axis] = np.linspace(-1, 1, 20_000)
    cases.append((wide, "20000x20000 grid, over the 5e+07 points"))
    from lossviz_core.directions.hdf5 import load_directions
    from lossviz_core.recipe.spec import ModelSpec
    from lossviz_core.sources import load_model

    model = load_model(ModelSpec("digits_cnn", str(demo.final_checkpoint())), 10).model
    first = next(model.parameters())
    with h5py.File(tmp_path / "d.h5", "w") as f:
        _compressed(f.create_group("xdirection"), "0", (50_000_000,) + tuple(first.shape[1:]))
    for path, needle in cases:
        tracemalloc.start()
        with pytest.raises(LossVizError) as err:
            read_result(path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert needle in str(err.value) and peak < 20 * 2**20, (path.name, peak, err.value)
    tracemalloc.start()
    with pytest.raises(LossVizError) as err:
        load_directions(tmp_path / "d.h5", model)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "does not fit the model" in str(err.value) and peak < 20 * 2**20, peak
    line = one_line(capsys, ["info", big_value])
    assert "holds 200000000 values" in line


def test_malformed_metadata_is_one_line_in_the_files_terms(surface, tmp_path, capsys):
    """A specs attribute holding a JSON list left the window on "Reading…" and the CLI said
    "AttributeError: 'list' object has no attribute 'get'"."""
    as_list = copy(surface, tmp_path, "list.h5")
    with h5py.File(as_list, "a") as f:
        f["lossviz"].attrs["specs"] = "[1, 2]"
    assert "stored specs are a JSON list" in one_line(capsys, ["info", as_list])
    assert "stored specs are a JSON list" in one_line(capsys, ["plot", as_list, "--out",
                                                               tmp_path / "f.png"])
    cut = copy(surface, tmp_path, "cut.h5")
    with h5py.File(cut, "a") as f:
        specs = json.loads(f["lossviz"].attrs["specs"])
        specs["recipe"]["model"]["name"] = 5
        specs["recipe"]["grid"]["x"]["num"] = "five"
        f["lossviz"].attrs["specs"] = json.dumps(specs)
        f["lossviz/done"][0, 0] = 0
    line = one_line(capsys, ["surface", "--resume", "--out", cut])
    assert "its stored recipe is malformed: recipe.model.name: expected a string, got a " \
           "number 5" in line
    with h5py.File(cut, "a") as f:
        specs["recipe"]["model"]["name"] = "digits_cnn"
        f["lossviz"].attrs["specs"] = json.dumps(specs)
        f["lossviz"].attrs["plans"] = '{"not": "a list"}'
    assert "recipe.grid.x.num: expected a whole number, got a string" in one_line(
        capsys, ["surface", "--resume", "--out", cut])
    for trajectory in ({"x": np.zeros(3)}, {"epochs": np.arange(3), "x": np.zeros(3),
                                            "y": np.zeros(2)}):
        bad = copy(surface, tmp_path, "traj.h5")
        with h5py.File(bad, "a") as f:
            for k, v in trajectory.items():
                f[f"lossviz/trajectory/{k}"] = v
        assert "stored trajectory" in one_line(capsys, ["info", bad])


def test_a_malformed_run_folder_is_one_line(tmp_path, capsys):
    """run.json as a list, bad entries, and 200,000 checkpoints (--pca ran for minutes)."""
    run = tmp_path / "run"
    shutil.copytree(demo.run_dir(), run)
    meta = json.loads((run / "run.json").read_text())
    cases = [
        ([1, 2, 3], "expected an object with a list of checkpoints"),
        ({**meta, "checkpoints": [[0, "model_0.pt"]]}, 'not {"epoch": N, "file": NAME}'),
        ({**meta, "checkpoints": [{"epoch": "zero", "file": "model_0.pt"}]}, "not a whole "
                                                                              "number"),
        ({**meta, "dataset": "digits"}, "dataset is not an object"),
        ({**meta, "dataset": {"name": "digits", "subsample": "all"}}, "run.json: dataset."
                                                                      "subsample: expected a "
                                                                      "whole number"),
        ({**meta, "checkpoints": [{"epoch": i, "file": "model_0.pt"} for i in range(200_000)]},
         "lists 200000 checkpoints; LossViz reads at most 10000"),
    ]
    for content, needle in cases:
        (run / "run.json").write_text(json.dumps(content))
        assert needle in one_line(capsys, ["surface", "--pca", run, "--out", tmp_path / "o.h5"])
        assert not (tmp_path / "o.h5").exists()


def test_complex_directions_and_an_archive_as_checkpoint_are_refused(tmp_path, capsys):
    from lossviz_core.directions.weights import weights_of
    from lossviz_core.recipe.spec import ModelSpec
    from lossviz_core.sources import load_model

    ckpt = demo.final_checkpoint()
    model = load_model(ModelSpec("digits_cnn", str(ckpt)), 10).model
    with h5py.File(tmp_path / "c.h5", "w") as f:
        g = f.create_group("xdirection")
        for i, w in enumerate(weights_of(model, "weights")):
            g[str(i)] = np.zeros(tuple(w.shape), dtype=np.complex64)
    line = one_line(capsys, ["surface", "--model", "digits_cnn", "--checkpoint", ckpt,
                             "--directions", tmp_path / "c.h5", *SMALL, "--out",
                             tmp_path / "o.h5"])
    assert "xdirection/0 holds complex numbers, not real numbers" in line
    script = torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)))
    script.save(str(tmp_path / "ts.pt"))
    done = subprocess.run([*CLI, "surface", "--model", "digits_cnn", "--checkpoint",
                           tmp_path / "ts.pt", *SMALL, "--out", tmp_path / "o.h5"],
                          capture_output=True, text=True, timeout=300)
    noise = [ln for ln in done.stderr.splitlines() if not ln.startswith("lossviz:")]
    assert done.returncode == 2 and noise == [], done.stderr  # no torch warnings first
    assert f"--model torchscript:{tmp_path / 'ts.pt'}" in done.stderr


def test_a_reader_in_the_same_process_never_stops_the_writer(tmp_path):
    """The README's notebook pattern: an h5py.File(out, "r") held in the process running
    job.iter(out=...) broke the writer ("file is already open for read-only"), and
    read_result failed while it was open ("file locking flag values don't match")."""
    from lossviz_core.recipe.spec import GridSpec, Range
    from lossviz_core.run.job import prepare

    out = tmp_path / "nb.h5"
    recipe = demo.recipe("surface")
    job = prepare(recipe.replace(grid=GridSpec(Range(-1, 1, 9), Range(-1, 1, 9))))
    gen = job.iter(out=out)
    first = next(gen)
    with h5py.File(out, "r") as f:  # HDF5's default locking, as a notebook opens it
        assert read_result(out).done.sum() == len(first.indices)
        for _ in gen:
            pass
        assert f["lossviz/done"][()].all()  # the held handle sees the finished file
    got = read_result(out)
    assert got.done.all()
    np.testing.assert_array_equal(got.values["train_loss"], job.result.values["train_loss"])


def _hostile_results(surface, tmp_path):
    def edit(name, change):
        path = copy(surface, tmp_path, name)
        with h5py.File(path, "a") as f:
            change(f)
        return path

    def replace(key, value):
        def change(f):
            del f[key]
            f[key] = value
        return change

    (tmp_path / "junk.h5").write_bytes(bytes(range(256)) * 20)
    return [tmp_path / "junk.h5",
            edit("xstr.h5", replace("xcoordinates", np.array([b"a", b"b"]))),
            edit("qstr.h5", replace("train_loss", np.array([b"x"] * 25).reshape(5, 5))),
            edit("donegroup.h5", lambda f: (f["lossviz"].__delitem__("done"),
                                            f["lossviz"].create_group("done"))),
            edit("specsint.h5", lambda f: f["lossviz"].attrs.__setitem__("specs", 5)),
            edit("oldspecs.h5", lambda f: f["lossviz"].attrs.__setitem__(
                "specs", json.dumps({"model": 5, "surface": [1]}))),
            edit("lossvizds.h5", replace("lossviz", np.zeros(3))),
            edit("trajtext.h5", lambda f: f.create_group("lossviz/trajectory").create_dataset(
                "epochs", data=np.array([b"a"])))]


def test_hostile_files_are_never_a_raw_exception(surface, tmp_path, capsys):
    """"AttributeError: 'list' object has no attribute 'get'" and its kind: every refusal says
    what is wrong in the file's terms (no "LOSSVIZ_DEBUG=1 shows details" line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lossviz_core.figures import SPECS_KEY

    argvs = []
    for path in _hostile_results(surface, tmp_path):
        argvs += [["info", path], ["plot", path, "--out", tmp_path / "f.png"],
                  ["surface", "--resume", "--out", path]]
    for name, text in {"badjson": "{", "studyint": json.dumps({"study": 5}),
                       "textint": json.dumps({"study": {"text": 5}}),
                       "list": "[1]"}.items():
        fig = plt.figure(figsize=(1, 1))
        fig.savefig(tmp_path / f"{name}.png", metadata={SPECS_KEY: text})
        plt.close(fig)
        argvs.append(["study", "run", tmp_path / f"{name}.png", "--dry-run"])
    for argv in argvs:
        code = main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert code in (0, 2) and "LOSSVIZ_DEBUG" not in err and "Traceback" not in err, \
            (argv, err)
