"""Inputs refused with one line each (crafted files, absurd labels, shapes, outputs that
are not plain files), nothing replaced unasked, old checkpoints that still load, a run
folder's dataset that never downloads by itself."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch

from lossviz_core import demo
from lossviz_core.cli import main


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
