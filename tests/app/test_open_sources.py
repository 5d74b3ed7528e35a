"""The window opens any model and data, with the CLI's recipe for the same choices, and
*Open result* puts a file's recipe into the panels (and resumes an incomplete file)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import COMPUTE_MS
from lossviz import dialogs
from lossviz.state import DEFAULTS, recipe_from_state, state_from_recipe

from lossviz_core import demo
from lossviz_core.cli import build_parser, main, recipe_from_args
from lossviz_core.directions import save_directions
from lossviz_core.results.store import read_result

SEQ_MODEL = '''
import torch
from torch import nn


def make(num_classes=4):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(2, 4, 5), nn.ReLU(), nn.Flatten(), nn.Linear(64, num_classes))
'''
SEQ_DATA = '''
import torch


def sequences(split):
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    x = torch.randn(48, 2, 20, generator=g)
    return x, (x[:, 0].sum(1) > 0).long() + 2 * (x[:, 1].sum(1) > 0).long()
'''


@pytest.fixture
def files(tmp_path):
    """Every kind of file a choice can name."""
    f = {"ckpt": str(demo.final_checkpoint()), "small": str(demo.pair()[0]),
         "large": str(demo.pair()[1]), "run": str(demo.run_dir())}
    (tmp_path / "m.py").write_text(SEQ_MODEL)
    (tmp_path / "d.py").write_text(SEQ_DATA)
    np.savez(tmp_path / "t.npz", x=np.zeros((4, 3, 32, 32), np.float32), y=np.arange(4))
    (tmp_path / "imgs" / "a").mkdir(parents=True)
    (tmp_path / "cnn.jit").write_bytes(b"an archive")
    from lossviz_core.directions import make_directions
    from lossviz_core.models import build_model
    from lossviz_core.recipe.spec import DirectionSpec

    dirs = make_directions(build_model("digits_cnn"), DirectionSpec(seed=4), two_d=True)
    save_directions(tmp_path / "dirs.h5", dirs)
    f.update(model=str(tmp_path / "m.py"), data=str(tmp_path / "d.py"),
             npz=str(tmp_path / "t.npz"), imgs=str(tmp_path / "imgs"),
             archive=str(tmp_path / "cnn.jit"), dirs=str(tmp_path / "dirs.h5"),
             root=str(tmp_path / "tv"))
    return f


R75 = {"xmin": -1.0, "xmax": 1.0, "xnum": 7, "ymin": -0.5, "ymax": 0.5, "ynum": 5}
CASES = {
    "demo random plane": (["surface", "--demo", "--x=-1:1:7", "--y=-0.5:0.5:5"], {}),
    "demo PCA plane": (["surface", "--demo", "--method", "pca", "--x=-1:1:7", "--y=-0.5:0.5:5"],
                       {"method": "pca", "fit_ranges": False}),
    "PCA plane fitted": (["surface", "--pca", "{run}", "--fit-ranges", "--x=-1:1:7",
                          "--y=-0.5:0.5:5"], {"source": "run", "run_dir": "{run}",
                                              "method": "pca", "fit_ranges": True}),
    "convexity map": (["surface", "--demo", "--measure", "curvature", "--x=-1:1:7",
                       "--y=-0.5:0.5:5"], {"measure_curvature": True}),
    "Hessian plane": (["surface", "--demo", "--method", "hessian", "--x=-1:1:7",
                       "--y=-0.5:0.5:5"], {"method": "hessian"}),
    "Hessian-random plane": (["surface", "--demo", "--method", "hessian-random",
                                "--x=-1:1:7", "--y=-0.5:0.5:5"], {"method": "hessian-random"}),
    "Hessian line": (["line", "--demo", "--method", "hessian", "--x=-1:1:7"],
                     {"method": "hessian1d"}),
    "demo interpolation": (["line", "--demo", "--x=-1:1:7", "--split", "both"],
                           {"method": "target", "split": "both"}),
    "demo 1-D random": (["line", "--demo", "--method", "random", "--x=-1:1:7", "--seed", "2"],
                        {"method": "random1d", "seed": 2}),
    "zoo + checkpoint": (["surface", "--model", "digits_cnn", "--checkpoint", "{ckpt}",
                          "--dataset", "digits", "--xnorm", "layer", "--xignore", "none",
                          "--seed", "3", "--x=-1:1:7", "--y=-0.5:0.5:5", "--split", "test"],
                         {"source": "zoo", "checkpoint": "{ckpt}", "norm": "layer",
                          "ignore": "none", "seed": 3, "split": "test"}),
    "run folder PCA": (["surface", "--pca", "{run}", "--x=-1:1:7", "--y=-0.5:0.5:5"],
                       {"source": "run", "run_dir": "{run}", "method": "pca",
                        "fit_ranges": False}),
    "run folder random": (["surface", "--run", "{run}", "--x=-1:1:7", "--y=-0.5:0.5:5"],
                          {"source": "run", "run_dir": "{run}"}),
    "interpolation A → B": (["line", "--model", "digits_cnn", "--checkpoint", "{small}",
                             "--checkpoint2", "{large}", "--split", "both", "--x=-1:1:7"],
                            {"source": "zoo", "checkpoint": "{small}", "method": "target",
                             "checkpoint2": "{large}", "split": "both"}),
    "interpolation, weights": (["line", "--model", "digits_cnn", "--checkpoint", "{small}",
                                "--checkpoint2", "{large}", "--dir-type", "weights",
                                "--x=-1:1:7"],
                               {"source": "zoo", "checkpoint": "{small}", "method": "target",
                                "checkpoint2": "{large}", "dir_type": "weights"}),
    "torchvision + tensors": (["surface", "--model", "torchvision:resnet18", "--checkpoint",
                               "{ckpt}", "--dataset", "tensors:{npz}", "--x=-1:1:7",
                               "--y=-0.5:0.5:5", "--output", "0"],
                              {"source": "torchvision", "tv_model": "resnet18",
                               "checkpoint": "{ckpt}", "dataset": "tensors",
                               "tensors_file": "{npz}", "output": "0"}),
    "python files": (["surface", "--model", "{model}:make", "--dataset", "{data}:sequences",
                      "--x=-1:1:7", "--y=-0.5:0.5:5", "--loss", "nll"],
                     {"source": "pyfile", "model_file": "{model}", "model_function": "make",
                      "dataset": "pyfile", "data_file": "{data}", "data_function": "sequences",
                      "loss": "nll"}),
    "archive + image folder": (["surface", "--model", "{archive}", "--dataset",
                                "imagefolder:{imgs}", "--transform", "none", "--x=-1:1:7",
                                "--y=-0.5:0.5:5"],
                               {"source": "archive", "archive": "{archive}",
                                "dataset": "imagefolder", "image_folder": "{imgs}",
                                "transform": "none"}),
    "torchvision dataset": (["surface", "--model", "timm:resnet18", "--pretrained",
                             "--dataset", "torchvision:CIFAR10", "--data-root", "{root}",
                             "--x=-1:1:7", "--y=-0.5:0.5:5"],
                            {"source": "timm", "timm_model": "resnet18", "pretrained": True,
                             "dataset": "torchvision", "tv_dataset": "CIFAR10",
                             "data_root": "{root}"}),
    "direction file": (["surface", "--demo", "--directions", "{dirs}", "--x=-1:1:7",
                        "--y=-0.5:0.5:5"], {"method": "file", "directions": "{dirs}"}),
}


def _fill(value, files):
    if isinstance(value, str):
        for k, v in files.items():
            value = value.replace("{" + k + "}", v)
    return value


@pytest.mark.parametrize("case", list(CASES))
def test_the_cli_and_the_window_resolve_the_same_recipe(case, files):
    argv, state = CASES[case]
    argv = [_fill(a, files) for a in argv] + ["--out", "unused.h5"]
    a = build_parser().parse_args(argv)
    cli = recipe_from_args(a, line=argv[0] == "line")
    values = dict(DEFAULTS, **R75, **{k: _fill(v, files) for k, v in state.items()})
    gui = recipe_from_state(values)
    assert gui == cli
    # and back: the panels filled from the recipe describe the same recipe
    assert recipe_from_state(dict(DEFAULTS, **state_from_recipe(cli))) == cli


def test_interpolation_says_why_states(files):
    from lossviz_core.resolve import explain

    argv, state = CASES["interpolation A → B"]
    r = recipe_from_state(dict(DEFAULTS, **R75, **{k: _fill(v, files) for k, v in state.items()}))
    assert r.directions.dir_type == "states"
    assert "exactly models A and B" in explain(r)[0]


def test_source_panel_shows_the_rows_of_each_source(make_window):
    w = make_window(autostart=False)
    p = w.source_panel
    for source, row in (("zoo", p.model), ("torchvision", p.tv_model), ("timm", p.timm_model),
                        ("pyfile", p.model_function), ("archive", p.archive)):
        w.state.set("source", source)
        assert p.model_form.isRowVisible(row) and p.data_form.isRowVisible(p.dataset)
    for kind, row in (("torchvision", p.tv_dataset), ("imagefolder", p.image_folder),
                      ("pyfile", p.data_function), ("tensors", p.tensors_file)):
        w.state.set("dataset", kind)
        assert p.data_form.isRowVisible(row)
    assert not p.data_form.isRowVisible(p.transform)  # tensors are used as given
    w.state.set("dataset", "imagefolder")
    assert p.data_form.isRowVisible(p.transform)
    w.state.set("source", "demo")
    assert not p.data_form.isRowVisible(p.dataset) and not p.model_form.isRowVisible(p.archive)


def test_a_model_file_asks_once_then_computes(qtbot, make_window, errors, files, monkeypatch):
    asked = []
    monkeypatch.setattr(dialogs, "ask_to_run_code", lambda parent, path: asked.append(path) or True)
    w = make_window(autostart=False)
    w.state.update(source="pyfile", model_file=files["model"], model_function="make",
                   dataset="pyfile", data_file=files["data"], data_function="sequences",
                   xnum=3, ynum=3)
    w.compute()
    qtbot.waitUntil(lambda: not w.computing, timeout=COMPUTE_MS)
    assert errors == [] and w.result.done.all()
    assert sorted(asked) == sorted([files["model"], files["data"]])
    w.state.set("seed", 5)
    w.compute()
    qtbot.waitUntil(lambda: not w.computing, timeout=COMPUTE_MS)
    assert len(asked) == 2, "asked once per file"
    # the centre is the model's own loss (plain PyTorch)
    import importlib.util

    mods = []
    for path in (files["model"], files["data"]):
        spec = importlib.util.spec_from_file_location(f"m{len(mods)}", path)
        mods.append(importlib.util.module_from_spec(spec))
        spec.loader.exec_module(mods[-1])
    net = mods[0].make().eval()
    x, y = mods[1].sequences("train")
    with torch.no_grad():
        want = torch.nn.functional.cross_entropy(net(x), y).item()
    assert w.result.values["train_loss"][1, 1] == pytest.approx(want, rel=1e-5)


def test_refusing_to_run_code_computes_nothing(qtbot, make_window, errors, files,
                                               monkeypatch):
    monkeypatch.setattr(dialogs, "ask_to_run_code", lambda parent, path: False)
    w = make_window(autostart=False)
    w.state.update(source="pyfile", model_file=files["model"], model_function="make")
    w.compute()  # resolved off the GUI thread, then asked about
    qtbot.waitUntil(lambda: not w.computing, timeout=COMPUTE_MS)
    assert not w.computing and w.result is None and "not trusted" in w.progress_label.text()


def test_open_result_fills_the_panels_and_an_incomplete_file_resumes(
        qtbot, make_window, errors, tmp_path, capsys, monkeypatch):
    out = tmp_path / "cut.h5"
    from lossviz_core.run import grid

    real = grid.iter_surface

    def interrupted(*a, **k):
        gen = real(*a, **k)
        yield next(gen)
        raise KeyboardInterrupt

    monkeypatch.setattr("lossviz_core.run.executor.iter_surface", interrupted)
    assert main(["surface", "--demo", "--seed", "7", "--xnorm", "layer", "--x=-0.5:0.5:5",
                 "--y=-1:1:3", "--split", "both", "--out", str(out)]) == 130
    monkeypatch.setattr("lossviz_core.run.executor.iter_surface", real)
    cut = read_result(out)
    assert 0 < cut.done.sum() < 15
    w = make_window()  # opens on the demo with its saved 7 x 5 settings, computes that
    qtbot.waitUntil(lambda: not w.computing, timeout=COMPUTE_MS)
    w.actions_.open_result(str(out))
    qtbot.waitUntil(lambda: w.result is not None and w.result.path == str(out), timeout=10_000)
    s = w.state
    assert (s["seed"], s["norm"], s["split"], s["xnum"], s["ynum"]) == (7, "layer", "both", 5, 3)
    assert w.ranges_panel.range_text() == "α -0.5:0.5:5, β -1:1:3"
    assert "Compute finishes it" in w.progress_label.text()
    w.compute()
    qtbot.waitUntil(lambda: not w.computing, timeout=COMPUTE_MS)
    assert errors == []
    back = read_result(out)
    assert back.done.all(), "the file itself was completed"
    np.testing.assert_array_equal(back.values["train_loss"][cut.done],
                                  cut.values["train_loss"][cut.done])
    np.testing.assert_allclose(w.result.values["test_loss"], back.values["test_loss"])


IMAGE_MODEL = '''
import torch
from torch import nn


def make(num_classes=2):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, num_classes))
'''


def test_a_model_file_on_an_image_folder_from_the_window(qtbot, make_window, errors,
                                                         tmp_path, monkeypatch):
    """The issue's user: their own model file and a folder of class subfolders of images,
    no LossViz code edited; the centre of the plane is plain PyTorch's loss on the images."""
    from PIL import Image

    rng = np.random.default_rng(3)
    root = tmp_path / "pictures"
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for k in range(5):
            pixels = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{k}.png")
    model_file = tmp_path / "net.py"
    model_file.write_text(IMAGE_MODEL)
    monkeypatch.setattr(dialogs, "ask_to_run_code", lambda parent, path: True)
    w = make_window(autostart=False)
    w.state.update(source="pyfile", model_file=str(model_file), model_function="make",
                   dataset="imagefolder", image_folder=str(root), transform="none",
                   xmin=-1.0, xmax=1.0, xnum=3, ymin=-1.0, ymax=1.0, ynum=3,
                   device="cpu", precision="fp32")
    w.compute()
    qtbot.waitUntil(lambda: not w.computing, timeout=COMPUTE_MS)
    assert errors == [] and w.result.done.all()
    # plain PyTorch: the same images in ImageFolder's order (class, then file), in [0, 1]
    import importlib.util

    spec = importlib.util.spec_from_file_location("usernet", model_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.make().eval()
    xs, ys = [], []
    for label, name in enumerate(("cat", "dog")):
        for k in range(5):
            img = np.asarray(Image.open(root / name / f"{k}.png"), np.float32) / 255.0
            xs.append(torch.from_numpy(img).permute(2, 0, 1))
            ys.append(label)
    with torch.no_grad():
        want = torch.nn.functional.cross_entropy(net(torch.stack(xs)), torch.tensor(ys))
    assert w.result.values["train_loss"][1, 1] == pytest.approx(float(want), rel=1e-5)
    assert w.result.recipe.dataset.name == f"imagefolder:{root}"
