"""Error bands over direction seeds: each seed's landscape equals a single-seed run with that
seed, the mean and spread are numpy's over them, with shards, resumed, summarized."""

from __future__ import annotations

import numpy as np
import pytest
from test_cli import assert_one_line_error, run_cli

from lossviz_core.recipe.seeds import parse_seeds
from lossviz_core.results.store import read_result
from lossviz_core.results.summary import landscape_summaries

GRID = ("--x=-1:1:5", "--y=-1:1:4")
# how points are computed, fixed: a probe on a loaded machine may choose another batch or
# mode for two runs, and the last bits of a loss follow that choice
HOW = ("--multi", "off", "--batch-size", "128", "--subsample", "256")


@pytest.fixture
def ckpt(digits_mlps):
    return ("--model", "digits_mlp", "--checkpoint", str(digits_mlps[0].final_checkpoint))


def _run(capsys, out, *args):
    code, _, err = run_cli(capsys, *args, *HOW, "--out", str(out))
    assert code == 0, err
    return read_result(out), err


def test_each_seed_equals_its_single_seed_run_and_the_bands_are_numpys(tmp_path, capsys, ckpt):
    r, err = _run(capsys, tmp_path / "seeds.h5", "surface", *ckpt, *GRID, "--seeds", "2:4")
    assert r.recipe.directions.seeds == (2, 3, 4)
    per = []
    for s in (2, 3, 4):
        single, _ = _run(capsys, tmp_path / f"s{s}.h5", "surface", *ckpt, *GRID, "--seed", str(s))
        for q in ("train_loss", "train_acc"):
            np.testing.assert_array_equal(r.values[f"{q}_seed{s}"], single.values[q])
        per.append(single.values["train_loss"])
    np.testing.assert_array_equal(r.values["train_loss"], np.mean(per, axis=0))
    np.testing.assert_array_equal(r.values["train_loss_std"], np.std(per, axis=0))
    assert r.values["train_loss_std"].max() > 0  # the seeds differ
    assert "(mean ± std over 3 seeds)" in err


def test_summaries_are_the_mean_and_spread_of_the_seeds(tmp_path, capsys, ckpt):
    r, _ = _run(capsys, tmp_path / "seeds.h5", "surface", *ckpt, *GRID, "--seeds", "3")  # 0, 1, 2
    assert r.recipe.directions.seeds == (0, 1, 2)
    sharp = landscape_summaries(r)[0]
    ones = []
    for s in (0, 1, 2):
        single, _ = _run(capsys, tmp_path / f"s{s}.h5", "surface", *ckpt, *GRID, "--seed", str(s))
        ones.append(landscape_summaries(single)[0].value)
    assert sharp.n == 3
    assert sharp.value == pytest.approx(np.mean(ones), rel=1e-12)
    assert sharp.spread == pytest.approx(np.std(ones), rel=1e-9)


def test_seeds_with_shards_on_a_line(tmp_path, capsys, ckpt):
    r, _ = _run(capsys, tmp_path / "line.h5", "line", *ckpt, "--x=-1:1:5", "--seeds", "1,5",
                "--shards", "2")
    assert {"train_loss_se", "train_loss_seed5", "train_loss_se_seed1"} <= set(r.values)
    np.testing.assert_allclose(r.values["train_loss"],
                               (r.values["train_loss_seed1"] + r.values["train_loss_seed5"]) / 2)
    one, _ = _run(capsys, tmp_path / "one.h5", "line", *ckpt, "--x=-1:1:5", "--seed", "5")
    # two shards' sums merged: the one-pass mean up to rounding
    np.testing.assert_allclose(r.values["train_loss_seed5"], one.values["train_loss"],
                               rtol=1e-12)


def test_seeds_resume_from_the_file_alone(tmp_path, capsys, cut_after_one_chunk, monkeypatch,
                                          ckpt):
    whole, cut = tmp_path / "whole.h5", tmp_path / "cut.h5"
    args = ("surface", *ckpt, *GRID, "--seeds", "1:2", *HOW)
    assert run_cli(capsys, *args, "--out", str(whole))[0] == 0
    cut_after_one_chunk()
    assert run_cli(capsys, *args, "--out", str(cut))[0] == 130
    monkeypatch.undo()
    code, _, err = run_cli(capsys, "surface", "--resume", "--out", str(cut))
    assert code == 0, err
    a, b = read_result(whole), read_result(cut)
    for q in a.values:
        np.testing.assert_array_equal(a.values[q], b.values[q])


def test_seeds_need_random_directions(tmp_path, capsys):
    code, _, err = run_cli(capsys, "line", "--demo", "--seeds", "1:3", "--out",
                           str(tmp_path / "l.h5"))
    assert_one_line_error(code, err, "no random directions")
    code, _, err = run_cli(capsys, "surface", "--demo", "--seeds", "a:b", "--out",
                           str(tmp_path / "s.h5"))
    assert_one_line_error(code, err, "--seeds")


@pytest.mark.parametrize("text, first, seeds", [("1:5", 0, (1, 2, 3, 4, 5)), ("3", 7, (7, 8, 9)),
                                                ("1,3,7", 0, (1, 3, 7)), ([4, 2], 0, (4, 2)),
                                                (None, 0, ())])
def test_seed_syntax(text, first, seeds):
    assert parse_seeds(text, first) == seeds


def test_ray_says_seeds_are_computed_here(tmp_path, ckpt):
    from lossviz_core.errors import InputError
    from lossviz_core.resolve import resolve
    from lossviz_core.run.job import prepare
    from lossviz_core.run.ray_executor import RayExecutor

    job = prepare(resolve({"model": "digits_mlp", "checkpoint": ckpt[-1], "x": "-1:1:3",
                           "line": True, "seeds": "1:2", "subsample": 64}))
    with pytest.raises(InputError, match="--executor local"):
        next(job.iter(executor=RayExecutor()))
