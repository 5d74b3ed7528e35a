"""How the window draws what its session shows: the views, the status bar, the repaints.

A mixin of :class:`~lossviz.main_window.MainWindow` (one concern of the window, kept in its
own file): the session's events arrive here. New points only mark the views dirty; a timer
repaints one view per tick while a grid fills in, so the GUI thread is never held by two
redraws at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar

from lossviz_core.results.result import SurfaceResult

from .messages import clock, describe
from .views.coverage import PREPARING_MESSAGE

COUNTS_TIP = ("Points of the shown landscape: computed, interpolated (the preview between "
              "them) and non-finite (and why, where it is known)")
REPAINT_MS = 100  # ≤ 10 repaints per second: redrawing both views costs ~35 ms on llvmpipe


class Drawing:
    """The window's drawing half (see the module's docstring)."""

    def init_drawing(self) -> None:
        self._dirty = False
        self._stale_views: set[Any] = set()  # views that have not drawn the latest points
        self._turn = 0
        self._last_chunk: Any = None
        self.repaint_timer = QTimer(self)
        self.repaint_timer.setInterval(REPAINT_MS)
        self.repaint_timer.timeout.connect(self._repaint)

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.cursor_label = QLabel("")
        self.progress_label = QLabel("")
        self.counts_label = QLabel("")
        self.counts_label.setToolTip(COUNTS_TIP)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        bar.addWidget(self.cursor_label, 1)
        bar.addPermanentWidget(self.counts_label)
        bar.addPermanentWidget(self.progress_label)
        bar.addPermanentWidget(self.progress)

    @property
    def computing(self) -> bool:
        """A landscape is being computed (or read from the library to be shown, or its last
        points are still being drawn)."""
        drawing = self.result is not None and bool(
            self._stale_views & set(self._views_for(self.result)))
        return self.session.busy or drawing

    # -- the session's events ---------------------------------------------------------------
    def _shown(self, result: SurfaceResult | None, reveal: bool = False) -> None:
        self.set_result(result, reveal)

    def _show_preparing(self) -> None:
        """While the model and data load, the views say so (no flat stand-in surface)."""
        self._last_chunk = None
        self.progress.setRange(0, 0)  # busy until the grid is known
        for view in (self.view3d, self.view2d, self.view1d):
            view.show_message(PREPARING_MESSAGE)

    def _progress_known(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _points(self, chunk: Any) -> None:
        self._last_chunk = chunk
        self._dirty = True
        if getattr(chunk, "workers", None):
            self._show_workers(chunk.workers)

    def _redraw_all(self) -> None:
        self._dirty = True
        self._repaint(every=True)

    def _running(self, running: bool) -> None:
        self.compute_panel.set_running(running)
        if running:
            self.statusBar().clearMessage()  # the last one's reason
            self._last_chunk = None
            self.progress.setRange(0, 0)
            self.repaint_timer.start()
            return
        self._dirty = True
        self._repaint()  # the other view draws on the timer's next tick (see _repaint)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        if self.result is not None and self.progress.maximum() == self.result.done.size:
            self.progress.setValue(int(self.result.done.sum()))

    # -- the views ----------------------------------------------------------------------------
    def _views_for(self, result: SurfaceResult) -> list[Any]:
        return [self.view1d] if result.is_line else [self.view3d, self.view2d]

    def set_result(self, result: SurfaceResult | None, reveal: bool = False) -> None:
        """Draw ``result`` (a computed, computing or opened landscape; None: nothing) on its
        tab, unless Compare is in front (``reveal``: whichever tab is)."""
        if self.session.result is not result:
            self.session.result = result
        self._stale_views.clear()
        if result is None:
            for view in (self.view3d, self.view2d, self.view1d):
                view.set_result(None)
            self._show_counts(None)
            self.setWindowTitle("LossViz")
            return
        self.display_panel.set_quantities(result.quantities)
        for view in self._views_for(result):
            view.set_result(result)
        self._refresh_cursor()  # never a read-out of the result shown before
        want = self.view1d if result.is_line else self.surface_split
        if reveal or self.tabs.currentWidget() is not self.compare:
            self.tabs.setCurrentWidget(want)
        self._dirty = False
        self.setWindowTitle(f"LossViz — {describe(result)}")

    def _repaint(self, every: bool = False) -> None:
        """Timer slot: redraw the views if new chunks arrived since the last tick.

        One view per tick, taking turns: each redraw costs 20-40 ms on llvmpipe, and both in
        one tick would hold the GUI thread past 100 ms. ``every``: all of them now (the final
        picture)."""
        views = self._views_for(self.result) if self.result is not None else []
        if self._dirty or every:
            self._stale_views = set(views)
            self._dirty = False
        if every:
            for view in views:
                view.refresh()
            self._stale_views.clear()
            if hasattr(self._cursor_view, "cursor_text"):
                self._refresh_cursor()  # a 3-D read-out stays until the mouse moves
        elif self._stale_views & set(views):
            order = views[self._turn % len(views):] + views[:self._turn % len(views)]
            view = next(v for v in order if v in self._stale_views)
            view.refresh()
            self._stale_views.discard(view)
            self._turn = (views.index(view) + 1) % len(views)
            if view is self._cursor_view and hasattr(view, "cursor_text"):
                self._refresh_cursor()  # the value under the cursor as now drawn
        running = self.session.computation is not None
        if not running and not self._stale_views:
            self.repaint_timer.stop()  # the final picture is drawn
        c = self._last_chunk
        if views and c is not None and running:  # once finished, the computation says
            self.progress.setValue(int(c.done))
            eta = "" if c.eta == float("inf") else f" · ETA {clock(c.eta)}"
            self.progress_label.setText(
                f"{c.done}/{c.total} points · {c.points_per_second:.1f} pts/s{eta}")

    def _map_clicked(self, event: Any) -> None:
        """A double-click on the 2-D map analyses the curvature at that point."""
        if not event.double() or self.result is None or self.result.is_line:
            return
        pos = self.view2d.plot.vb.mapSceneToView(event.scenePos())
        point = nearest_grid_point(self.result, float(pos.x()), float(pos.y()))
        if point is None:
            self.progress_label.setText("Double-click inside the grid to analyse a point.")
            return
        self.curvature_tab.analyse_at(*point)  # the grid point, as its loss was computed

    # -- the status bar -------------------------------------------------------------------------
    def _show_counts(self, counts: Any) -> None:
        """Computed, interpolated and non-finite points of the shown result, in the status
        (nothing while no point is computed: the views say "Preparing …")."""
        text = "" if counts is None or counts.state == "preparing" else counts.describe()
        self.counts_label.setText(text)
        why = counts.why if counts is not None and counts.non_finite else ""
        self.counts_label.setToolTip(f"{COUNTS_TIP}\n{why}" if why else COUNTS_TIP)

    def _show_cursor(self, text: str, view: Any = None) -> None:
        """The cursor read-out in the status bar, from ``view`` (None: cleared)."""
        self._cursor_view = view if text else None
        if text:
            self.statusBar().clearMessage()  # a reason shown there gives way to the read-out
        self.cursor_label.setText(text)

    def _refresh_cursor(self) -> None:
        """Re-read the read-out where the cursor last was: new points, another result."""
        view = self._cursor_view
        if view is None:
            return
        text = view.cursor_text() if hasattr(view, "cursor_text") else ""
        if self.result is None or view.result is not self.result:
            text = ""  # the read-out was of a result no longer shown
        self._show_cursor(text, view if text else None)


def nearest_grid_point(result: SurfaceResult, alpha: float, beta: float
                       ) -> tuple[float, float] | None:
    """The grid point nearest (α, β), or None outside the grid (beyond half a step)."""
    coords = []
    for axis, v in ((np.asarray(result.x, float), alpha), (np.asarray(result.y, float), beta)):
        step = float(np.abs(np.diff(axis)).min()) if len(axis) > 1 else 0.0
        if not axis.min() - step / 2 <= v <= axis.max() + step / 2:
            return None
        coords.append(float(axis[int(np.abs(axis - v).argmin())]))
    return coords[0], coords[1]
