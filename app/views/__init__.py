"""The landscape views: 3-D surface, 2-D contour map, 1-D line, side-by-side comparison.

pyqtgraph is configured here, once, before any view is built: images are row-major so a
grid ``Z[j, i] = f(x[i], y[j])`` (shape (ny, nx)) is drawn without transposing.
"""

import contextlib
import sys

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, Qt


def _settle_triton() -> None:
    """triton's bundled LLVM segfaults when it loads after Mesa's llvmpipe (software OpenGL)
    has loaded its own; torch.optim and torch.compile load it on first use. With a CUDA GPU
    (where compiling pays) load it now, before any GL context exists; without one it is never
    used, so keep it out of the process (saves ~1 s of start-up importing torch._dynamo)."""
    import torch

    if torch.cuda.is_available():
        with contextlib.suppress(Exception):
            import torch._dynamo  # noqa: F401
    elif "triton" not in sys.modules:
        sys.modules["triton"] = None  # `import triton` now fails: torch runs without it


_settle_triton()

if QCoreApplication.instance() is None:
    # GL views in different windows must share shader programs (pyqtgraph compiles them once)
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground="k")

from .display import DisplaySettings  # noqa: E402  (config must be set before views import pg items)

__all__ = ["DisplaySettings"]
