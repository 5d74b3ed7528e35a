"""The engine must stand alone: importing every lossviz_core module pulls in no GUI."""

import subprocess
import sys

CHECK = r"""
import importlib, pkgutil, sys
import lossviz_core
for m in pkgutil.walk_packages(lossviz_core.__path__, "lossviz_core."):
    importlib.import_module(m.name)
bad = sorted(n for n in sys.modules if n.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "OpenGL"))
print("BAD:" + ",".join(bad))
"""


def test_engine_imports_no_gui_modules():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "BAD:\n" in out.stdout or out.stdout.strip().endswith("BAD:"), out.stdout
