"""Any model: a user's Python file, TorchScript and torch.export archives, torchvision, timm,
and checkpoints from DataParallel / torch.compile. Each centre is the model's own loss,
computed in plain PyTorch here."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lossviz_core import demo
from lossviz_core.cli import main
from lossviz_core.errors import CheckpointError, InputError
from lossviz_core.models import build_model
from lossviz_core.recipe.spec import ModelSpec
from lossviz_core.results.store import read_result
from lossviz_core.sources import infer_num_classes, load_model, model_source
from lossviz_core.sources.checkpoints import load_into, load_state_dict

MODEL_PY = '''
import torch
from torch import nn


class SeqNet(nn.Module):
    """A 1-D convolutional net on (2, 20) sequences: nothing like it is in the zoo."""

    def __init__(self, num_classes=4):
        super().__init__()
        self.conv = nn.Conv1d(2, 6, 5)
        self.bn = nn.BatchNorm1d(6)
        self.fc = nn.Linear(6 * 16, num_classes)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


def make(num_classes=4):
    torch.manual_seed(0)
    return SeqNet(num_classes)


def pair_output():
    torch.manual_seed(0)
    return TupleNet()


class TupleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = SeqNet(4)

    def forward(self, x):
        return {"features": x.flatten(1), "scores": self.net(x)}
'''

DATA_PY = '''
import torch


def sequences(split):
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    n = 96 if split == "train" else 32
    x = torch.randn(n, 2, 20, generator=g)
    y = (x[:, 0, :10].sum(1) > 0).long() + 2 * (x[:, 1, 10:].sum(1) > 0).long()
    return x, y
'''


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.fixture
def user_files(tmp_path):
    (tmp_path / "seqmodel.py").write_text(MODEL_PY)
    (tmp_path / "seqdata.py").write_text(DATA_PY)
    return tmp_path / "seqmodel.py", tmp_path / "seqdata.py"


def _plain_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        out = model(x)
    out = out["scores"] if isinstance(out, dict) else out
    return F.cross_entropy(out, y).item()


def _module(path, name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_model_file_and_a_dataset_function_give_the_plain_loss_at_the_centre(
        tmp_path, capsys, user_files):
    model_py, data_py = user_files
    m, d = _module(model_py, "m_test"), _module(data_py, "d_test")
    trained = m.make()
    with torch.no_grad():  # weights other than make()'s, so the checkpoint really loads
        for p in trained.parameters():
            p.mul_(1.5).add_(0.01)
        trained.bn.running_mean.uniform_(-0.2, 0.2)
        trained.bn.running_var.uniform_(0.5, 2.0)
    ckpt = tmp_path / "seq.pt"
    torch.save({"state_dict": trained.state_dict()}, ckpt)
    out = tmp_path / "seq.h5"
    code, err = run(capsys, "surface", "--model", f"{model_py}:make", "--checkpoint", ckpt,
                    "--dataset", f"{data_py}:sequences", "--split", "both",
                    "--x=-1:1:3", "--y=-0.5:0.5:3", "--out", out)
    assert code == 0, err
    assert f"running code from {model_py}" in err and f"running code from {data_py}" in err
    r = read_result(out)
    for split in ("train", "test"):
        x, y = d.sequences(split)
        assert r.values[f"{split}_loss"][1, 1] == pytest.approx(_plain_loss(trained, x, y),
                                                                rel=1e-5)
    assert r.recipe.model.name == f"{model_py}:make"
    assert r.recipe.dataset.name == f"{data_py}:sequences"


def test_a_model_file_resumes_from_the_result_file_alone(tmp_path, capsys, user_files,
                                                         monkeypatch, cut_after_one_chunk):
    model_py, data_py = user_files
    out = tmp_path / "cut.h5"
    args = ("surface", "--model", f"{model_py}:make", "--dataset", f"{data_py}:sequences",
            "--x=-1:1:5", "--y=-1:1:3", "--out", out)
    cut_after_one_chunk()
    assert run(capsys, *args)[0] == 130
    cut = read_result(out)
    assert 0 < cut.done.sum() < 15
    monkeypatch.undo()  # Ctrl-C no more
    code, err = run(capsys, "surface", "--resume", "--out", out)
    assert code == 2 and "--allow-code" in err  # the file names code: the user must agree
    code, err = run(capsys, "surface", "--resume", "--allow-code", "--out", out)  # the file
    assert code == 0, err
    done = read_result(out)
    assert done.done.all()
    code, err = run(capsys, *args[:-2], "--out", tmp_path / "full.h5")
    assert code == 0, err
    np.testing.assert_allclose(done.values["train_loss"],
                               read_result(tmp_path / "full.h5").values["train_loss"], rtol=1e-6)



class TinyConvNet(nn.Module):
    """A small conv net on (3, 16, 16) images, for the archive sources."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 7 * 7, num_classes)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


def _source_model(kind: str, folder):
    """(the --model/--checkpoint flags, the eager model they give, whether they name code)."""
    torch.manual_seed(0)
    if kind == "torchvision":
        import torchvision

        net = torchvision.models.resnet18(num_classes=10)
    elif kind == "timm":
        net = pytest.importorskip("timm").create_model("test_resnet", pretrained=False,
                                                       num_classes=10)
    else:
        net = TinyConvNet()
    with torch.no_grad():  # calibrated BN statistics, as a trained model has
        net.train()
        net(torch.randn(64, 3, 16, 16))
    net.eval()
    if kind in ("torchvision", "timm"):
        ckpt = folder / f"{kind}.pt"
        torch.save(net.state_dict(), ckpt)
        name = "torchvision:resnet18" if kind == "torchvision" else "timm:test_resnet"
        return ("--model", name, "--checkpoint", ckpt), net, False
    if kind == "torchscript":
        path = folder / "tiny.jit"
        torch.jit.save(torch.jit.script(net), path)
    else:
        path = folder / "tiny.pt2"
        batch = torch.export.Dim("batch", min=2)
        torch.export.save(torch.export.export(net, (torch.zeros(4, 3, 16, 16),),
                                              dynamic_shapes=({0: batch},)), path)
    return ("--model", f"{kind}:{path}"), net, True


@pytest.mark.parametrize("kind", ["torchvision", "timm", "torchscript", "export"])
def test_every_model_source_resumes_from_the_result_file_alone(tmp_path, capsys, monkeypatch,
                                                               kind, cut_after_one_chunk):
    model_flags, net, names_code = _source_model(kind, tmp_path)
    g = np.random.default_rng(0)
    x = g.normal(size=(24, 3, 16, 16)).astype(np.float32)
    y = g.permutation(np.arange(24) % 10)
    np.savez(tmp_path / "t.npz", x=x, y=y)
    out = tmp_path / "cut.h5"
    args = ("surface", *model_flags, "--dataset", f"tensors:{tmp_path / 't.npz'}",
            "--x=-0.3:0.3:3", "--y=-0.2:0.2:3", "--device", "cpu", "--precision", "fp32",
            "--multi", "off", "--batch-size", "32")
    cut_after_one_chunk()
    code, err = run(capsys, *args, "--out", out)
    assert code == 130, err
    cut = read_result(out)
    assert 0 < cut.done.sum() < 9
    monkeypatch.undo()  # Ctrl-C no more
    if names_code:  # an archive runs code: resuming it needs the user's word
        code, err = run(capsys, "surface", "--resume", "--out", out)
        assert code == 2 and "--allow-code" in err and "Traceback" not in err, err
        assert read_result(out).done.sum() == cut.done.sum()
    resume = ("--resume", "--allow-code") if names_code else ("--resume",)
    code, err = run(capsys, "surface", *resume, "--out", out)
    assert code == 0, err
    done = read_result(out)
    assert done.done.all()
    assert done.recipe.model.name == cut.recipe.model.name
    np.testing.assert_array_equal(done.values["train_loss"][cut.done],
                                  cut.values["train_loss"][cut.done])
    code, err = run(capsys, *args, "--out", tmp_path / "full.h5")
    assert code == 0, err
    full = read_result(tmp_path / "full.h5").values["train_loss"]
    np.testing.assert_allclose(done.values["train_loss"], full, rtol=1e-6)
    want = _plain_loss(net, torch.from_numpy(x), torch.from_numpy(y))
    assert full[1, 1] == pytest.approx(want, rel=1e-5)  # the model's own loss at the centre
    assert np.ptp(full) > 1e-4  # a real landscape: the directions moved the weights


def test_output_picks_the_logits_of_a_dict_forward(tmp_path, capsys, user_files):
    model_py, data_py = user_files
    base = ("surface", "--model", f"{model_py}:pair_output", "--dataset",
            f"{data_py}:sequences", "--x=-1:1:3", "--y=-1:1:3")
    code, err = run(capsys, *base, "--out", tmp_path / "a.h5")
    assert code == 2 and "--output KEY" in err and "scores" in err and "Traceback" not in err
    code, err = run(capsys, *base, "--output", "scores", "--out", tmp_path / "b.h5")
    assert code == 0, err
    m, d = _module(model_py, "m_out"), _module(data_py, "d_out")
    x, y = d.sequences("train")
    r = read_result(tmp_path / "b.h5")
    assert r.values["train_loss"][1, 1] == pytest.approx(_plain_loss(m.pair_output(), x, y),
                                                         rel=1e-5)


def _demo_eager():
    model = build_model("digits_cnn")
    load_into(model, demo.final_checkpoint())
    return model.eval()


@pytest.mark.parametrize("kind", ["torchscript", "export"])
def test_archives_give_the_eager_surface(tmp_path, capsys, kind):
    eager = _demo_eager()
    if kind == "torchscript":
        path = tmp_path / "cnn.jit"
        torch.jit.save(torch.jit.script(eager), path)
    else:
        path = tmp_path / "cnn.pt2"
        batch = torch.export.Dim("batch", min=2)
        exported = torch.export.export(eager, (torch.zeros(4, 1, 8, 8),),
                                       dynamic_shapes=({0: batch},))
        torch.export.save(exported, path)
    grid = ("--x=-0.6:0.6:3", "--y=-0.4:0.4:3", "--precision", "fp32")
    code, err = run(capsys, "surface", "--model", f"{kind}:{path}", "--dataset", "digits",
                    *grid, "--out", tmp_path / "archive.h5")
    assert code == 0, err
    code, err = run(capsys, "surface", "--model", "digits_cnn", "--checkpoint",
                    demo.final_checkpoint(), *grid, "--out", tmp_path / "eager.h5")
    assert code == 0, err
    a = read_result(tmp_path / "archive.h5").values["train_loss"]
    b = read_result(tmp_path / "eager.h5").values["train_loss"]
    np.testing.assert_allclose(a, b, rtol=1e-5)
    assert np.ptp(a) > 0.01  # a real landscape, not a constant
    # a bare path to the archive is recognized as well
    assert model_source(str(path)).name == "archive"


def test_torchvision_resnet18_centre_is_its_plain_loss(tmp_path, capsys):
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10)
    with torch.no_grad():  # calibrated BN statistics, as a trained model has
        net.train()
        net(torch.randn(64, 3, 32, 32))
    ckpt = tmp_path / "r18.pt"
    torch.save(net.state_dict(), ckpt)
    g = np.random.default_rng(0)
    x = g.normal(size=(24, 3, 32, 32)).astype(np.float32)
    y = g.integers(0, 10, 24)
    np.savez(tmp_path / "t.npz", x=x, y=y)
    out = tmp_path / "r18.h5"
    code, err = run(capsys, "surface", "--model", "torchvision:resnet18", "--checkpoint", ckpt,
                    "--dataset", f"tensors:{tmp_path / 't.npz'}", "--x=-0.2:0.2:3",
                    "--y=-0.2:0.2:3", "--precision", "fp32", "--out", out)
    assert code == 0, err
    want = _plain_loss(net, torch.from_numpy(x), torch.from_numpy(y))
    assert read_result(out).values["train_loss"][1, 1] == pytest.approx(want, rel=1e-5)
    assert read_result(out).recipe.model.name == "torchvision:resnet18"


def test_timm_model_builds_with_the_data_s_class_count():
    pytest.importorskip("timm")
    loaded = load_model(ModelSpec("timm:resnet18", pretrained=None), data_classes=7,
                        require_weights=False)
    assert loaded.model.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 7)
    assert loaded.class_count_from == "data"


def test_data_parallel_and_compiled_state_dicts_load():
    model = build_model("digits_cnn")
    torch.manual_seed(3)
    other = build_model("digits_cnn")
    dp = nn.DataParallel(other).state_dict()
    assert all(k.startswith("module.") for k in dp)
    compiled = {f"_orig_mod.{k}": v for k, v in other.state_dict().items()}
    assert list(torch.compile(other).state_dict()) == list(compiled)  # torch's own naming
    for state in (dp, compiled, {"model": {"state_dict": dp}}, {"net": compiled},
                  {"_orig_mod.module." + k: v for k, v in other.state_dict().items()}):
        load_into(model, state)
        for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
            assert torch.equal(a, b)


def test_the_class_count_comes_from_the_checkpoint():
    three = build_model("digits_mlp", num_classes=3)
    state = three.state_dict()
    assert infer_num_classes(lambda num_classes: build_model("digits_mlp", num_classes), state) == 3
    assert infer_num_classes(lambda num_classes: build_model("resnet20", num_classes),
                             build_model("resnet20", 100).state_dict()) == 100


def test_a_mismatched_checkpoint_still_names_the_keys(tmp_path):
    path = tmp_path / "r20.pt"
    torch.save(build_model("resnet20").state_dict(), path)
    with pytest.raises(CheckpointError, match="layer1.0.conv1.weight"):
        load_model(ModelSpec("digits_cnn", str(path)), data_classes=10)


def test_bad_model_sources_are_one_line(tmp_path, capsys):
    (tmp_path / "broken.py").write_text("def make(:\n")
    (tmp_path / "notmodule.py").write_text("def make():\n    return 42\n")
    (tmp_path / "noarch.pt2").write_bytes(b"not an archive")
    cases = [
        (["--model", "torchvision:nosuchnet"], "nosuchnet"),
        (["--model", f"{tmp_path / 'broken.py'}:make"], "line 1"),
        (["--model", f"{tmp_path / 'notmodule.py'}:make"], "not a torch nn.Module"),
        (["--model", f"{tmp_path / 'notmodule.py'}:other"], "no model function"),
        (["--model", f"{tmp_path / 'missing.py'}:make"], "not found"),
        (["--model", f"export:{tmp_path / 'noarch.pt2'}"], "cannot load"),
    ]
    for flags, needle in cases:
        code, err = run(capsys, "surface", *flags, "--dataset", "digits", "--out",
                        tmp_path / "o.h5")
        assert code == 2 and "Traceback" not in err, (flags, err)
        assert needle in err, (flags, err)
        assert not (tmp_path / "o.h5").exists()


def test_user_code_is_only_loaded_when_named(tmp_path):
    from lossviz_core.usercode import is_function_ref, user_file

    assert is_function_ref("/x/model.py:make") and not is_function_ref("resnet56")
    assert not is_function_ref("torchvision:x.py:y")
    assert user_file("resnet56") is None
    with pytest.raises(InputError):
        model_source("nosuch_zoo_name")


def test_model_file_without_num_classes_parameter(tmp_path):
    (tmp_path / "fixed.py").write_text(textwrap.dedent("""
        from torch import nn
        def make():
            return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    """))
    loaded = load_model(ModelSpec(f"{tmp_path / 'fixed.py'}:make"), data_classes=3)
    assert loaded.model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert load_state_dict  # the module's API stays importable


def test_a_model_file_trains_and_its_run_gives_a_pca_plane(tmp_path, capsys, user_files):
    model_py, data_py = user_files
    run_dir = tmp_path / "run"
    code, err = run(capsys, "train", "--model", f"{model_py}:make", "--dataset",
                    f"{data_py}:sequences", "--epochs", "4", "--lr", "0.05", "--batch-size",
                    "16", "--out", run_dir)
    assert code == 0, err
    from lossviz_core.runs import read_run

    info = read_run(run_dir)
    assert len(info.checkpoints) == 5
    assert info.metrics[-1]["train_loss"] < info.metrics[0]["train_loss"]
    pca = ("surface", "--pca", run_dir, "--x=-1:1:3", "--y=-1:1:3", "--out", tmp_path / "pca.h5")
    code, err = run(capsys, *pca)  # the run folder names code: the user must agree
    assert code == 2 and "--allow-code" in err and str(model_py) in err, err
    code, err = run(capsys, *pca, "--allow-code")
    assert code == 0, err
    r = read_result(tmp_path / "pca.h5")
    assert r.trajectory is not None and len(r.trajectory.epochs) == 5
    assert r.recipe.model.name == f"{model_py}:make"
