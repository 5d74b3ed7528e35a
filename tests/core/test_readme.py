"""The README's notebook example runs as printed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def block(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    found = [b for b in blocks if containing in b]
    assert found, f"the README shows {containing} from Python"
    return found[0]


def test_the_notebook_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block("job.iter"), "README.md", "exec"), scope)  # noqa: S102 - our own docs
    job = scope["job"]
    assert job.result.complete and (tmp_path / "demo.h5").is_file()
    assert np.isfinite(job.result.values["train_loss"]).all()
    assert job.result.recipe == job.recipe
    assert "/ 441" in capsys.readouterr().out


def test_the_one_line_tracker_example_runs(tmp_path, monkeypatch):
    from lossviz_core.track import read_track

    monkeypatch.chdir(tmp_path)
    exec(compile(block("tracker.step"), "README.md", "exec"), {})  # noqa: S102 - our own docs
    records = read_track(tmp_path / "runs" / "mine")
    assert [r["step"] for r in records] == list(range(10, 101, 10))
    assert all(r["lambda_max"] > 0 and len(r["slice"]["loss"]) == 7 for r in records)
    from lossviz_core.runs import read_run

    steps = read_run(tmp_path / "runs" / "mine" / "steps")  # the window draws their path
    assert [e for e, _ in steps.checkpoints] == list(range(10, 101, 10))
