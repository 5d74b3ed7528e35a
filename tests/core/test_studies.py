"""Studies: the bundled digits-depth study end to end (its quick profile), caching, edits,
a killed run resumed, sweeps, and one-line errors for malformed files.

One quick run of the bundled study (module fixture) serves the tests that read its outputs;
the edit and kill tests work on copies of its folder, so each does only its own work.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lossviz_core.cli import main
from lossviz_core.progress import drain
from lossviz_core.results.paths import OutputLock
from lossviz_core.results.store import read_result
from lossviz_core.runs import read_run
from lossviz_core.studies import (
    StudyError,
    iter_study,
    load_study,
    make_plan,
    parse_study,
    read_figure_specs,
    study_status,
    write_study,
)
from lossviz_core.studies.catalog import BUNDLED
from lossviz_core.studies.outputs import figure_files, is_done, progress
from lossviz_core.studies.runner import grid_recipe
from lossviz_core.studies.state import StudyState

ROOT = Path(__file__).resolve().parents[2]
QUICK_PANELS = 4  # the quick profile: depths 6 and 14, with and without skips


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The bundled digits-depth study, --quick, run once through the CLI."""
    out = tmp_path_factory.mktemp("study") / "digits-depth-quick"
    code = main(["study", "run", "digits-depth", "--quick", "--out", str(out)])
    assert code == 0
    return out


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".*.lock"))
    return dst


def _study_file(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = (BUNDLED / "digits-depth.toml").read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "digits-depth.toml"
    path.write_text(text)
    return path


# --- end to end -----------------------------------------------------------------------


def test_digits_depth_runs_end_to_end(quick):
    study = load_study("digits-depth", "quick")
    plan = make_plan(study, quick)
    state = StudyState.load(quick)
    assert all(is_done(u, state) for u in plan.units)
    for u in plan.of_kind("train"):
        run = read_run(u.path)
        assert [e for e, _ in run.checkpoints] == list(range(u.work + 1))
    for u in plan.of_kind("grid"):
        r = read_result(u.path)
        assert r.done.all() and r.recipe is not None
    pca = read_result(plan.find("grid", "pca").path)
    assert pca.trajectory is not None and len(pca.trajectory.epochs) == 4  # epochs 0..3
    line = read_result(plan.find("grid", "interpolation").path)
    assert line.is_line and {"train_loss", "test_loss", "train_acc", "test_acc"} <= set(line.values)


def test_the_depth_figure_has_its_panels_on_one_colour_scale(quick):
    specs = read_figure_specs(quick / "figures" / "depth.png")
    assert specs["study"]["name"] == "digits-depth" and specs["study"]["profile"] == "quick"
    assert "[models." in specs["study"]["text"]  # the whole study file travels
    panels = specs["panels"]
    assert len(panels) == QUICK_PANELS
    assert [p["result"] for p in panels] == ["plane-resnet6", "plane-resnet14",
                                             "plane-resnet6-noskip", "plane-resnet14-noskip"]
    assert all(p["recipe"]["directions"]["method"] == "random" for p in panels)
    fig = specs["figure"]
    assert (fig["rows"], fig["cols"]) == (2, 2)
    scale = fig["colour_scale"]
    assert scale["colorbars"] == 1 and scale["vmax"] == 10.0
    lo = min(float(read_result(p["file"]).values["train_loss"].min()) for p in panels)
    assert scale["vmin"] == pytest.approx(lo)  # one range over every panel
    # the PDF carries the same, read by an independent reader too
    pdf = read_figure_specs(quick / "figures" / "depth.pdf")
    assert [p["key"] for p in pdf["panels"]] == [p["key"] for p in panels]
    pypdf = pytest.importorskip("pypdf")
    subject = pypdf.PdfReader(str(quick / "figures" / "depth.pdf")).metadata["/Subject"]
    assert len(json.loads(subject)["panels"]) == QUICK_PANELS


def test_a_figure_regenerates_its_study(quick, tmp_path):
    study = load_study(quick / "figures" / "pca.png")  # the study read from the figure
    assert study.name == "digits-depth" and study.profile == "quick"
    assert make_plan(study, quick).find("figure", "pca").key == \
        make_plan(load_study("digits-depth", "quick"), quick).find("figure", "pca").key


def test_a_second_run_does_no_work(quick):
    figure = quick / "figures" / "depth.png"
    before = figure.stat().st_mtime_ns
    summary = drain(iter_study(load_study("digits-depth", "quick"), quick))
    assert summary.ok and summary.did_nothing
    assert (summary.epochs, summary.points) == (0, 0)
    assert figure.stat().st_mtime_ns == before


def test_editing_one_value_recomputes_only_what_depends_on_it(quick, tmp_path):
    out = _copy(quick, tmp_path)
    # a result's range: that result and its figure
    path = _study_file(tmp_path, ('x = "-0.5:1.5:9"', 'x = "-0.5:1.5:7"'))
    s = drain(iter_study(load_study(path, "quick"), out))
    assert (s.trained, s.computed, s.drawn) == ([], ["interpolation"], ["interpolation"])
    assert s.points == 7 and s.epochs == 0
    # a model's batch size: that run, the result made from it, its figure; not the shared init
    path = _study_file(tmp_path, ('x = "-0.5:1.5:9"', 'x = "-0.5:1.5:7"'),
                       ("batch_size = 512 ", "batch_size = 256 "))
    s = drain(iter_study(load_study(path, "quick"), out))
    assert (s.initialized, s.trained, s.computed, s.drawn) == \
        ([], ["large-batch"], ["interpolation"], ["interpolation"])
    assert s.epochs == 6  # the quick profile's epochs of large-batch


def test_a_killed_run_completes_when_started_again(quick, tmp_path):
    out = _copy(quick, tmp_path)
    study = load_study("digits-depth", "quick")
    plan = make_plan(study, out)
    gone = [u for u in plan.units if "resnet14" in u.name or u.name == "depth"]
    for u in gone:  # the second depth's runs and planes, and the figure, are to do again
        for p in figure_files(u) if u.kind == "figure" else [u.path]:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lossviz_core.cli", "study", "run", "digits-depth", "--quick",
         "--out", str(out)], stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    lines, finished = [], False
    try:
        for line in proc.stderr:
            lines.append(line)
            finished = finished or line.startswith("lossviz: done ")
            # the first unit is complete and the next run has saved an epoch: kill it now
            if finished and line.startswith("lossviz:   epoch 1/"):
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(lines)
    first, *rest = [u for u in plan.units if u in gone]
    state = StudyState.load(out)
    assert is_done(first, state)
    killed = next(u for u in rest if u.kind == "train")
    assert not is_done(killed, state) and progress(killed)[0] >= 1  # a run cut short
    summary = drain(iter_study(study, out))
    assert summary.ok
    assert first.name not in summary.trained  # what finished before the kill stays done
    assert killed.name in summary.trained  # a cut run trains again from the start
    status = study_status(study, out)
    assert status.count("done") == len(plan.units)
    for u in gone:
        if u.kind == "grid":
            assert read_result(u.path).done.all()
        elif u.kind == "train":
            assert read_run(u.path).checkpoints[-1][0] == u.work


def test_a_stopped_grid_resumes_with_the_points_it_has(tmp_path):
    from lossviz_core import demo
    from lossviz_core.progress import Chunk
    from lossviz_core.studies import UnitProgress

    study = parse_study(f"""
[results.r]
model = "digits_cnn"
checkpoint = "{demo.final_checkpoint()}"
x = "-1:1:9"
y = "-1:1:9"
""")
    gen = iter_study(study, tmp_path)
    for event in gen:  # stop at the first chunk of points: the file keeps them
        if isinstance(event, UnitProgress) and isinstance(event.item, Chunk):
            break
    gen.close()
    unit = make_plan(study, tmp_path).find("grid", "r")
    kept = int(read_result(unit.path).done.sum())
    assert 0 < kept < 81
    summary = drain(iter_study(study, tmp_path))
    assert summary.points == 81 - kept and read_result(unit.path).done.all()


# --- the file format ----------------------------------------------------------------------

SWEPT = """
[sweeps]
depth = [20, 56, 110]
shortcut = [true, false]

[models."resnet{depth}{shortcut?:-noskip}"]
sweep = { depth = "depth", shortcut = [true, false] }
model = "resnet{depth}{shortcut?:_noshort}"
dataset = "cifar10"
epochs = 2

[models."b{batch}"]
sweep = { batch = [64, 4096] }
model = "resnet20"
dataset = "cifar10"
batch_size = "{batch}"
init = "b64"

[results."plane-{depth}{shortcut?:-noskip}"]
sweep = ["depth", "shortcut"]
model = "resnet{depth}{shortcut?:-noskip}"
x = "-1:1:3"
y = "-1:1:3"

[results.line]
model = "b64"
model_b = "b4096"
method = "target"
"""


def test_sweeps_expand_to_the_product():
    text = SWEPT + """
[figures."depth-{split}"]
sweep = { split = ["train", "test"], shortcut = "shortcut", depth = "depth" }
rows = "shortcut"
cols = "depth"
results = "plane-{depth}{shortcut?:-noskip}"
"""
    s = parse_study(text)
    assert list(s.models) == ["resnet20", "resnet20-noskip", "resnet56", "resnet56-noskip",
                              "resnet110", "resnet110-noskip", "b64", "b4096"]
    assert s.models["resnet56-noskip"].train.model == "resnet56_noshort"
    assert s.models["resnet56-noskip"].values == {"depth": 56, "shortcut": False}
    assert s.models["b4096"].train.batch_size == 4096  # a whole placeholder keeps its type
    assert s.models["b4096"].init == "b64"
    assert len(s.results) == 7 and s.results["line"].line
    assert list(s.figures) == ["depth-train", "depth-test"]
    fig = s.figures["depth-test"]
    assert (fig.rows, fig.cols) == (2, 3)
    assert fig.panels == ("plane-20", "plane-56", "plane-110",
                          "plane-20-noskip", "plane-56-noskip", "plane-110-noskip")
    plan = make_plan(s, "/tmp/a")
    assert len(plan.of_kind("train")) == 8 and len(plan.of_kind("init")) == 1
    b4096 = plan.find("train", "b4096")
    assert b4096.deps == (plan.find("init", "b64").key,)
    assert plan.find("train", "b64").deps == b4096.deps  # both start from that init
    line = plan.find("grid", "line")
    assert set(line.deps) == {plan.find("train", "b64").key, b4096.key}
    # keys do not depend on where the outputs go
    assert [u.key for u in make_plan(s, "/elsewhere").units] == [u.key for u in plan.units]


BASE = '[models.a]\nmodel = "digits_cnn"\nepochs = 3\n'


@pytest.mark.parametrize("text, line, key, words", [
    (BASE + "epoch = 3\n", 4, "models.a.epoch", "unknown key"),
    (BASE.replace("epochs = 3", 'epochs = "ten"'), 3, "models.a.epochs", "whole number"),
    (BASE.replace("epochs = 3", "epochs = 0"), 3, "models.a.epochs", ">= 1"),
    (BASE + "optimizer = \"adamw\"\n", 4, "models.a.optimizer", "adamw"),
    ('[sweeps]\ndepth = 20\n' + BASE, 2, "sweeps.depth", "list of values"),
    ('[sweeps]\ndepth = []\n', 2, "sweeps.depth", "at least one"),
    ('[sweeps]\ndepth = [6, "x"]\n', 2, "sweeps.depth", "one type"),
    ('[models."m{d}"]\nsweep = { d = [[6]] }\nmodel = "digits_cnn"\n', 2,
     'models."m{d}".sweep.d', "plain values"),
    ('[models."m{d}"]\nmodel = "digits_cnn"\nsweep = ["nope"]\n', 3, 'models."m{d}".sweep',
     "unknown sweep"),
    ('[models.m]\nsweep = { d = [6, 14] }\nmodel = "digits_resnet{d}"\n', 1, "models.m",
     "two entries named"),
    ('[models.m]\nmodel = "digits_resnet{depth}"\n', 2, "models.m.model", "unknown placeholder"),
    (BASE + "epochs = = 3\n", 4, "models.a.epochs", "invalid toml"),
    ('[results.r]\nmodel = "a"\nx = "1:0:5"\n', 3, "results.r.x", "greater than min"),
    (BASE + '[results.r]\nmodel = "a"\nmethod = "pcaa"\n', 6, "results.r.method",
     "direction method"),
    (BASE + '[results.r]\nmodel = "b"\nmethod = "pca"\n', 5, "results.r.model", "pca"),
    (BASE + '[results.r]\nmodel = "a"\n[figures.f]\nresults = ["q"]\n', 7, "figures.f.results",
     "no result named"),
    (BASE + '[results.r]\nmodel = "a"\n[figures.f]\nresults = ["r"]\nrows = "depth"\n', 8,
     "figures.f.rows", "swept variable"),
    ("[defaults.model]\nlr = -1\n" + BASE, 2, "models.a.lr", "positive"),
    ("[studyy]\nname = 1\n", 1, "studyy", "unknown section"),
])
def test_a_malformed_file_is_one_line_naming_the_key_and_its_line(text, line, key, words):
    with pytest.raises(StudyError) as err:
        parse_study(text, label="study.toml")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"study.toml:{line}: {key}:"), msg
    assert words.lower() in msg.lower(), msg


def test_the_cli_reports_a_malformed_file_in_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(BASE + "epochs = = 3\n")
    assert main(["study", "run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lossviz: error: bad.toml:4: models.a.epochs:")


def test_bundled_studies_parse_and_the_seed_report_is_estimated(capsys):
    assert main(["study", "list"]) == 0
    assert {"digits-depth", "seed-report"} <= set(capsys.readouterr().out.split())
    s = load_study("seed-report")
    assert len(s.models) == 8 and len(s.results) == 8 and set(s.figures) == {
        "depth", "pca", "interpolation"}
    assert s.models["resnet110-noskip"].train.epochs == 300
    status = study_status(s, "/nonexistent/seed-report")
    assert status.count("pending") == len(status.units)
    assert all(u.left.source in ("estimated", "measured") for u in status.units)
    assert 2 * 3600 < status.seconds_left < 5 * 3600


# --- status, failures, new studies ----------------------------------------------------------


def test_status_shows_failed_blocked_and_running(tmp_path):
    bad = tmp_path / "not-a-checkpoint.pt"
    bad.write_text("nothing")
    text = f"""
[results.good]
model = "digits_cnn"
checkpoint = "{bad}"
x = "-1:1:3"
y = "-1:1:3"
[figures.f]
results = ["good"]
"""
    study = parse_study(text, tmp_path / "s.toml")
    summary = drain(iter_study(study, tmp_path / "out"))
    assert list(summary.failed) == ["grid good"] and summary.skipped == ["figure f"]
    status = study_status(study, tmp_path / "out")
    grid = status.of("grid", "good")
    assert grid.state == "failed" and grid.message
    assert status.of("figure", "f").state == "blocked"
    grid.unit.path.parent.mkdir(exist_ok=True)  # (a failed run leaves no empty folder)
    with OutputLock.acquire(grid.unit.path):  # another process writing it: running
        assert study_status(study, tmp_path / "out").of("grid", "good").state == "running"


def test_a_new_study_from_result_files_recomputes_the_same_recipes(quick, tmp_path):
    plan = make_plan(load_study("digits-depth", "quick"), quick)
    files = [plan.find("grid", n).path for n in ("plane-resnet6", "interpolation")]
    path = write_study(tmp_path / "mine.toml", files, name="mine")
    study = load_study(path)
    assert list(study.results) == [f.stem for f in files]
    assert set(study.figures) == {"planes", "lines"}
    new = make_plan(study, tmp_path / "out")
    for f in files:
        again = grid_recipe(new, new.find("grid", f.stem))
        old = read_result(f).recipe
        assert again.replace(compute=old.compute) == old


def test_the_cli_status_line(quick, capsys):
    assert main(["study", "status", "digits-depth", "--quick", "--out", str(quick)]) == 0
    out = capsys.readouterr().out
    assert "everything is done" in out and "16 done" in out
    assert main(["study", "run", "digits-depth", "--quick", "--out", str(quick)]) == 0
    assert "nothing to do" in capsys.readouterr().err
