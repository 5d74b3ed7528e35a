"""Training into run folders: metrics, checkpoints, determinism, schedules, augmentation."""

import json
import math

import pytest
import torch

from lossviz_core.errors import InputError
from lossviz_core.models import build_model
from lossviz_core.recipe.spec import DatasetSpec
from lossviz_core.runs import read_run
from lossviz_core.sources.checkpoints import load_state_dict, save_checkpoint
from lossviz_core.train import TrainSpec, iter_training, lr_at, step_milestones
from lossviz_core.train.augment import Augmentation, random_crop, random_flip, resolve_augment

MLP = dict(model="digits_mlp", epochs=3, lr=0.05, batch_size=64, device="cpu")


def train(spec, run_dir, **kw):
    reports = list(iter_training(spec, run_dir, **kw))
    return reports, read_run(run_dir)


def test_run_folder_metrics_and_checkpoints(tmp_path):
    reports, run = train(TrainSpec(**MLP), tmp_path / "run")
    assert [r.epoch for r in reports] == [1, 2, 3]
    assert [e for e, _ in run.checkpoints] == [0, 1, 2, 3]
    assert run.final_checkpoint.name == "model_3.pt"
    assert run.model_name == "digits_mlp" and run.dataset["name"] == "digits"
    assert [m["epoch"] for m in run.metrics] == [1, 2, 3]
    for m, r in zip(run.metrics, reports, strict=True):
        assert m["train_loss"] == pytest.approx(r.train_loss)
        assert m["test_acc"] == pytest.approx(r.test_acc)
        assert m["lr"] == 0.05 and m["seconds"] > 0
    losses = [m["train_loss"] for m in run.metrics]
    assert losses[0] > losses[1] > losses[2]
    assert run.metrics[-1]["test_acc"] > 80  # percent, as the reference
    assert reports[-1].checkpoint == str(run.final_checkpoint)
    # The spec round-trips through run.json.
    assert TrainSpec.from_dict(run.train) == TrainSpec(**MLP)
    # The final checkpoint loads into a fresh model and reproduces the reported test loss.
    from lossviz_core.data import load_dataset
    from lossviz_core.train import evaluate_split

    model = build_model("digits_mlp")
    model.load_state_dict(load_state_dict(run.final_checkpoint))
    loss, acc = evaluate_split(model, load_dataset(DatasetSpec(), "cpu").test)
    assert loss == pytest.approx(reports[-1].test_loss, rel=1e-6)
    assert acc == pytest.approx(reports[-1].test_acc)


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    spec = TrainSpec(**{**MLP, "epochs": 2})
    _, a = train(spec, tmp_path / "a")
    _, b = train(spec, tmp_path / "b")
    _, c = train(spec.replace(seed=1), tmp_path / "c")
    sa, sb, sc = (load_state_dict(r.final_checkpoint) for r in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["fc1.weight"], sc["fc1.weight"])


def test_init_checkpoint_respected(tmp_path):
    init = build_model("digits_cnn")
    torch.nn.init.constant_(init.linear.bias, 0.25)  # a mark the seeded init never makes
    save_checkpoint(init, tmp_path / "init.pt")
    base = dict(model="digits_cnn", epochs=1, lr=0.05, device="cpu",
                init_checkpoint=str(tmp_path / "init.pt"))
    _, a = train(TrainSpec(**base, batch_size=16, seed=1), tmp_path / "a")
    _, b = train(TrainSpec(**base, batch_size=256, seed=2), tmp_path / "b")
    s0a, s0b = load_state_dict(a.checkpoints[0][1]), load_state_dict(b.checkpoints[0][1])
    for k, v in init.state_dict().items():
        assert torch.equal(s0a[k], v) and torch.equal(s0b[k], v)
    assert a.model["checkpoint"] == str(tmp_path / "init.pt")
    assert not torch.equal(load_state_dict(a.final_checkpoint)["linear.weight"],
                           load_state_dict(b.final_checkpoint)["linear.weight"])


def test_save_every_keeps_last_and_cancel_leaves_valid_run(tmp_path):
    _, run = train(TrainSpec(**{**MLP, "epochs": 5}, save_every=2), tmp_path / "r")
    assert [e for e, _ in run.checkpoints] == [0, 2, 4, 5]
    assert len(run.metrics) == 5
    gen = iter_training(TrainSpec(**MLP), tmp_path / "cancelled")
    next(gen)
    gen.close()  # the caller stops iterating
    run = read_run(tmp_path / "cancelled")
    assert [e for e, _ in run.checkpoints] == [0, 1] and len(run.metrics) == 1


def test_existing_run_needs_overwrite(tmp_path):
    train(TrainSpec(**{**MLP, "epochs": 2}), tmp_path / "r")
    with pytest.raises(InputError, match="already holds"):
        list(iter_training(TrainSpec(**MLP), tmp_path / "r"))
    _, run = train(TrainSpec(**{**MLP, "epochs": 1}), tmp_path / "r", overwrite=True)
    assert [e for e, _ in run.checkpoints] == [0, 1]
    assert not (tmp_path / "r" / "model_2.pt").exists()


def test_step_schedule_lr_per_epoch():
    spec = TrainSpec(lr=0.1, epochs=6, schedule="step", step_epochs=[3, 5], gamma=0.5)
    assert [lr_at(spec, e) for e in range(1, 7)] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    ref = TrainSpec(epochs=300, schedule="step")
    assert step_milestones(ref) == (150, 225, 275)
    assert step_milestones(ref.replace(epochs=12)) == (6, 9, 11)
    assert lr_at(ref, 149) == pytest.approx(0.1) and lr_at(ref, 150) == pytest.approx(0.01)
    assert lr_at(ref, 300) == pytest.approx(1e-4)


def test_cosine_schedule_lr_per_epoch(tmp_path):
    spec = TrainSpec(**{**MLP, "epochs": 4}, schedule="cosine")
    expected = [0.05 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]
    assert [lr_at(spec, e) for e in range(1, 5)] == pytest.approx(expected)
    assert expected[0] == 0.05 and expected[2] == pytest.approx(0.025)
    # The optimizer really used them: run.json records each epoch's rate.
    _, run = train(spec, tmp_path / "cos")
    assert [m["lr"] for m in run.metrics] == pytest.approx(expected)


@pytest.mark.parametrize(
    "bad",
    [
        {"optimizer": "lbfgs"}, {"epochs": 0}, {"epochs": 2.5}, {"lr": -1.0},
        {"lr": float("nan")}, {"batch_size": 0}, {"schedule": "linear"}, {"augment": "mixup"},
        {"momentum": 1.0}, {"step_epochs": [0]}, {"save_every": 0}, {"precision": "fp16"},
        {"optimizer": "adam", "nesterov": True}, {"loss": "hinge"},
    ],
)
def test_bad_spec_raises_input_error(bad):
    with pytest.raises(InputError):
        TrainSpec(**bad)


def test_bad_model_or_mismatched_dataset(tmp_path):
    with pytest.raises(InputError, match="unknown model"):
        next(iter_training(TrainSpec(model="nope"), tmp_path / "a"))
    with pytest.raises(InputError, match="expects inputs"):
        next(iter_training(TrainSpec(model="resnet20", device="cpu"), tmp_path / "b"))
    assert not (tmp_path / "a" / "run.json").exists()


def test_spec_round_trip_json():
    spec = TrainSpec(model="digits_cnn", dataset={"name": "digits", "subsample": 100},
                     schedule="step", step_epochs=[5, 2])
    assert spec.dataset == DatasetSpec(subsample=100) and spec.step_epochs == (2, 5)
    assert TrainSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_random_crop_is_a_shifted_window():
    x = torch.arange(1, 2 * 3 * 5 * 5 + 1, dtype=torch.float32).reshape(2, 3, 5, 5)  # no zeros
    fill = torch.tensor([-1.0, -2.0, -3.0])
    gen = torch.Generator().manual_seed(0)
    out = random_crop(x, 2, gen, fill)
    offsets = torch.randint(0, 5, (2, 2), generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for c, v in enumerate(fill):
        padded[:, c][padded[:, c] == 0] = v
    assert offsets.tolist() != [[2, 2], [2, 2]]  # a real shift happens
    for b in range(2):
        oy, ox = offsets[b].tolist()
        assert torch.equal(out[b], padded[b, :, oy : oy + 5, ox : ox + 5])


def test_random_flip_mirrors_about_half():
    x = torch.arange(1000 * 4, dtype=torch.float32).reshape(1000, 1, 1, 4)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] == x[:, 0, 0, 3])
    kept = (out == x).flatten(1).all(1)
    assert bool((flipped ^ kept).all())
    assert 400 < int(flipped.sum()) < 600


def test_auto_augment_choice():
    assert resolve_augment("auto", (3, 32, 32)) == Augmentation(pad=4, flip=True)
    assert resolve_augment("auto", (1, 8, 8)) == Augmentation()
    assert resolve_augment("crop", (1, 8, 8)) == Augmentation(pad=1)
    assert resolve_augment("on", (1, 8, 8)) == Augmentation(pad=1)
    assert resolve_augment("on", (3, 32, 32)) == Augmentation(pad=4, flip=True)
    assert resolve_augment("off", (3, 32, 32)) == Augmentation()
    with pytest.raises(InputError):
        resolve_augment("crop", (64,))


def test_gpu_path_on_cpu_channels_last_bf16_crop(tmp_path, monkeypatch):
    """The CUDA code path (NHWC, bf16 autocast, on-device crop) run on the CPU."""
    import lossviz_core.train.loop as train_mod

    monkeypatch.setattr(train_mod, "_channels_last", lambda device, x: True)
    spec = TrainSpec(model="digits_cnn", epochs=2, lr=0.05, device="cpu", precision="bf16",
                     augment="crop")
    reports, run = train(spec, tmp_path / "nhwc")
    assert all(math.isfinite(r.train_loss) for r in reports)
    assert reports[1].train_loss < reports[0].train_loss and reports[1].test_acc > 80
    state = load_state_dict(run.final_checkpoint)
    assert all(v.is_contiguous() for v in state.values())  # saved in the standard layout
    model = build_model("digits_cnn")
    model.load_state_dict(state)


def test_training_under_a_callers_no_grad(tmp_path):
    """A GUI worker may sit inside torch.no_grad(); training must still learn."""
    with torch.no_grad():
        reports, _ = train(TrainSpec(**{**MLP, "epochs": 2}), tmp_path / "ng")
    assert reports[1].train_loss < reports[0].train_loss
