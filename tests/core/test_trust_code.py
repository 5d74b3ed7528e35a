"""Code runs and data or weights download only when this command asked for them.

A file's word (a result's recipe, a run folder's run.json, a study, the study a figure
carries) never runs a Python file or downloads anything by itself: --allow-code and
--download / --pretrained on the command line do."""

from __future__ import annotations

import json
import shutil

import matplotlib
import numpy as np
import pytest

from lossviz_core import demo
from lossviz_core.cli import main
from lossviz_core.recipe.spec import (
    DatasetSpec,
    GridSpec,
    ModelSpec,
    Range,
    Recipe,
)
from lossviz_core.results.store import read_result, save_result
from lossviz_core.run.grid import make_result

matplotlib.use("Agg")


@pytest.fixture
def evil(tmp_path):
    """A Python file that leaves a mark when its code runs; its model fits the demo run."""
    mark = tmp_path / "ran"
    path = tmp_path / "evil.py"
    path.write_text(f"import pathlib\nMARK = pathlib.Path({str(mark)!r})\n"
                    "MARK.write_text('ran')\n"
                    "from lossviz_core.models import build_model\n"
                    "def make(num_classes=10):\n"
                    "    MARK.write_text('ran')\n"
                    "    return build_model('digits_cnn', num_classes)\n"
                    "def data(split):\n"
                    "    import torch\n"
                    "    MARK.write_text('ran')\n"
                    "    g = torch.Generator().manual_seed(0)\n"
                    "    return torch.randn(16, 1, 8, 8, generator=g), torch.arange(16) % 10\n")
    return path, mark


def error(capsys, argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("lossviz: error")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (argv, err)
    return lines[0]


def test_a_figure_runs_no_code_its_study_names_unasked(tmp_path, capsys, evil):
    """`lossviz study run fig.png` ran the Python file of the PNG's text chunk, unannounced."""
    import matplotlib.pyplot as plt

    from lossviz_core.figures import figure_metadata

    path, mark = evil
    text = (f'[models.m]\nmodel = "{path}:make"\nepochs = 1\nbatch_size = 8\n'
            f'dataset = {{ name = "{path}:data" }}\n')
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(tmp_path / "fig.png", metadata=figure_metadata(
        {"study": {"name": "evil", "file": None, "profile": None, "text": text}}, ".png"))
    plt.close(fig)
    line = error(capsys, ["study", "run", tmp_path / "fig.png", "--out", tmp_path / "out"])
    assert f"names code to run ({path})" in line and "--allow-code" in line
    assert not mark.exists()
    assert main(["study", "run", str(tmp_path / "fig.png"), "--out", str(tmp_path / "out"),
                 "--allow-code"]) == 0
    assert f"running code from {path}" in capsys.readouterr().err and mark.exists()


def test_a_run_folders_code_runs_only_with_allow_code(tmp_path, capsys, evil):
    """A run.json naming FILE.py:FUNC ran it under --run / --pca with only a notice."""
    path, mark = evil
    run = tmp_path / "run"
    shutil.copytree(demo.run_dir(), run)
    meta = json.loads((run / "run.json").read_text())
    out = ["--x=-1:1:3", "--y=-1:1:3", "--device", "cpu", "--out", tmp_path / "o.h5"]
    for key, value in (("model", {"name": f"{path}:make"}),
                       ("dataset", {"name": f"{path}:data"})):
        (run / "run.json").write_text(json.dumps({**meta, key: value}))
        for argv in (["surface", "--run", run, *out], ["surface", "--pca", run, *out],
                     ["curvature", "--run", run, "--out", tmp_path / "c.json"]):
            line = error(capsys, argv)
            assert f"run folder {run}" in line and f"({path})" in line and "--allow-code" \
                in line, line
            assert not mark.exists() and not (tmp_path / "o.h5").exists()
    (run / "run.json").write_text(json.dumps({**meta, "model": {"name": f"{path}:make"}}))
    assert main(["surface", "--run", str(run), "--allow-code", *map(str, out)]) == 0
    assert f"running code from {path}" in capsys.readouterr().err and mark.exists()
    # code named on this command line needs no --allow-code
    mark.unlink()
    assert main(["surface", "--model", f"{path}:make", "--checkpoint",
                 str(demo.final_checkpoint()), "--dataset", "digits", *map(str, out[:-1]),
                 str(tmp_path / "o2.h5")]) == 0
    assert mark.exists()


def _partial(path, recipe):
    """A result file of ``recipe`` with one point done, as a shared file might come."""
    result = make_result(recipe, specs={"recipe": recipe.to_dict()})
    result.apply_chunk(np.array([0]), {q: np.array([1.0]) for q in result.values})
    save_result(result, path)
    return path


def test_a_resume_downloads_nothing_the_file_asks_for(tmp_path, capsys, monkeypatch):
    """--resume of a file whose recipe said download: true or pretrained: DEFAULT tried to
    download; run folders strip the flag, result files did not."""
    from lossviz_core.data import cifar10

    fetched = []
    monkeypatch.setattr(cifar10, "_download_cifar10", lambda root: fetched.append(root))
    grid = GridSpec(Range(-1, 1, 3), Range(-1, 1, 3))
    data = _partial(tmp_path / "data.h5", Recipe(
        model=ModelSpec("resnet20"),
        dataset=DatasetSpec("cifar10", root=str(tmp_path / "cifar"), download=True), grid=grid))
    assert read_result(data).recipe.dataset.download  # the file says so
    line = error(capsys, ["surface", "--resume", "--out", data])
    assert "CIFAR-10 not found" in line and "--download" in line and fetched == []
    error(capsys, ["surface", "--resume", "--download", "--out", data])
    assert len(fetched) == 1  # asked on this command line: it downloads
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no cached weights
    weights = _partial(tmp_path / "weights.h5", Recipe(
        model=ModelSpec("torchvision:resnet18", pretrained="DEFAULT", download=True),
        dataset=DatasetSpec("digits"), grid=grid))
    line = error(capsys, ["surface", "--resume", "--out", weights])
    assert "pretrained weights DEFAULT of torchvision:resnet18 are not downloaded yet" in line
    assert "--pretrained" in line
    assert not (tmp_path / "torch").exists() or not any((tmp_path / "torch").rglob("*.pth"))


def test_a_study_downloads_only_with_download(tmp_path):
    from lossviz_core.studies import load_study, make_plan
    from lossviz_core.studies.runner import grid_recipe, train_spec

    (tmp_path / "s.toml").write_text(
        '[models.m]\nmodel = "resnet20"\ndataset = { name = "cifar10", download = true }\n'
        '[results.r]\nmodel = "resnet20"\ncheckpoint = "c.pt"\ndataset = "cifar10"\n'
        'download = true\npretrained = "DEFAULT"\n')
    (tmp_path / "c.pt").write_bytes(b"")
    plan = make_plan(load_study(tmp_path / "s.toml"), tmp_path / "out")
    for allowed in (False, True):
        plan.download = allowed
        recipe = grid_recipe(plan, plan.find("grid", "r"))
        assert recipe.dataset.download is allowed and recipe.model.download is allowed
        assert train_spec(plan, plan.find("train", "m")).dataset.download is allowed


def test_an_archive_a_file_names_is_code_too(tmp_path):
    """export:FILE.pt2 (and torchscript:) in a run.json or a recipe may unpickle code."""
    import argparse

    from lossviz_core.cli.gates import check_code_allowed
    from lossviz_core.errors import InputError

    for name in (f"export:{tmp_path / 'm.pt2'}", f"torchscript:{tmp_path / 'm.pt'}"):
        recipe = Recipe(model=ModelSpec(name))
        given = argparse.Namespace(model=None, dataset=None, loss="ce", run=str(tmp_path),
                                   pca=None, resume=False, allow_code=False)
        with pytest.raises(InputError, match="--allow-code"):
            check_code_allowed(recipe, given)
        check_code_allowed(recipe, argparse.Namespace(**{**vars(given), "allow_code": True}))
        check_code_allowed(recipe, argparse.Namespace(**{**vars(given), "model": name}))
