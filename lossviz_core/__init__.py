"""LossViz engine: loss landscapes f(α, β) = L(θ + α·d₁ + β·d₂) without Qt.

Li, Xu, Taylor, Studer, Goldstein, *Visualizing the Loss Landscape of Neural Nets*,
NeurIPS 2018. This package never imports PySide6, pyqtgraph or OpenGL.
"""

__version__ = "0.1.0"
