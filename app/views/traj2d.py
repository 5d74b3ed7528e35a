"""The PCA trajectory on the 2-D map: path, epoch labels that never overlap, hover box; or
the named models a plane goes through (A, B, C): markers with their names, no path."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF

from lossviz_core.results.result import Trajectory

from .trajectory import checkpoint_lines, label_order, nearest_point, place_labels

TRAJ_COLOR = (215, 38, 45)
LABEL_FILL = (255, 255, 255, 170)  # red on a dark map stays readable
MARKER_PIXELS = 7  # labels keep off the path's markers where they can


class TrajectoryLayer:
    """Everything the map draws for a trajectory, in ``plot`` (a PlotItem).

    One label per checkpoint is made (``labels``); ``layout_labels`` shows the subset that
    fits without overlap at the current zoom, always the first and the last epoch.
    """

    def __init__(self, plot: pg.PlotItem, z: float = 5) -> None:
        self.plot, self.vb = plot, plot.getViewBox()
        self.t: Trajectory | None = None
        self.path = pg.PlotDataItem(
            pen=pg.mkPen(TRAJ_COLOR, width=2),
            symbol="o",
            symbolSize=6,
            symbolPen=pg.mkPen(TRAJ_COLOR),
            symbolBrush=pg.mkBrush(255, 255, 255),
        )
        self.path.setZValue(z)
        plot.addItem(self.path)
        self.labels: list[pg.TextItem] = []
        self.hover_ring = pg.ScatterPlotItem(
            size=13, pen=pg.mkPen(20, 20, 20, width=2), brush=pg.mkBrush(0, 0, 0, 0)
        )
        self.hover_box = pg.TextItem(
            color=(30, 30, 30),
            fill=pg.mkBrush(255, 255, 255, 235),
            border=pg.mkPen(120, 120, 120),
            anchor=(-0.08, 1.1),
        )
        for k, item in enumerate((self.hover_ring, self.hover_box)):
            item.setZValue(z + 3 + k)
            item.hide()
            plot.addItem(item, ignoreBounds=True)
        self.hovered = -1
        self.vb.sigRangeChanged.connect(self.layout_labels)
        self.vb.sigResized.connect(self.layout_labels)

    def set(self, t: Trajectory | None) -> None:
        """Draw ``t`` (None: nothing)."""
        self.clear()
        self.t = t if t is not None and len(t.x) else None
        if self.t is None:
            return
        t = self.t
        named = bool(t.labels)  # models on their plane: points, not a path between them
        self.path.setPen(None if named else pg.mkPen(TRAJ_COLOR, width=2))
        self.path.setSymbolSize(11 if named else 6)
        self.path.setData(np.asarray(t.x, float), np.asarray(t.y, float))
        for k in range(len(t.x)):
            label = pg.TextItem(
                t.labels[k] if named else str(int(t.epochs[k])),
                color=TRAJ_COLOR,
                anchor=(-0.15, 1.0),
                fill=pg.mkBrush(*LABEL_FILL),
            )
            label.setPos(float(t.x[k]), float(t.y[k]))
            label.setZValue(self.path.zValue() + 1)
            self.plot.addItem(label, ignoreBounds=True)
            self.labels.append(label)
        self.layout_labels()

    def clear(self) -> None:
        self.path.setData([], [])
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        self.t = None
        self.show_hover(-1)

    def visible_labels(self) -> list[pg.TextItem]:
        return [lab for lab in self.labels if lab.isVisible()]

    # --- geometry in scene pixels ------------------------------------------------------
    def scene_points(self) -> tuple[np.ndarray, np.ndarray]:
        t = self.t
        if t is None:
            return np.empty(0), np.empty(0)
        pts = [
            self.vb.mapViewToScene(QPointF(float(x), float(y)))
            for x, y in zip(t.x, t.y, strict=True)
        ]
        return np.array([p.x() for p in pts]), np.array([p.y() for p in pts])

    def label_rect(self, k: int, anchor: tuple[float, float]) -> QRectF:
        """Where label ``k`` lands in the scene (pixels) with ``anchor``."""
        t = self.t
        p = self.vb.mapViewToScene(QPointF(float(t.x[k]), float(t.y[k])))
        size = self.labels[k].textItem.boundingRect().size()
        return QRectF(
            p.x() - anchor[0] * size.width(),
            p.y() - anchor[1] * size.height(),
            size.width(),
            size.height(),
        )

    def layout_labels(self, *_args: object) -> None:
        """Show the labels that fit without overlap; first and last always."""
        if self.t is None or not self.labels:
            return
        px, py = self.scene_points()
        n = len(self.labels)
        r = MARKER_PIXELS / 2
        markers = [QRectF(x - r, y - r, 2 * r, 2 * r) for x, y in zip(px, py, strict=True)]
        chosen = place_labels(
            label_order(px, py), self.label_rect, must=(0, n - 1), obstacles=markers
        )
        for k, label in enumerate(self.labels):
            if k in chosen:
                label.setAnchor(chosen[k])
                label.setVisible(True)
            else:
                label.setVisible(False)

    # --- hover -------------------------------------------------------------------------
    def point_at(self, scene_pos: QPointF) -> int | None:
        px, py = self.scene_points()
        return nearest_point(px, py, scene_pos.x(), scene_pos.y())

    def show_hover(self, k: int) -> None:
        self.hovered = k
        if k < 0 or self.t is None:
            self.hover_ring.hide()
            self.hover_box.hide()
            return
        x, y = float(self.t.x[k]), float(self.t.y[k])
        self.hover_ring.setData([x], [y])
        self.hover_box.setText("\n".join(checkpoint_lines(self.t, k)))
        # keep the box inside the plot: to the left of points in the right third
        (x0, x1), _ = self.vb.viewRange()
        right = x > x0 + 2 * (x1 - x0) / 3
        self.hover_box.setAnchor((1.08, 1.1) if right else (-0.08, 1.1))
        self.hover_box.setPos(x, y)
        self.hover_ring.show()
        self.hover_box.show()
