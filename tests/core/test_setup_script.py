"""The set-up script (the README's two commands run it): a virtual environment in the
checkout, never the system's site-packages; one line when venv itself is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "scripts" / "setup.sh"


def _no_venv_python(tmp_path: Path, real: str) -> Path:
    """A Python whose `-m venv` is missing, as on a Debian without python3-venv."""
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\n"
                    'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then\n'
                    '  echo "The virtual environment was not created successfully" >&2; exit 1\n'
                    "fi\n"
                    f'exec {real} "$@"\n')
    fake.chmod(0o755)
    return fake


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to drop root")
def test_a_user_without_venv_is_told_what_to_install():
    tmp_path = Path(tempfile.mkdtemp(prefix="lossviz-setup-"))  # a user can reach it
    tmp_path.chmod(0o777)
    # a Python any user may run (this test's own may live under /root)
    real = "/usr/bin/python3" if os.getuid() == 0 and Path("/usr/bin/python3").exists() \
        else sys.executable
    env = {**os.environ, "PYTHON": str(_no_venv_python(tmp_path, real)),
           "LOSSVIZ_VENV": str(tmp_path / "venv"), "HOME": str(tmp_path)}
    # the script as a user's checkout holds it, where that user can read it (this checkout
    # may sit in a folder only root may enter); it fails before it needs anything else there
    script = tmp_path / "checkout" / "scripts" / "setup.sh"
    script.parent.mkdir(parents=True)
    shutil.copy(SETUP, script)
    for folder in (script.parent, script.parent.parent):
        folder.chmod(0o755)
    script.chmod(0o755)
    cmd = [str(script), "app"]
    if os.getuid() == 0:  # as a user: nobody
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", *cmd]
    else:
        cmd = ["bash", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1
    lines = [ln for ln in done.stderr.splitlines() if "venv" in ln]
    assert len(lines) == 1
    assert "is not available: install it (sudo apt-get install python3." in lines[0]
    assert not (tmp_path / "venv").exists()
    shutil.rmtree(tmp_path)


def test_an_unknown_target_is_one_line():
    done = subprocess.run(["bash", str(SETUP), "everything"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == "setup: unknown target 'everything' (app or test)"


def test_the_ci_checks_the_readme_command_on_a_stock_python():
    """The app command against the system's externally managed python3 runs in CI (it
    installs torch: minutes), from .ci/run beside the test command."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/run-tests.sh" in ci and "bash scripts/check-stock-python.sh" in ci
    check = (ROOT / "scripts" / "check-stock-python.sh").read_text()
    assert "EXTERNALLY-MANAGED" in check and "run-app.sh --version" in check
