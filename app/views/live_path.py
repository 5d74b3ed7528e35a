"""The optimizer's path so far on the PCA plane of the checkpoints saved so far.

While a run trains, the landscape under the path is not computed yet (that takes the PCA
plane of the finished run: *Use for PCA plane*); the path itself is cheap: the top two
principal directions of the checkpoints written so far, refitted as each one arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

MAX_LABELS = 8


@dataclass(frozen=True)
class PathSoFar:
    """Each checkpoint's coordinates on the plane (the last at the origin), its step or
    epoch, and the plane's explained variance."""

    labels: np.ndarray
    x: np.ndarray
    y: np.ndarray
    explained_variance: tuple[float, float]
    unit: str = "epoch"


class LivePathView(QWidget):
    """A 2-D plot of a :class:`PathSoFar`, its points labelled with their step or epoch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "PC 1")
        self.plot.setLabel("left", "PC 2")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setAspectLocked(False)
        self.curve = self.plot.plot([], [], pen=pg.mkPen((214, 39, 40), width=2), symbol="o",
                                    symbolSize=6, symbolBrush=(214, 39, 40))
        self.head = self.plot.plot([], [], pen=None, symbol="star", symbolSize=14,
                                   symbolBrush=(255, 200, 0))
        self.texts: list[pg.TextItem] = []
        self.path: PathSoFar | None = None
        self.status = QLabel("The path appears once three checkpoints are saved.")
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.status)

    def set_path(self, path: PathSoFar | None) -> None:
        """Draw ``path`` (None: fewer than three checkpoints so far)."""
        self.path = path
        for t in self.texts:
            self.plot.removeItem(t)
        self.texts.clear()
        if path is None:
            self.curve.setData([], [])
            self.head.setData([], [])
            return
        self.curve.setData(path.x, path.y)
        self.head.setData(path.x[-1:], path.y[-1:])
        n = len(path.x)
        for k in sorted({int(i) for i in np.linspace(0, n - 1, min(n, MAX_LABELS))}):
            t = pg.TextItem(str(int(path.labels[k])), color=(120, 20, 20), anchor=(0, 1))
            t.setPos(float(path.x[k]), float(path.y[k]))
            self.plot.addItem(t)
            self.texts.append(t)
        ev = path.explained_variance
        self.status.setText(f"{n} checkpoints, last at {path.unit} {int(path.labels[-1])}; "
                            f"the plane explains {100 * ev[0]:.0f} % + {100 * ev[1]:.0f} % of "
                            "their variance")
