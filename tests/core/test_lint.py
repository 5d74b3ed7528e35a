"""ruff (configured in pyproject.toml) finds nothing in the repository."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_finds_nothing():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_engine_package_is_installed():
    """pyproject lists packages one by one (app/ installs as `lossviz`): none may be missing,
    or a built wheel or bundle lacks it while an editable install hides the gap."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    listed = set(re.findall(r'"(lossviz_core[\w.]*|lossviz[\w.]*)"',
                            (root / "pyproject.toml").read_text()))
    found = {".".join(p.parent.relative_to(root).parts)
             for p in (root / "lossviz_core").rglob("__init__.py")}
    found |= {"lossviz" + ".".join(("",) + p.parent.relative_to(root / "app").parts)
              for p in (root / "app").rglob("__init__.py")}
    assert found - listed == set()
