"""The PCA plane from checkpoints of any trainer: a glob of files or a folder, ordered by
the number in their names; restricted by ``--only``; through the command line with a
user's language model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import TinyNet
from lm_files import GPT2
from safetensors.torch import save_file
from sklearn.decomposition import PCA

from lossviz_core.cli import main
from lossviz_core.directions import weights_of
from lossviz_core.directions.pca import flatten, pca_directions, trajectory_of
from lossviz_core.directions.select import Selection
from lossviz_core.errors import InputError
from lossviz_core.results.store import read_result

LM = Path(__file__).with_name("lm_files.py")


def walk(model: torch.nn.Module, steps: int, seed: int = 1) -> list[dict]:
    """States along an anisotropic random walk from the model's weights."""
    g = torch.Generator().manual_seed(seed)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = []
    for i in range(steps):
        state = {k: v + 0.01 * (i + 1) * torch.randn(v.shape, generator=g) if
                 v.is_floating_point() else v for k, v in state.items()}
        out.append({k: v.contiguous() for k, v in state.items()})
    return out


def test_a_glob_of_checkpoints_in_step_order(tmp_path):
    torch.manual_seed(0)
    net = TinyNet()
    states = walk(net, 4)
    steps = [2, 10, 30, 100]  # written in another order than the numbers say
    for s, state in zip(steps, states, strict=True):
        save_file(state, tmp_path / f"step_{s}.safetensors")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    run = trajectory_of(tmp_path / "step_*.safetensors")
    assert [e for e, _ in run.checkpoints] == steps
    assert [p.name for _, p in run.checkpoints] == [f"step_{s}.safetensors" for s in steps]
    dirs = pca_directions(net, str(tmp_path / "step_*.safetensors"), ignore="none")
    names = [n for n, _ in net.named_parameters()]
    rows = np.stack([flatten([st[n] for n in names]) for st in states])
    rows = rows - rows[-1]
    ref = PCA(n_components=2).fit(rows)
    np.testing.assert_allclose(abs(flatten(dirs.x) @ ref.components_[0]), 1.0, atol=1e-6)
    np.testing.assert_allclose(dirs.info["explained_variance"], ref.explained_variance_ratio_,
                               rtol=1e-6)
    assert torch.equal(dirs.center["fc.weight"], states[-1]["fc.weight"])  # the last step
    assert list(dirs.trajectory.epochs) == steps
    assert run.unit == dirs.trajectory.unit == "step"  # labelled "step N", not "epoch N"


def test_a_trainers_folder_of_checkpoint_folders(tmp_path):
    torch.manual_seed(0)
    net = TinyNet()
    for s, state in zip((500, 1000, 1500), walk(net, 3), strict=True):
        folder = tmp_path / f"checkpoint-{s}"
        folder.mkdir()
        save_file(state, folder / "model.safetensors")
        torch.save({"lr": 0.1}, folder / "optimizer.pt")  # beside the weights, not weights
    run = trajectory_of(tmp_path)
    assert [(e, p.parent.name) for e, p in run.checkpoints] == [
        (500, "checkpoint-500"), (1000, "checkpoint-1000"), (1500, "checkpoint-1500")]
    assert run.unit == "step"
    for s, state in zip((1, 2, 3), walk(net, 3), strict=True):
        save_file(state, tmp_path / f"model_epoch{s}.safetensors")
    assert trajectory_of(tmp_path / "model_epoch*.safetensors").unit == "epoch"
    for s, state in zip((100, 200, 300), walk(net, 3), strict=True):  # Lightning's names
        save_file(state, tmp_path / f"epoch={s // 150}-step={s}.ckpt")
    lightning = trajectory_of(tmp_path / "epoch=*-step=*.ckpt")
    assert [e for e, _ in lightning.checkpoints] == [100, 200, 300] and lightning.unit == "step"
    with pytest.raises(InputError, match="matches no checkpoint"):
        trajectory_of(tmp_path / "nothing_*.pt")


def test_pca_of_the_chosen_parameters_only(tmp_path):
    torch.manual_seed(0)
    net = TinyNet()
    states = walk(net, 4)
    for s, state in enumerate(states):
        save_file(state, tmp_path / f"epoch{s}.safetensors")
    chosen = Selection(("fc",)).chosen(net)
    dirs = pca_directions(net, str(tmp_path), ignore="none", chosen=chosen)
    for d, keep in zip(dirs.x, chosen, strict=True):
        assert bool(d.any()) == keep
    fc = np.stack([s["fc.weight"].reshape(-1).double().numpy().tolist()
                   + s["fc.bias"].double().numpy().tolist() for s in states])
    ref = PCA(n_components=2).fit(fc - fc[-1])
    ours = np.concatenate([dirs.x[-2].reshape(-1).double().numpy(), dirs.x[-1].double().numpy()])
    np.testing.assert_allclose(abs(ours @ ref.components_[0]), 1.0, atol=1e-6)


def test_pca_of_a_language_models_checkpoints_on_the_command_line(tmp_path, capsys):
    model = GPT2()
    for s, state in zip((1, 2, 3), walk(model, 3), strict=True):
        # tied tensors: safetensors stores one name of each storage
        save_file({k: v for k, v in state.items() if k != "lm.lm_head.weight"},
                  tmp_path / f"step_{s}.safetensors")
    out = tmp_path / "pca.h5"
    args = ["surface", "--pca", str(tmp_path / "step_*.safetensors"), "--dataset",
            f"{LM}:tokens", "--loss", f"{LM}:next_token", "--x=-1:1:3", "--y=-1:1:3",
            "--only", "lm.transformer.h.1", "--out", str(out)]
    assert main(args) == 2
    assert "name the model and data" in capsys.readouterr().err
    assert main([*args[:1], "--model", f"{LM}:gpt2", *args[1:]]) == 0, capsys.readouterr().err
    r = read_result(out)
    assert list(r.trajectory.epochs) == [1, 2, 3]
    assert r.trajectory.off_plane[-1] == 0.0 and np.isfinite(r.trajectory.loss).all()
    assert sum(r.specs["directions_info"]["explained_variance"]) == pytest.approx(1.0, abs=1e-6)
    assert r.recipe.directions.params["only"] == "lm.transformer.h.1"
    assert weights_of(model)  # the model file's own weights were not needed
