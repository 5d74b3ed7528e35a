"""Landscapes side by side for papers: N results in a grid, one colour scale, linked cameras.

Modes: ``2d`` (heatmaps with isolines), ``3d`` (surfaces whose cameras move together),
``difference`` (a − b for two surfaces on the same grid, a diverging scale centred at 0)
and ``lines`` (1-D results overlaid in one plot). ``auto`` picks lines for 1-D results and
3-D otherwise; 1-D results beside surfaces get one overlay pane of their own (never dropped).
The overlay draws the Display panel's quantity, both losses, or any one quantity the
results hold (*Curves*). Every pane is titled by what distinguishes its result from the
others.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lossviz_core.results.quantities import quantity
from lossviz_core.results.result import SurfaceResult

from . import paths1d
from .colormaps import display_values, value_range
from .contour2d import ContourView2D
from .display import DisplaySettings, render_plot_image, validate_size
from .surface3d import SurfaceView3D

MODES = {"auto": "auto", "2d": "2-D maps", "3d": "3-D surfaces",
         "difference": "difference a − b", "lines": "1-D overlay"}
_TITLE_PX = 24  # title band above each pane in an exported image, at window scale
LINE_COLORS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
               (140, 86, 75))
CURVES = {"display": "the Display quantity", "losses": "train + test loss"}
LINE_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine,
               Qt.PenStyle.DashDotLine)
LINES_TITLE = "1-D results"
EMPTY = ("Nothing to compare yet: right-click a result in the Results list and choose "
         "'Add to compare' (or Compare ▸ Add current).")


def grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns for ``n`` panes: pairs side by side (the seed report's figures)."""
    if n <= 3:
        return 1, max(n, 1)
    cols = 2 if n in (4,) else 3 if n <= 9 else int(np.ceil(np.sqrt(n)))
    return int(np.ceil(n / cols)), cols


def difference(a: SurfaceResult, b: SurfaceResult, q: str) -> SurfaceResult:
    """a − b of quantity ``q`` on the same grid (a ValueError otherwise)."""
    if a.shape != b.shape or not np.allclose(a.x, b.x) or (
            (a.y is None) != (b.y is None) or (a.y is not None and not np.allclose(a.y, b.y))):
        raise ValueError("a difference needs two results on the same grid")
    d = SurfaceResult.empty(a.x, a.y, (q,))
    both = a.done & b.done
    d.values[q][both] = a.values[q][both] - b.values[q][both]
    d.done[:] = both
    return d


class CompareView(QWidget):
    """N results on one scale. ``set_results(results, titles)``; ``mode`` as above."""

    modeChanged = Signal(str)

    def __init__(self, settings: DisplaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.results: list[SurfaceResult | None] = []  # None: a panel not computed yet
        self.titles: list[str] = []
        self.columns: int | None = None  # None: pairs side by side (grid_shape)
        self.vmax: float | None = None  # a study figure's clip (its vmax), data units
        self.capped = False  # the shared scale was capped at vmax (the data reach above)
        self.panes: list[QWidget] = []
        self.labels: list[QLabel] = []
        self._syncing = False
        self.mode_box = QComboBox()
        for value, label in MODES.items():
            self.mode_box.addItem(label, value)
        self.mode_box.setToolTip("How the results are laid out: heatmaps, surfaces with linked "
                                 "cameras, the difference of two surfaces, or 1-D curves")
        self.mode_box.currentIndexChanged.connect(lambda _i: self._rebuild())
        self.curves = QComboBox()  # which quantities the 1-D overlay draws
        for value, label in CURVES.items():
            self.curves.addItem(label, value)
        self.curves.setToolTip("The 1-D overlay's curves: the Display panel's quantity, the "
                               "train and test loss, or one quantity the results hold")
        self.curves.currentIndexChanged.connect(lambda _i: self._draw_lines())
        self.plot = None  # the 1-D overlay's plot item (None: no overlay shown)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove every result from the comparison")
        self.clear_button.clicked.connect(lambda: self.set_results([], []))
        self.info = QLabel("")
        self.info.setWordWrap(True)  # a long hint must not make the window wider
        self.info.setMinimumWidth(50)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show as"))
        bar.addWidget(self.mode_box)
        bar.addWidget(self.curves)
        bar.addWidget(self.clear_button)
        bar.addWidget(self.info, 1)
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(bar)
        outer.addLayout(self.grid, 1)
        settings.changed.connect(self.refresh)
        self._rebuild()

    # ---- contract -------------------------------------------------------------------
    @property
    def mode(self) -> str:
        chosen = self.mode_box.currentData()
        if chosen != "auto":
            return chosen
        shown = self.present
        return "lines" if shown and all(r.is_line for r in shown) else "3d"

    @property
    def present(self) -> list[SurfaceResult]:
        """The results shown (the panels not computed yet left out)."""
        return [r for r in self.results if r is not None]

    def set_mode(self, mode: str) -> None:
        self.mode_box.setCurrentIndex(max(self.mode_box.findData(mode), 0))

    def set_results(self, results, titles=None, *more: str,  # noqa: ANN001
                    cols: int | None = None, vmax: float | None = None) -> None:
        """Show ``results`` (a list; ``None`` for a panel not computed yet) titled by
        ``titles``, in ``cols`` columns (default: pairs side by side), the shared colour
        scale capped at ``vmax`` (a study figure's, as the paper's). The two-pane form
        ``set_results(left, right, left_title, right_title)`` of earlier versions works too."""
        if results is None or isinstance(results, SurfaceResult):  # (left, right, lt, rt)
            pair = [(results, more[0] if more else ""), (titles, more[1] if len(more) > 1
                                                         else "")]
            pair = [(r, t) for r, t in pair if r is not None]
            results, titles = [r for r, _ in pair], [t for _, t in pair]
        self.results, self.titles = list(results), list(titles or [])
        self.titles += [""] * (len(self.results) - len(self.titles))
        self.columns, self.vmax = cols, vmax
        self._rebuild()

    @property
    def left(self) -> QWidget | None:
        return self.panes[0] if self.panes else None

    @property
    def right(self) -> QWidget | None:
        return self.panes[1] if len(self.panes) > 1 else None

    def add(self, result: SurfaceResult, title: str) -> None:
        kept = [(r, t) for r, t in zip(self.results, self.titles, strict=True) if r is not None]
        self.results, self.titles = [r for r, _ in kept], [t for _, t in kept]
        self.columns = self.vmax = None  # a study's layout ends when a result is added
        self.results.append(result)
        self.titles.append(title)
        self._rebuild()

    def refresh(self) -> None:
        """A result got more points or the display changed: redraw on the shared scale."""
        self._draw_lines()
        if self.mode == "lines":
            return
        for pane in self.panes:
            if isinstance(pane, (SurfaceView3D, ContourView2D)):
                pane.set_value_range(None)
                pane.refresh()
        self._share_range()

    def shared_range(self) -> tuple[float, float]:
        """(vmin, vmax) over every shown result in display units (after clip and log)."""
        grids = [p.display_grid() for p in self.panes
                 if isinstance(p, (SurfaceView3D, ContourView2D)) and p.result is not None]
        lo, hi = value_range(*grids) if grids else (0.0, 1.0)
        self.capped = False
        if self.vmax is not None:
            cap = display_values(np.array([self.vmax], float), self.settings.log_scale,
                                 None)[0]
            if np.isfinite(cap) and lo < cap < hi:
                hi, self.capped = float(cap), True  # exports cap where the screen does
        return lo, hi

    def shape(self, n: int) -> tuple[int, int]:
        """Rows and columns for ``n`` panes: the study figure's columns, else pairs."""
        if self.columns:
            cols = max(1, min(self.columns, n))
            return -(-n // cols), cols
        return grid_shape(n)

    # ---- building the panes -----------------------------------------------------------
    def _clear(self) -> None:
        for w in self.panes + self.labels:
            self.grid.removeWidget(w)
            w.deleteLater()
        self.panes, self.labels = [], []
        self.plot = None

    def _rebuild(self) -> None:
        self._clear()
        mode = self.mode
        self.info.setText("" if self.results else EMPTY)
        if not self.results:
            return
        lines = [r for r in self.results if r is not None and r.is_line]
        self._offer_curves(lines)
        if mode == "lines":
            self._build_lines()
            surfaces = sum(r is not None and not r.is_line for r in self.results)
            if surfaces:
                self.info.setText(f"{surfaces} surface{'s' * (surfaces > 1)} not in the 1-D "
                                  "overlay: show as 2-D maps or 3-D surfaces to see them")
            return
        shown = self._shown(mode)
        rows, cols = self.shape(len(shown) + bool(lines))
        for i, (result, title) in enumerate(shown):
            label = QLabel(title)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("font-weight: bold")
            label.setWordWrap(True)
            r, c = divmod(i, cols)
            if result is None:
                pane = QLabel("not computed yet")
                pane.setAlignment(Qt.AlignmentFlag.AlignCenter)
                pane.setStyleSheet("color: #777; background: #f4f4f4; border: 1px dashed #bbb")
                pane.setMinimumSize(80, 60)
            else:
                pane = SurfaceView3D(self.settings) if mode == "3d" else ContourView2D(
                    self.settings)
            self.grid.addWidget(label, 2 * r, c)
            self.grid.addWidget(pane, 2 * r + 1, c)
            self.grid.setRowStretch(2 * r + 1, 1)
            if result is not None:
                pane.set_result(result)
            self.panes.append(pane)
            self.labels.append(label)
            if isinstance(pane, SurfaceView3D):
                pane.gl.cameraChanged.connect(lambda src=pane: self._follow(src))
        if lines:  # the 1-D results beside the surfaces: one overlay pane, after them
            r, c = divmod(len(shown), cols)
            label = QLabel(LINES_TITLE)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("font-weight: bold")
            self.grid.addWidget(label, 2 * r, c)
            self.grid.addWidget(self._line_pane(), 2 * r + 1, c)
            self.grid.setRowStretch(2 * r + 1, 1)
            self.labels.append(label)
            self._draw_lines()
        if mode != "difference":
            self._share_range()
        if mode == "3d" and self.panes:
            self._follow(self.panes[0])

    def _shown(self, mode: str) -> list[tuple[SurfaceResult, str]]:
        surfaces = [(r, t) for r, t in zip(self.results, self.titles, strict=True)
                    if r is None or not r.is_line]
        if mode != "difference":
            return surfaces
        surfaces = [(r, t) for r, t in surfaces if r is not None]
        if len(surfaces) != 2:
            self.info.setText("A difference needs exactly two surfaces; showing them as maps.")
            return surfaces
        (a, ta), (b, tb) = surfaces
        q = a.main_quantity() if self.settings.quantity == "auto" else self.settings.quantity
        try:
            return [(difference(a, b, q), f"{ta}  −  {tb}")]
        except (ValueError, KeyError) as exc:
            self.info.setText(f"No difference: {exc}; showing the two maps.")
            return surfaces

    def _line_pane(self) -> pg.PlotWidget:
        widget = pg.PlotWidget()
        widget.setBackground("w")
        self.plot = widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "α")
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.panes.append(widget)
        return widget

    def _build_lines(self) -> None:
        self.grid.addWidget(self._line_pane(), 0, 0)
        self._draw_lines()

    def _offer_curves(self, lines: list[SurfaceResult]) -> None:
        """The Curves list: the fixed choices, then every quantity the 1-D results hold."""
        held = list(dict.fromkeys(q for r in lines for q in r.quantities))
        chosen = self.curves.currentData()
        self.curves.blockSignals(True)
        while self.curves.count() > len(CURVES):
            self.curves.removeItem(self.curves.count() - 1)
        for q in held:
            self.curves.addItem(quantity(q).label, q)
        self.curves.setCurrentIndex(max(self.curves.findData(chosen), 0))
        self.curves.blockSignals(False)
        self.curves.setVisible(bool(lines))

    def line_quantities(self, r: SurfaceResult) -> list[str]:
        """The quantities of ``r`` the 1-D overlay draws (the Curves choice)."""
        chosen = self.curves.currentData()
        if chosen == "losses":
            return [q for q in ("train_loss", "test_loss") if q in r.values] or [
                r.main_quantity()]
        if chosen not in (None, "display"):
            return [chosen] if chosen in r.values else []
        q = self.settings.quantity
        return [q if q in r.values else r.main_quantity()]

    def _draw_lines(self) -> None:
        if self.plot is None:
            return
        self.plot.clear()
        self.legend.clear()
        drawn: list[str] = []
        for k, (r, title) in enumerate(zip(self.results, self.titles, strict=True)):
            if r is None or not r.is_line:
                continue
            color = LINE_COLORS[k % len(LINE_COLORS)]
            qs = self.line_quantities(r)
            for j, q in enumerate(qs):
                style = LINE_STYLES[j % len(LINE_STYLES)]
                name = title if len(qs) == 1 else f"{title}, {quantity(q).label}"
                self._draw_line(r, q, name, pg.mkPen(color, width=2, style=style))
                drawn.append(q)
        if drawn:
            same = len(set(drawn)) == 1
            self.plot.setLabel("left", quantity(drawn[0]).axis_label() if same else "loss")
        self.plot.setLogMode(y=self.settings.log_scale)

    def _draw_line(self, r: SurfaceResult, q: str, name: str, pen: object) -> None:
        """One curve of the overlay, with its seeds' band and a curve's straight line."""
        v = np.asarray(r.values[q], float)
        self.legend.addItem(self.plot.plot(r.x, v, pen=pen, connect="finite"), name)
        color = pen.color()
        spread = r.values.get(q + paths1d.SPREAD)  # several direction seeds: their band
        if spread is not None:
            paths1d.Band(self.plot, color.getRgb()[:3]).set(r.x, v, spread)
        straight = r.values.get(paths1d.STRAIGHT + q)  # a curve: its straight line too
        if straight is not None:
            dashed = pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine)
            self.legend.addItem(self.plot.plot(r.x, np.asarray(straight, float), pen=dashed,
                                               connect="finite"), f"{name}, straight line")

    def _share_range(self) -> None:
        shown = [p for p in self.panes
                 if isinstance(p, (SurfaceView3D, ContourView2D)) and p.result is not None]
        vrange = self.shared_range() if shown else None
        for p in shown:
            p.set_value_range(vrange)

    def _follow(self, source: SurfaceView3D) -> None:
        if self._syncing:
            return
        self._syncing = True  # the others' own cameraChanged must not echo back
        try:
            params = source.gl.copy_camera()
            for pane in self.panes:
                if isinstance(pane, SurfaceView3D) and pane is not source:
                    pane.gl.setCameraParams(**params)
        finally:
            self._syncing = False

    # ---- export ------------------------------------------------------------------------
    def grab_image(self, width: int, height: int, transparent: bool = False) -> QImage:
        """Every pane and its title in one image of exactly width×height pixels."""
        width, height = validate_size(width, height)
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent if transparent else Qt.GlobalColor.white)
        if not self.panes:
            return image
        if self.mode == "lines":
            return render_plot_image(self.panes[0], self.plot, width, height, transparent)
        rows, cols = self.shape(len(self.panes))
        scale = max(height / max(self.height(), 150), 0.5)
        band = min(round(_TITLE_PX * scale), height // (3 * rows))
        painter = QPainter(image)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(8, round(12 * scale)))
        painter.setFont(font)
        painter.setPen(QColor(30, 30, 30))
        cell_w, cell_h = width // cols, height // rows
        for i, (pane, label) in enumerate(zip(self.panes, self.labels, strict=True)):
            r, c = divmod(i, cols)
            x0, y0 = c * cell_w, r * cell_h
            if (h := cell_h - band) > 0 and hasattr(pane, "grab_image"):
                painter.drawImage(x0, y0 + band, pane.grab_image(cell_w, h, transparent))
            elif h > 0 and isinstance(pane, pg.PlotWidget):  # the 1-D overlay beside them
                painter.drawImage(x0, y0 + band, render_plot_image(pane, pane.getPlotItem(),
                                                                   cell_w, h, transparent))
            painter.drawText(QRectF(x0, y0, cell_w, band), Qt.AlignmentFlag.AlignCenter,
                             label.text())
        painter.end()
        return image
