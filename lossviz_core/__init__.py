"""LossViz engine: loss landscapes f(α, β) = L(θ + α·d₁ + β·d₂) without Qt.

Li, Xu, Taylor, Studer, Goldstein, *Visualizing the Loss Landscape of Neural Nets*,
NeurIPS 2018. This package never imports PySide6, pyqtgraph or OpenGL.
"""

import os as _os

# torch.compile's autotuning results outlive the process here, so a second run of the same
# model skips most of the warm-up. Set before torch is imported: torch writes its /tmp
# default into the environment when parts of torch._dynamo load (e.g. on optimizer.step()).
_os.environ.setdefault(
    "TORCHINDUCTOR_CACHE_DIR", _os.path.join(_os.path.expanduser("~"), ".cache", "lossviz", "inductor")
)

__version__ = "0.1.0"
