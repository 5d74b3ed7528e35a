"""The same limits for studies as for the command line, checked before any work; data sets
that cannot make the program walk the whole file system; a study that trains digits_cnn."""

from __future__ import annotations

import os

import pytest

from lossviz_core import demo, limits
from lossviz_core.cli import main
from lossviz_core.errors import DataError
from lossviz_core.studies import StudyError, make_plan, parse_study

CKPT = str(demo.final_checkpoint())


def test_a_study_grid_past_the_cli_limit_is_refused_with_its_size(tmp_path, capsys):
    """A study accepted a 100000 x 1000 grid (the CLI's limit is 5e7 points) and wrote 1.8 GB."""
    text = f'[results.big]\nmodel = "digits_cnn"\ncheckpoint = "{CKPT}"\nx = "-1:1:100000"\n' \
           'y = "-1:1:1000"\n'
    (tmp_path / "big.toml").write_text(text)
    assert main(["study", "run", str(tmp_path / "big.toml"), "--out",
                 str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "big.toml:1: results.big: a 1000x100000 grid (1e+08 points, 6.1 GiB" in err, err
    assert "at most 5e+07" in err and not (tmp_path / "out").exists()
    cli = main(["surface", "--demo", "--x=-1:1:100000", "--y=-1:1:1000", "--out",
                str(tmp_path / "o.h5")])
    assert cli == 2 and "a 1000x100000 grid (1e+08 points" in capsys.readouterr().err


def test_a_sweep_is_counted_before_any_entry_is_made(tmp_path, monkeypatch):
    """A 300 x 300 sweep started training 90,000 models; --dry-run on 100 x 100 x 100 gave
    no answer in 60 s."""
    from lossviz_core.studies import sweep

    def never(*a, **k):
        raise AssertionError("expanded before it was counted")

    monkeypatch.setattr(sweep, "combinations", never)
    values = list(range(300))
    text = f'[sweeps]\nv = {values}\n[models."m{{a}}-{{b}}"]\nmodel = "digits_cnn"\n' \
           'sweep = { a = "v", b = "v" }\n'
    with pytest.raises(StudyError, match=r"the sweep makes 300 x 300 = 90000 entries; a study "
                                         r"may hold at most 10000"):
        parse_study(text, tmp_path / "s.toml")
    three = f'[sweeps]\nv = {values[:100]}\n[results."r{{a}}-{{b}}-{{c}}"]\nmodel = ' \
            f'"digits_cnn"\ncheckpoint = "{CKPT}"\nsweep = {{ a = "v", b = "v", c = "v" }}\n'
    with pytest.raises(StudyError, match="= 1000000 entries"):
        parse_study(three, tmp_path / "s.toml")


def test_a_study_of_too_many_units_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_STUDY_UNITS", 5)
    monkeypatch.setattr("lossviz_core.studies.spec.MAX_STUDY_UNITS", 5)
    text = f'[results."r{{a}}"]\nmodel = "digits_cnn"\ncheckpoint = "{CKPT}"\n' \
           'sweep = { a = [1, 2, 3] }\n[figures."f{a}"]\nresults = ["r1"]\n' \
           'sweep = { a = [1, 2, 3] }\n'
    with pytest.raises(StudyError, match=r"0 models, 3 results and 3 figures \(6 units\); at "
                                         r"most 5"):
        parse_study(text, tmp_path / "s.toml")


def test_an_image_folder_walk_stops_at_a_folder_without_images(tmp_path, monkeypatch):
    """imagefolder:/ walked the whole file system (os.walk follows links, loops included)."""
    from lossviz_core.data import imagefolder
    from lossviz_core.data.imagefolder import walk_images

    monkeypatch.setattr(imagefolder, "MAX_ENTRIES_WITHOUT_IMAGE", 50)
    exts = (".png", ".jpg")
    root = tmp_path / "data"
    (root / "cats" / "deep").mkdir(parents=True)
    (root / "cats" / "deep" / "a.png").write_bytes(b"")
    (root / "cats" / "loop").symlink_to(root / "cats")  # a link back up: walked once
    for i in range(60):  # folders of everything but images, as a system folder
        (root / "dogs" / f"d{i:03d}").mkdir(parents=True)
        (root / "dogs" / f"d{i:03d}" / "notes.txt").write_bytes(b"")
    (root / "dogs" / "zz").mkdir()
    (root / "dogs" / "zz" / "z.png").write_bytes(b"")  # too late: the walk gave up before it
    samples = walk_images(str(root), {"cats": 0}, exts)
    assert samples == [(str(root / "cats" / "deep" / "a.png"), 0)]
    with pytest.raises(DataError, match=f"class folder {root / 'dogs'} holds no images"):
        walk_images(str(root), {"cats": 0, "dogs": 1}, exts)
    if os.path.isdir("/bin"):  # the whole file system: refused at its first class folder
        from lossviz_core.data import load_dataset
        from lossviz_core.recipe.spec import DatasetSpec

        with pytest.raises(DataError, match="holds no images"):
            load_dataset(DatasetSpec("imagefolder:/"))


def test_a_study_that_trains_digits_cnn_has_a_key(tmp_path):
    """Any study training digits_cnn failed with KeyError: 'model' (the default model name
    was filtered out of the cache key)."""
    study = parse_study('[models.m]\nmodel = "digits_cnn"\nepochs = 1\n', tmp_path / "s.toml")
    unit = make_plan(study, tmp_path / "out").find("train", "m")
    assert unit.spec["train"]["model"] == "digits_cnn"
    other = parse_study('[models.m]\nmodel = "digits_mlp"\nepochs = 1\n', tmp_path / "s.toml")
    assert make_plan(other, tmp_path / "out").find("train", "m").key != unit.key
