"""Writes stay inside their folders: study names, lock files, run folders, empty folders."""

from __future__ import annotations

import io
import os
import shutil

import pytest
import torch
from disk import small_disk

from lossviz_core.cli import main
from lossviz_core.progress import drain
from lossviz_core.recipe.spec import DatasetSpec
from lossviz_core.runs import read_run
from lossviz_core.studies import StudyError, parse_study
from lossviz_core.train import TrainSpec, iter_training

MODEL = '[models.m]\nmodel = "digits_cnn"\nepochs = 1\n'


@pytest.mark.parametrize("text, needle", [
    ('[results."../../x"]\nmodel = "digits_cnn"\ncheckpoint = "c.pt"\n', 'results."../../x"'),
    ('[models."/tmp/x"]\nmodel = "digits_cnn"\n', 'models."/tmp/x"'),
    (MODEL + '[models."../a"]\nmodel = "digits_cnn"\ninit = "m"\n', 'models."../a"'),
    (MODEL + '[models.b]\nmodel = "digits_cnn"\ninit = "../../m"\n', "init names the study"),
    (MODEL + '[figures."../../f"]\nresults = []\n', 'figures."../../f"'),
    ('[study]\nname = "/tmp/X"\n' + MODEL, "study.name"),
    ('[study]\nname = ".."\n' + MODEL, "study.name"),
    ('[models."m{d}"]\nmodel = "digits_cnn"\nsweep = { d = ["/x", "y"] }\n', 'models."m/x"'),
])
def test_study_names_that_are_not_file_names_are_refused(tmp_path, text, needle):
    """Entry names with ../.. or absolute paths wrote outside --out; [study] name chose the
    default output folder anywhere."""
    (tmp_path / "c.pt").write_bytes(b"")
    with pytest.raises(StudyError) as err:
        parse_study(text, tmp_path / "s.toml")
    message = str(err.value)
    assert needle in message and "\n" not in message, message


def test_a_profile_name_stays_a_file_name(tmp_path):
    text = MODEL + '[profiles."../../x"]\nmodels.m.epochs = 2\n'
    with pytest.raises(StudyError, match="profile name"):
        parse_study(text, tmp_path / "s.toml", profile="../../x")


@pytest.mark.parametrize("plant", ["symlink", "hardlink", "fifo", "folder"])
def test_a_planted_lock_file_is_never_followed(tmp_path, capsys, plant):
    """A symlink at .NAME.h5.lock was followed: its target truncated, a PID written in it."""
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    lock = tmp_path / ".r.h5.lock"
    {"symlink": lambda: lock.symlink_to(target), "hardlink": lambda: os.link(target, lock),
     "fifo": lambda: os.mkfifo(lock), "folder": lambda: lock.mkdir()}[plant]()
    code = main(["surface", "--demo", "--x=-1:1:3", "--y=-1:1:3", "--out",
                 str(tmp_path / "r.h5")])
    err = capsys.readouterr().err
    assert code == 2 and f"the lock file {lock} is" in err and "Traceback" not in err, err
    assert target.read_text() == "keep me" and not (tmp_path / "r.h5").exists()


def _spec(seed: int, epochs: int = 2) -> TrainSpec:
    return TrainSpec(model="digits_cnn", dataset=DatasetSpec("digits", subsample=64),
                     epochs=epochs, batch_size=32, seed=seed, device="cpu")


def test_overwrite_stopped_midway_leaves_the_old_run_whole(tmp_path):
    """train --overwrite stopped mid-run left model_0…3 of the new seed, the old run gone."""
    run = tmp_path / "run"
    drain(iter_training(_spec(seed=0), run))
    old = {p.name: p.read_bytes() for p in run.iterdir()}
    gen = iter_training(_spec(seed=1), run, overwrite=True)
    next(gen)  # one epoch of the new run, then stopped
    gen.close()
    assert {p.name: p.read_bytes() for p in run.iterdir()} == old
    partial = tmp_path / "run.partial"
    assert [e for e, _ in read_run(partial).checkpoints] == [0, 1]  # resumable to look at
    new = drain(iter_training(_spec(seed=1), run, overwrite=True))
    assert [e for e, _ in new.checkpoints] == [0, 1, 2]
    final = torch.load(run / "model_2.pt", weights_only=True)["state_dict"]
    before = torch.load(io.BytesIO(old["model_2.pt"]), weights_only=True)["state_dict"]
    assert any(not torch.equal(final[k], v) for k, v in before.items())  # the new seed's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no partial, no old left


def test_the_cli_says_where_a_stopped_overwrite_is(tmp_path, capsys, monkeypatch):
    from lossviz_core.train import loop

    run = tmp_path / "run"
    drain(iter_training(_spec(seed=0, epochs=1), run))
    real = loop._train_epoch
    calls = []

    def stop_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(loop, "_train_epoch", stop_second)
    code = main(["train", "--model", "digits_cnn", "--subsample", "64", "--epochs", "3",
                 "--device", "cpu", "--overwrite", "--out", str(run)])
    err = capsys.readouterr().err
    assert code == 130 and f"saved so far are in {run}.partial ({run} is kept as it was)" in err
    assert [e for e, _ in read_run(run).checkpoints] == [0, 1]


def test_a_full_disk_leaves_no_empty_folders(tmp_path, capsys):
    """After a full (or read-only) disk, train and study left empty folders."""
    (tmp_path / "s.toml").write_text(MODEL)
    with small_disk(tmp_path) as disk:
        with disk.full(new_file_bytes=0):
            for argv in (["train", "--model", "digits_cnn", "--epochs", "1", "--subsample", "64",
                          "--out", disk.folder / "a" / "run"],
                         ["study", "run", tmp_path / "s.toml", "--out", disk.folder / "st"]):
                code = main([str(a) for a in argv])
                err = capsys.readouterr().err
                assert code == 2 and "Traceback" not in err, (disk.kind, err)
        made = [p.name for p in disk.folder.iterdir() if not p.name.startswith("filler")]
        assert made == [], (disk.kind, made)
        shutil.rmtree(disk.folder / "a", ignore_errors=True)
