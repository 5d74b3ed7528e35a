"""The README's notebook example runs as printed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_notebook_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README shows the engine from Python"
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)  # noqa: S102 - our own documentation
    job = scope["job"]
    assert job.result.complete and (tmp_path / "demo.h5").is_file()
    assert np.isfinite(job.result.values["train_loss"]).all()
    assert job.result.recipe == job.recipe
    assert "/ 441" in capsys.readouterr().out
