"""Permutation alignment (Git Re-Basin's weight matching): permutations read off the graph,
recovered exactly, a flat line after alignment, and one-line refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from geometry_helpers import digits_train, plain_loss, state_of
from test_cli import assert_one_line_error, run_cli
from torch import nn

from lossviz_core.align import align_state, apply_permutations, permutation_spec
from lossviz_core.errors import InputError
from lossviz_core.models import build_model
from lossviz_core.results.store import read_result
from lossviz_core.sources.checkpoints import save_checkpoint


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn", "digits_resnet",
                                  "digits_resnet_noshort", "vgg9"])
def test_random_permutations_keep_the_function_and_are_recovered(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    for m in model.modules():  # BatchNorm statistics that are not the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    spec = permutation_spec(model)
    assert spec.groups, "nothing to permute"
    state = model.state_dict()
    rng = np.random.default_rng(1)
    perms = {g: rng.permutation(n) for g, n in spec.sizes.items()}
    permuted = apply_permutations(spec, perms, state)
    assert any(not torch.equal(permuted[k], state[k]) for k in state)
    x = torch.randn(5, *((1, 8, 8) if name.startswith("digits") else (3, 32, 32)))
    other = build_model(name).eval()
    other.load_state_dict(permuted)
    with torch.no_grad():
        assert torch.allclose(model(x), other(x), atol=1e-5)
    aligned, info = align_state(model, state, permuted)
    assert all(torch.equal(aligned[k], state[k]) for k in state)
    assert info.distance_after == 0.0 < info.distance_before


def test_residual_stages_share_one_permutation():
    spec = permutation_spec(build_model("digits_resnet"))
    # the stem and both blocks of stage 1 add into one residual stream: one permutation
    stem = next(g for g, axes in spec.groups.items() if any(a.name == "conv1.weight"
                                                            for a in axes))
    names = {a.name for a in spec.groups[stem]}
    assert {"bn1.weight", "layer1.0.bn2.running_mean", "layer1.1.conv1.weight"} <= names


def test_cli_align_recovers_a_permuted_mlp_and_flattens_the_line(tmp_path, capsys):
    torch.manual_seed(3)
    model = build_model("digits_mlp")
    x, y = digits_train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # trained a little: a real barrier
    for _ in range(50):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    perm = np.random.default_rng(7).permutation(64)
    copy = dict(state)
    copy["fc1.weight"], copy["fc1.bias"] = state["fc1.weight"][perm], state["fc1.bias"][perm]
    copy["fc2.weight"] = state["fc2.weight"][:, perm]
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    save_checkpoint(state, a)
    save_checkpoint(copy, b)

    out = tmp_path / "b_aligned.pt"
    code, _, err = run_cli(capsys, "align", str(a), str(b), "--model", "digits_mlp",
                           "--out", str(out), "--x=0:1:5")
    assert code == 0, err
    aligned = state_of(out)
    assert all(torch.equal(aligned[k], state[k]) for k in state)  # exactly the original
    assert "63 of 64 hidden units" in err and "before alignment" in err

    lines = {}
    for flag in ((), ("--align",)):
        path = tmp_path / f"line{len(flag)}.h5"
        code, _, err = run_cli(capsys, "line", "--model", "digits_mlp", "--checkpoint", str(a),
                               "--checkpoint2", str(b), "--x=0:1:5", "--out", str(path),
                               *flag)
        assert code == 0, err
        lines[bool(flag)] = read_result(path).values["train_loss"]
    own = plain_loss(build_model("digits_mlp"), state, x, y)
    assert lines[True] == pytest.approx(np.full(5, own), rel=1e-5)  # flat: B aligned is A
    assert lines[False].max() > own + 0.1  # a real barrier before
    assert "before alignment" in err


class Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.out = nn.Linear(64, 8), nn.Linear(64, 8), nn.Linear(16, 10)

    def forward(self, x):
        x = x.flatten(1)
        return self.out(torch.cat([self.a(x), self.b(x)], 1))


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(64, 16)
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.out = nn.Linear(16, 10)

    def forward(self, x):
        h = self.inp(x.flatten(1))  # (N, 16): one unbatched sequence of N tokens
        return self.out(self.attn(h, h, h)[0])


@pytest.mark.parametrize("model, needle", [(Concat(), "cat"),
                                           (Attention(), "MultiheadAttention"),
                                           (nn.Sequential(nn.Flatten(), nn.Linear(64, 16),
                                                          nn.LayerNorm(16), nn.Linear(16, 10)),
                                            "LayerNorm")])
def test_architectures_it_cannot_permute_are_refused_in_one_line(model, needle):
    with pytest.raises(InputError) as e:
        permutation_spec(model)
    text = str(e.value)
    assert needle in text and "\n" not in text and "MLPs, CNNs and ResNets" in text


def test_cli_refuses_an_unalignable_model_in_one_line(tmp_path, capsys):
    code_file = tmp_path / "net.py"
    code_file.write_text(
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, num_classes=10):\n"
        "        super().__init__()\n"
        "        self.a, self.b = nn.Linear(64, 8), nn.Linear(64, 8)\n"
        "        self.out = nn.Linear(16, num_classes)\n"
        "    def forward(self, x):\n"
        "        x = x.flatten(1)\n"
        "        return self.out(torch.cat([self.a(x), self.b(x)], 1))\n"
        "def make(num_classes=10):\n    return Net(num_classes)\n")
    import importlib.util

    spec = importlib.util.spec_from_file_location("net", code_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, seed in (("a.pt", 0), ("b.pt", 1)):
        torch.manual_seed(seed)
        save_checkpoint(mod.make(), tmp_path / name)
    code, _, err = run_cli(capsys, "line", "--model", f"{code_file}:make", "--dataset", "digits",
                           "--checkpoint", str(tmp_path / "a.pt"), "--checkpoint2",
                           str(tmp_path / "b.pt"), "--align", "--x=0:1:3",
                           "--out", str(tmp_path / "l.h5"))
    assert_one_line_error(code, err, "cannot align Net")


def test_plane_and_curve_report_the_barrier_before_and_after(digits_mlps, tmp_path, capsys,
                                                             monkeypatch):
    from lossviz_core.connect.method import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "curves"))
    a, b, c = (str(r.path) for r in digits_mlps)
    code, _, err = run_cli(capsys, "surface", "--model", "digits_mlp", "--plane", f"{a},{b},{c}",
                           "--align", "--x=0:1:3", "--y=0:1:2", "--out", str(tmp_path / "p.h5"))
    assert code == 0, err
    before, after = _barriers(err)
    assert after < before
    r = read_result(tmp_path / "p.h5")
    models = r.specs["directions_info"]["models"]
    assert models[1]["align"]["moved"] > 0 and models[2]["align"]["moved"] > 0
    code, _, err = run_cli(capsys, "connect", a, b, "--align", "--epochs", "1", "--x=0:1:3",
                           "--out", str(tmp_path / "c.h5"))
    assert code == 0, err
    before, after = _barriers(err)
    assert after < before


def _barriers(err: str) -> tuple[float, float]:
    line = next(ln for ln in err.splitlines() if "before alignment" in ln and "train" in ln)
    words = line.replace(",", "").split()
    return float(words[words.index("before") - 1]), float(words[words.index("after") - 1])
