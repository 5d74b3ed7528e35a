"""The landscape views: 3-D surface, 2-D contour map, 1-D line, side-by-side comparison.

pyqtgraph is configured here, once, before any view is built: images are row-major so a
grid ``Z[j, i] = f(x[i], y[j])`` (shape (ny, nx)) is drawn without transposing.
"""

import contextlib

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, Qt

# triton's bundled LLVM segfaults when it loads after Mesa's llvmpipe (software OpenGL) has
# loaded its own; torch.optim and torch.compile load it on first use. Load it before any GL
# context can exist.
with contextlib.suppress(Exception):
    import torch._dynamo  # noqa: F401

if QCoreApplication.instance() is None:
    # GL views in different windows must share shader programs (pyqtgraph compiles them once)
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground="k")

from .display import DisplaySettings  # noqa: E402  (config must be set before views import pg items)

__all__ = ["DisplaySettings"]
