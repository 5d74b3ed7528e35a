"""The window's own files: a damaged library index or settings never stop it from starting;
what cannot be used is set aside with one message, and good entries are kept."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import h5py
import pytest
from conftest import COMPUTE_MS
from lossviz import library as library_module
from lossviz import settings_store

from lossviz_core.results.store import read_result, save_result


@pytest.fixture
def default_library(tmp_path, monkeypatch):
    """Where an unusable library folder falls back to (never the user's own)."""
    folder = tmp_path / "default-library"
    monkeypatch.setattr(library_module, "default_folder", lambda: folder)
    return folder


def _index(folder, entries):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.json").write_text(entries if isinstance(entries, str)
                                       else json.dumps(entries))


@pytest.mark.parametrize("damage", ["a list", "a number as path", "a file", "proc",
                                    "read-only"])
def test_the_window_starts_whatever_its_library_folder_holds(
        qtbot, make_window, errors, tmp_path, default_library, monkeypatch, damage):
    """Exit 1 with a traceback, every launch, for each of these."""
    folder = tmp_path / "lib"
    if damage == "a list":
        _index(folder, [1, 2, 3])
    elif damage == "a number as path":
        _index(folder, {"entries": [{"id": "a", "name": "x", "path": 5, "recipe": None,
                                     "created": "t"}]})
    elif damage == "a file":
        folder.write_text("not a folder")
    elif damage == "proc":
        folder = "/proc/self"
    else:
        folder.mkdir()
        folder.chmod(0o555)
        if os.geteuid() == 0:  # root may write anyway: the folder answers as to a user
            real = tempfile.mkstemp
            monkeypatch.setattr(library_module.tempfile, "mkstemp", lambda *a, **k: (
                _ for _ in ()).throw(PermissionError(13, "Permission denied"))
                if k.get("dir") == folder else real(*a, **k))
    w = make_window(autostart=True, library_folder=str(folder))  # a first launch computes
    qtbot.waitUntil(lambda: not w.computing and bool(errors), timeout=COMPUTE_MS)
    assert len(errors) == 1, errors
    message = errors[0][0]
    assert "results library" in message and "\n" not in message.strip(), message
    if damage in ("a file", "proc", "read-only"):
        assert w.library.folder == default_library and str(folder) in message
    assert w.result is not None and w.result.done.all()  # the demo was computed and kept
    assert read_result(w.library.entries[-1].path).done.all()
    if damage == "read-only":
        os.chmod(folder, 0o755)


def test_a_damaged_index_keeps_good_entries_and_finds_the_results_again(
        qtbot, make_window, errors, tmp_path, make_surface):
    """A truncated index.json, or one entry with an unknown field, dropped every entry (the
    .h5 files stayed on disk, unlisted)."""
    folder = tmp_path / "lib"
    folder.mkdir()
    paths = [str(save_result(make_surface(), folder / f"{n}.h5")) for n in ("a", "b", "c")]
    entries = [{"id": n, "name": f"result {n}", "path": p, "recipe": None, "created": "t",
                "done": 35, "total": 35} for n, p in zip("abc", paths, strict=True)]
    entries[1]["colour"] = "red"  # a field a later LossViz might write
    _index(folder, {"entries": entries[:2] + [{"id": 5}]})  # and one entry that is broken
    w = make_window(autostart=False, library_folder=str(folder))
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    names = sorted(e.name for e in w.library.entries)
    assert names == ["c (found again)", "result a", "result b"], names
    assert w.library.get("b").extra == {"colour": "red"}
    assert "1 malformed entry was set aside" in errors[0][0]
    assert "found 1 results again" in errors[0][0]
    saved = json.loads((folder / "index.json").read_text())["entries"]  # repaired on disk
    assert sorted(e["id"] for e in saved) == ["a", "b", "c"]
    assert list(folder.glob("index.json.bad-*"))  # the damaged one kept beside it
    w.close()
    _index(folder, (folder / "index.json").read_text()[:40])  # truncated mid-entry
    errors.clear()
    again = make_window(autostart=False, library_folder=str(folder))
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert sorted(e.path for e in again.library.entries) == sorted(paths)
    assert "could not be read" in errors[0][0]


def test_settings_that_do_not_fit_are_set_aside_once(qtbot, make_window, errors, settings_dir):
    """seed=4294967296 in the settings stopped every launch (OverflowError)."""
    s = settings_store.open_settings()
    s.setValue("compute/seed", 4294967296)
    s.setValue("compute/xnum", "many")
    s.sync()
    w = make_window(autostart=False)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert len(errors) == 1 and "seed = " in errors[0][0] and "xnum = " in errors[0][0]
    assert w.state["seed"] == 0 and w.directions_panel.seed.value() == 0


def test_an_out_of_range_seed_enters_nowhere(qtbot, make_window, errors, tmp_path,
                                             make_surface, capsys):
    """It got into the settings without hand-editing: lossviz surface --demo --seed
    4294967296, open it in the window, quit."""
    from lossviz_core.cli import main

    assert main(["surface", "--demo", "--seed", "4294967296", "--out",
                 str(tmp_path / "s.h5")]) == 2
    assert "seed must be a whole number from 0 to 2147483647" in capsys.readouterr().err
    old = tmp_path / "old.h5"  # a file written before seeds were checked
    from lossviz_core import demo

    recipe = demo.recipe("surface").to_dict()
    recipe["directions"]["seed"] = 4294967296
    save_result(make_surface(specs={"recipe": recipe}), old)
    w = make_window(autostart=False)
    w.actions_.open_result(str(old))
    qtbot.waitUntil(lambda: w.result is not None and w.result.path == str(old), timeout=10_000)
    assert w.state["seed"] == 0
    w.close()
    assert settings_store.open_settings().value("compute/seed") in (0, "0", None)


def test_a_crafted_result_is_one_message_not_a_window_stuck_on_reading(
        qtbot, make_window, errors, tmp_path, make_surface):
    """A specs attribute holding a JSON list left the window on "Reading…" for good; a hard
    link cycle made it read forever (then segfault on Quit)."""
    good = save_result(make_surface(), tmp_path / "good.h5")
    listed = shutil.copy(good, tmp_path / "list.h5")
    with h5py.File(listed, "a") as f:
        f["lossviz"].attrs["specs"] = "[1, 2]"
    looped = shutil.copy(good, tmp_path / "loop.h5")
    with h5py.File(looped, "a") as f:
        f["lossviz/loop"] = f["lossviz"]
    w = make_window(autostart=False)
    w.actions_.open_result(str(listed))
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert "stored specs are a JSON list" in errors[0][0]
    w.actions_.open_result(str(looped))
    qtbot.waitUntil(lambda: w.result is not None and w.result.path == str(looped),
                    timeout=10_000)
    assert len(errors) == 1 and "Reading" not in w.progress_label.text()


def test_the_study_panel_asks_before_running_a_studys_code(qtbot, make_window, errors,
                                                           tmp_path, monkeypatch):
    """The window runs a study's code only after asking, naming the file."""
    from lossviz import dialogs

    code = tmp_path / "net.py"
    code.write_text("from torch import nn\ndef make(num_classes=10):\n"
                    "    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))\n")
    (tmp_path / "s.toml").write_text(f'[models.m]\nmodel = "{code}:make"\nepochs = 1\n')
    asked = []
    monkeypatch.setattr(dialogs, "ask_to_run_code",
                        lambda parent, path: asked.append(path) or False)
    w = make_window(autostart=False)
    panel = w.study_panel
    assert w.open_study(str(tmp_path / "s.toml"), out=str(tmp_path / "out"))
    qtbot.waitUntil(lambda: not panel.running, timeout=COMPUTE_MS)
    panel.run()
    assert asked == [str(code)] and not panel.running
    assert "not trusted" in panel.status_line.text()
    assert not (tmp_path / "out" / "runs").exists() and errors == []
