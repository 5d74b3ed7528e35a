"""Checkpoints: raw, wrapped, the reference's .t7 and safetensors; mismatch messages."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

from lossviz_core.errors import CheckpointError
from lossviz_core.models import build_model
from lossviz_core.sources.checkpoints import (
    load_checkpoint,
    load_into,
    load_state_dict,
    save_checkpoint,
)


def _trained_like(name: str = "digits_resnet") -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(name)
    with torch.no_grad():  # non-default BN statistics, so a load that skips buffers shows
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    return model


def _assert_same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_save_checkpoint_round_trip(tmp_path, suffix):
    model = _trained_like()
    path = save_checkpoint(
        model,
        tmp_path / "sub" / f"epoch_3{suffix}",
        epoch=3,
        acc=np.float64(97.5),
        lr=torch.tensor(0.1),
    )
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    fresh = build_model("digits_resnet")
    load_into(fresh, path)
    _assert_same(model, fresh)
    state, meta = load_checkpoint(path)
    assert meta == {"epoch": 3, "acc": 97.5, "lr": pytest.approx(0.1)}
    assert type(meta["acc"]) is float
    if suffix == ".pt":
        raw = torch.load(path, weights_only=True)
        assert set(raw) == {"state_dict", "epoch", "acc", "lr"}


def test_raw_and_model_wrapped_state_dicts(tmp_path):
    model = _trained_like("digits_cnn")
    torch.save(model.state_dict(), tmp_path / "raw.pth")
    torch.save({"model": model.state_dict(), "step": 5}, tmp_path / "wrapped.pth")
    for name in ("raw.pth", "wrapped.pth"):
        fresh = build_model("digits_cnn")
        load_into(fresh, tmp_path / name)
        _assert_same(model, fresh)
    assert load_checkpoint(tmp_path / "wrapped.pth")[1] == {"step": 5}


def test_reference_t7_like_checkpoint(tmp_path):
    # The reference saves {'acc', 'epoch', 'state_dict'}, often from nn.DataParallel
    # ("module." names) and from PyTorch < 0.4 (no num_batches_tracked), legacy format.
    model = _trained_like("resnet20")
    sd = OrderedDict(
        ("module." + k, v)
        for k, v in model.state_dict().items()
        if not k.endswith("num_batches_tracked")
    )
    path = tmp_path / "model_300.t7"
    torch.save(
        {"acc": np.float64(91.7), "epoch": np.int64(300), "state_dict": sd},
        path,
        _use_new_zipfile_serialization=False,
    )
    state = load_state_dict(path)
    assert "conv1.weight" in state and "layer2.0.shortcut.0.weight" in state
    assert not any(k.startswith("module.") for k in state)
    fresh = build_model("resnet20")
    load_into(fresh, path)
    assert torch.equal(fresh.layer3[2].bn2.running_var, model.layer3[2].bn2.running_var)
    assert torch.equal(fresh.linear.weight, model.linear.weight)
    assert float(load_checkpoint(path)[1]["acc"]) == 91.7


def test_load_into_from_a_state_dict_object():
    model = _trained_like("digits_mlp")
    fresh = build_model("digits_mlp")
    load_into(fresh, {"state_dict": model.state_dict()})
    _assert_same(model, fresh)


def test_mismatch_names_missing_unexpected_and_shapes():
    noshort = build_model("digits_resnet_noshort", num_classes=5).state_dict()
    noshort = {k: v for k, v in noshort.items() if not k.startswith("layer1.")}
    noshort["extra.weight"] = torch.zeros(2)
    with pytest.raises(CheckpointError) as err:
        load_into(build_model("digits_resnet"), noshort)
    msg = str(err.value)
    # 20 layer1 keys + 5 shortcut keys (num_batches_tracked may be absent), 5 named.
    assert "25 missing: layer1.0.conv1.weight, layer1.0.bn1.weight" in msg
    assert "and 20 more" in msg and "shortcut" not in msg
    assert "1 unexpected: extra.weight" in msg
    assert "2 wrongly shaped" in msg
    assert "linear.weight (checkpoint (5, 16), model (10, 16))" in msg
    assert "\n" not in msg and len(msg) < 600


def test_unreadable_files(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00\x01not a checkpoint" * 20)
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_state_dict(garbage)
    with pytest.raises(CheckpointError, match="not found"):
        load_state_dict(tmp_path / "missing.t7")
    torch.save({"acc": 1.0, "epoch": 2}, tmp_path / "meta_only.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_state_dict(tmp_path / "meta_only.pt")
    bad_st = tmp_path / "bad.safetensors"
    bad_st.write_bytes(b"\xff" * 64)
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_state_dict(bad_st)


def test_code_in_a_checkpoint_is_refused(tmp_path):
    import os
    import pickle

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"state_dict": os.getcwd}, f, protocol=2)
    with pytest.raises(CheckpointError, match="weights-only"):
        load_state_dict(tmp_path / "evil.pt")


def test_save_into_unwritable_place(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="cannot write"):
        save_checkpoint(build_model("digits_mlp"), tmp_path / "file" / "ckpt.pt")
