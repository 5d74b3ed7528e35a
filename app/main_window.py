"""The main window: control panels on the left, the landscape views in the centre.

All engine work (``job.prepare`` included) runs in a :class:`GeneratorWorker`; chunks come
back by queued signals and mark the views dirty, and a ~30 Hz timer repaints them only when
new points arrived. Menus (files, export, compare, training) live in
:mod:`lossviz.panels.actions`.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from lossviz_core.errors import LossVizError
from lossviz_core.progress import Chunk, Step
from lossviz_core.recipe.spec import Range
from lossviz_core.results.result import SurfaceResult

from . import dialogs, settings_store
from .computing import LONG_SECONDS, Gate, compute_generator, estimate_seconds, reduced_counts
from .library import ResultsLibrary
from .panels.actions import WindowActions
from .panels.compute import ComputePanel
from .panels.directions import DirectionsPanel
from .panels.display import DisplayPanel
from .panels.ranges import RangesPanel
from .panels.results import ResultsPanel
from .panels.source import SourcePanel
from .state import ComputeState, recipe_from_state, state_from_recipe
from .views import DisplaySettings
from .views.compare import CompareView
from .views.contour2d import ContourView2D
from .views.line1d import LineView1D
from .views.surface3d import SurfaceView3D
from .watching import FileWatcher
from .worker import GeneratorWorker, Relay, call_in_thread

REPAINT_MS = 100  # ≤ 10 repaints per second: redrawing both views costs ~35 ms on llvmpipe
STOP_TIMEOUT_MS = 10_000


def reserve_gui_core() -> None:
    """Leave one CPU core to the GUI thread: torch's intra-op threads would otherwise take
    them all and starve the event loop (on 2 cores, measured gaps > 100 ms and an
    oversubscribed pool ~10x slower). ``OMP_NUM_THREADS`` set by the user wins."""
    import os
    import sys

    import torch

    # hand the GIL to the GUI thread sooner than the default 5 ms when the worker holds it
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) - 1)))


def preload_engine() -> None:
    """Import the engine's heavy dependencies on the GUI thread before any GL context exists.

    - triton must load before any GL context: done by importing :mod:`lossviz.views`.
    - sklearn's C extensions hold the GIL ~0.3 s while loading; in the worker that would
      freeze the window during the first prepare().
    """
    import lossviz.views  # noqa: F401

    import lossviz_core.run.job  # noqa: F401

    for name in ("sklearn.datasets", "sklearn.model_selection"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - optional: only its side effect matters
            pass


def _narrow_combos(panel: QWidget, letters: int = 14) -> None:
    """Combo boxes as wide as ``letters`` characters, not their longest entry (the dock
    stays narrow enough for a 1024-pixel screen); the open list still shows every entry
    whole, and the tooltip the current one."""
    for combo in panel.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(letters)
        view = combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 24)


class MainWindow(QMainWindow):
    """LossViz's window. ``autostart``: compute the demo at once (first launch)."""

    workers_changed = Signal(object)  # the Ray workers' states, emitted from the worker thread

    def __init__(self, autostart: bool = True, restore: bool = True,
                 library_folder: str | None = None) -> None:
        super().__init__()
        preload_engine()  # before the views create their GL context
        reserve_gui_core()
        self.setWindowTitle("LossViz")
        self.state = ComputeState()
        self.display = DisplaySettings(self)
        if not (restore and settings_store.load_state(self.state)):
            self._use_demo_ranges()
        if restore:
            settings_store.load_display(self.display)

        self.job: Any = None
        self.opened: tuple[str, Any] | None = None  # (path, recipe) of an opened result
        self.library = ResultsLibrary(library_folder or settings_store.library_folder())
        self.entry: Any = None  # the library entry being computed or shown
        self._gate: Gate | None = None
        self._showing = False
        self.result: SurfaceResult | None = None
        self.worker: GeneratorWorker | None = None
        self._pending: Any = None
        self._dirty = False
        self._stale_views: set[Any] = set()  # views that have not drawn the latest points
        self._turn = 0
        self._last_chunk: Chunk | None = None
        self.zoom_history: list[tuple[Range, Range]] = []
        self.timings: dict[str, float] = {}
        self.created_at = time.perf_counter()

        self._build_views()
        self._build_panels()
        self.workers_changed.connect(self._show_workers)
        self._build_status()
        self._fit_to_screen(1500, 920)
        self.actions_ = WindowActions(self)
        self._set_icon()

        self.repaint_timer = QTimer(self)
        self.repaint_timer.setInterval(REPAINT_MS)
        self.repaint_timer.timeout.connect(self._repaint)
        self.watcher = FileWatcher(self._watched_result, self.actions_.tasks, self)
        self._stale_timer = QTimer(self)
        self._stale_timer.setSingleShot(True)
        self._stale_timer.setInterval(150)
        self._stale_timer.timeout.connect(self._update_stale)
        self.state.changed.connect(lambda _name: self._stale_timer.start())
        if autostart and self.state["source"] == "demo":
            self.compute()  # first launch: the demo landscape, no questions asked
        notes = settings_store.take_set_aside() + [n for n in [self.library.set_aside] if n]
        if notes:  # damaged settings or library entries: set aside, said once, never fatal
            QTimer.singleShot(0, lambda: dialogs.show_error(self, "\n\n".join(notes)))

    # -- construction -------------------------------------------------------------------

    def _use_demo_ranges(self) -> None:
        try:
            from lossviz_core import demo

            grid = demo.recipe("surface").grid
            self.state.set_ranges(grid.x, grid.y)
        except Exception:  # noqa: BLE001 - the defaults are fine without the demo
            pass

    def _build_views(self) -> None:
        self.view3d = SurfaceView3D(self.display)
        self.view2d = ContourView2D(self.display)
        self.view1d = LineView1D(self.display)
        self.compare = CompareView(self.display)
        self.surface_split = QSplitter(Qt.Orientation.Horizontal)
        self.surface_split.addWidget(self.view3d)
        self.surface_split.addWidget(self.view2d)
        self.surface_split.setChildrenCollapsible(False)
        for i in (0, 1):
            self.surface_split.setStretchFactor(i, 1)
        self.surface_split.setSizes([560, 560])
        self.tabs = QTabWidget()
        self.tabs.addTab(self.surface_split, "Surface  (3-D | 2-D)")
        self.tabs.addTab(self.view1d, "1-D")
        self.tabs.addTab(self.compare, "Compare")
        from .curvature_tab import CurvatureTab

        self.curvature_tab = CurvatureTab(self)
        self.tabs.addTab(self.curvature_tab, "Curvature")
        self.stale_banner = QLabel("The settings changed since this landscape was computed: "
                                   "press Compute to see them (what is shown is the old one).")
        self.stale_banner.setWordWrap(True)
        self.stale_banner.setStyleSheet("background: #fff3c4; color: #5a4500; padding: 4px; "
                                        "border-bottom: 1px solid #e0c060;")
        self.stale_banner.hide()
        center = QWidget()
        column = QVBoxLayout(center)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.stale_banner)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(center)
        self.view2d.zoomRequested.connect(self.zoom_to)
        self._cursor_view: Any = None  # the view the status bar's read-out is from
        for view in (self.view2d, self.view3d, self.view1d):
            view.cursorInfo.connect(lambda text, v=view: self._show_cursor(text, v))
        self.tabs.currentChanged.connect(lambda _i: self._show_cursor("", None))
        for view in (self.view3d, self.view2d, self.view1d):
            view.countsChanged.connect(self._show_counts)
        self.view2d.plot.scene().sigMouseClicked.connect(self._map_clicked)

    def _build_panels(self) -> None:
        self.source_panel = SourcePanel(self.state)
        self.directions_panel = DirectionsPanel(self.state)
        self.ranges_panel = RangesPanel(self.state)
        self.display_panel = DisplayPanel(self.display)
        self.compute_panel = ComputePanel()
        self.compute_panel.compute.clicked.connect(self.compute)
        self.compute_panel.cancel.clicked.connect(self.cancel)
        self.compute_panel.back.clicked.connect(self.zoom_back)
        self.compute_panel.reset.clicked.connect(self.zoom_reset)
        self.directions_panel.newDirectionsRequested.connect(self.compute)
        self.source_panel.downloadRequested.connect(lambda: self.actions_.download_cifar())
        inner = QWidget()
        lay = QVBoxLayout(inner)
        for w in (self.source_panel, self.directions_panel, self.ranges_panel,
                  self.display_panel):
            lay.addWidget(w)
        lay.addStretch(1)
        _narrow_combos(inner)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(inner.minimumSizeHint().width() + bar + 4)
        self.settings_scroll = scroll
        # Compute / Cancel / zoom stay in sight below the settings however short the screen
        holder = QWidget()
        outer = QVBoxLayout(holder)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll, 1)
        outer.addWidget(self.compute_panel)
        self.results_panel = ResultsPanel(self.library)
        self.results_panel.showRequested.connect(self.show_entry)
        self.results_panel.deleteRequested.connect(self.delete_entry)
        self.results_panel.compareRequested.connect(self._compare_entry)
        from .study_panel import StudyPanel

        self.study_panel = StudyPanel(self)
        # three tabs on the left: Settings (in front), Results, Study
        self.settings_dock, self.results_dock, self.study_dock = docks = [
            self._left_dock(title, widget) for title, widget in (
                ("Settings", holder), ("Results", self.results_panel),
                ("Study", self.study_panel))]
        for first, second in zip(docks, docks[1:], strict=False):
            self.tabifyDockWidget(first, second)
        self.settings_dock.raise_()

    def _left_dock(self, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}-dock")  # saved window layouts know it by this
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        dock.setWidget(widget)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        return dock

    def _fit_to_screen(self, width: int, height: int) -> None:
        """Start at ``width``×``height``, or the screen's free area where that is smaller
        (a 1024×700 laptop: no part of the window off-screen)."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is not None:
            free = screen.availableGeometry()
            width, height = min(width, free.width()), min(height, free.height())
            self.move(free.topLeft())
        self.resize(width, height)
        if width < 1300:  # a small screen: the settings as narrow as they go, the rest to the views
            self.resizeDocks([self.settings_dock], [self.settings_dock.minimumSizeHint().width()],
                             Qt.Orientation.Horizontal)

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.cursor_label = QLabel("")
        self.progress_label = QLabel("")
        self.counts_label = QLabel("")
        self.counts_label.setToolTip("Points of the shown landscape: computed, interpolated "
                                     "(the preview between them) and non-finite (diverged)")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        bar.addWidget(self.cursor_label, 1)
        bar.addPermanentWidget(self.counts_label)
        bar.addPermanentWidget(self.progress_label)
        bar.addPermanentWidget(self.progress)

    def _set_icon(self) -> None:
        try:
            from .icon import app_icon

            self.setWindowIcon(app_icon())
        except Exception:  # noqa: BLE001 - the icon is cosmetic
            pass

    # -- computing ----------------------------------------------------------------------

    @property
    def computing(self) -> bool:
        """A landscape is being computed (or read from the library to be shown, or its last
        points are still being drawn)."""
        drawing = self.result is not None and bool(
            self._stale_views & set(self._views_for(self.result)))
        return self.worker is not None or self._showing or drawing

    def compute(self, reuse_job: bool = True) -> None:
        """Compute the landscape the panels describe, into its library entry.

        A recipe the library holds complete is shown at once; one it holds incomplete (or
        an opened incomplete file of that recipe) is resumed; anything else gets a new entry:
        nothing computed before is replaced."""
        if self.worker is not None:  # restart once the running one has stopped
            self._pending = lambda: self.compute(reuse_job)
            self._stop_worker()
            return
        snap = self.state.snapshot()
        try:  # quick (a run folder's run.json at most); the slow part runs in the worker
            recipe = recipe_from_state(snap)
        except LossVizError as exc:
            dialogs.show_error(self, str(exc))
            return
        if not self._may_run_code(recipe):
            return
        self.stop_watching()
        self.stale_banner.hide()
        out, resume = self._target(recipe)
        if out is None:
            return  # shown from the library
        job = self.job if reuse_job else None
        self.timings = {"start": time.perf_counter()}
        self._last_chunk = None
        self._gate = gate = Gate()
        executor = None
        self.compute_panel.set_workers("")
        if snap["executor"] != "local":
            from .cluster import executor_for

            relay = self.workers_changed.emit  # queued to this thread from the worker's
            self.compute_panel.set_workers("Ray: connecting …")
            executor = lambda: executor_for(snap, relay)  # noqa: E731 - runs in the worker
        self.worker = GeneratorWorker(
            lambda: compute_generator(recipe, job, out, resume, gate, executor))
        self.worker.yielded.connect(self._on_yielded)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.compute_panel.set_running(True)
        self.progress.setRange(0, 0)  # busy until the grid is known
        self.progress_label.setText("Resuming …" if resume else "Preparing (model, data, "
                                    "directions) …")
        self._show_preparing()
        self.repaint_timer.start()
        self.worker.start()

    def _target(self, recipe: Any) -> tuple[str | None, bool]:
        """Where this compute writes, and whether it resumes a file; (None, _) when the
        library already holds the landscape complete (it is shown instead)."""
        opened = self._resume_target(recipe)
        if opened is not None:
            self.entry = self.library.by_path(opened)
            return opened, True
        entry = self.library.find(recipe)
        if entry is not None and entry.complete:
            self.show_entry(entry.id, note="from the results library (computed "
                            f"{entry.created})")
            return None, False
        if entry is not None:
            self.entry = entry
            return entry.path, True
        self.entry = self.library.new(recipe, title_of(recipe))
        return self.entry.path, False

    def cancel(self) -> None:
        """Stop after the current chunk; the computed points stay on screen and in the file."""
        self._pending = None
        self._stop_worker()

    def _stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            if self._gate is not None:
                self._gate.open(False)  # a worker waiting at the estimate stops too
            self.progress_label.setText("Cancelling …")

    def _may_run_code(self, recipe: Any) -> bool:
        """Ask once per file before running code from a user's file: every file the recipe
        would run (model, data, loss; also those a run folder's run.json names)."""
        from lossviz_core.cli import user_code_files

        if not dialogs.may_run_code(self, user_code_files(recipe)):
            self.progress_label.setText("Not computed: the code was not trusted.")
            return False
        return True

    def _resume_target(self, recipe: Any) -> str | None:
        """The opened file to resume: incomplete, and the panels make exactly its recipe (a
        field the panels do not show, changed, means a new surface, not this file)."""
        if self.opened is None or self.result is None or self.result.complete:
            return None
        path, stored = self.opened
        if stored is None or self.result.path != path:
            return None
        same = stored.replace(compute=recipe.compute) == recipe
        return path if same else None

    def show_opened(self, result: SurfaceResult, path: str, note: str | None = None) -> None:
        """Show a result read from ``path`` and put its recipe into the panels."""
        self.job = None  # an opened file has no loaded model to zoom with
        recipe = result.recipe
        self.opened = (path, recipe)
        entry = self.library.by_path(path)
        if entry is None:
            entry = self.library.add_opened(path, result)
        self.entry = entry
        if recipe is not None:
            try:
                self.state.update(**state_from_recipe(recipe))
            except Exception:  # noqa: BLE001 - values the panels cannot show stay as they were
                pass
        self.set_result(result)
        self._update_stale()
        done, total = int(result.done.sum()), int(result.done.size)
        from lossviz_core.results.paths import being_written

        if done < total and being_written(path):
            self._watch(path)
            return
        tail = "" if done == total else f" ({done}/{total} points: Compute finishes it)"
        self.progress_label.setText(f"Shown {note}{tail}" if note else f"Opened {path}{tail}")

    def show_entry(self, entry_id: str, note: str | None = None) -> None:
        """Show a library entry (read in the background)."""
        entry = self.library.get(entry_id)
        if entry is None:
            return
        from lossviz_core.results.store import read_result

        path = entry.path
        worker = call_in_thread(lambda: read_result(path))
        tasks = self.actions_.tasks
        self._showing = True

        def done() -> None:
            self._showing = False
            if worker in tasks:
                tasks.remove(worker)

        Relay(worker, lambda r: self.show_opened(r, path, note or entry.name),
              lambda m, d: dialogs.show_error(self, m, d), done, parent=self)
        tasks.append(worker)
        worker.start()

    def _compare_entry(self, entry_id: str) -> None:
        """Put a library entry into the Compare view (read in the background)."""
        entry = self.library.get(entry_id)
        if entry is None:
            return
        from lossviz_core.results.store import read_result

        path, name = entry.path, entry.name
        worker = call_in_thread(lambda: read_result(path))
        tasks = self.actions_.tasks
        Relay(worker, lambda r: self.actions_.add_to_compare(r, name),
              lambda m, d: dialogs.show_error(self, m, d),
              lambda: worker in tasks and tasks.remove(worker), parent=self)
        tasks.append(worker)
        worker.start()

    def delete_entry(self, entry_id: str) -> None:
        """Delete a library entry once the user confirms (never the one being computed)."""
        entry = self.library.get(entry_id)
        if entry is None:
            return
        if self.worker is not None and self.entry is entry:
            dialogs.show_error(self, f"“{entry.name}” is being computed: Cancel it first.")
            return
        if not dialogs.ask_to_delete(self, entry.name, entry.path, entry.owned):
            return
        self.library.delete(entry_id)

    # -- watching a file another process is writing --------------------------------------

    def _watch(self, path: str) -> None:
        """Re-read a running job's file every second and draw the points it gained."""
        self.progress_label.setText(f"Watching {path}: another LossViz is computing it")
        self.watcher.watch(path)

    def stop_watching(self) -> None:
        self.watcher.stop()

    def _watched_result(self, result: Any, writing: bool) -> None:
        path = self.watcher.path
        if self.result is not None and int(result.done.sum()) > int(self.result.done.sum()):
            self.result.values, self.result.done = result.values, result.done
            self._dirty = True
            self._repaint(every=True)
        done, total = int(result.done.sum()), int(result.done.size)
        if done == total or not writing:
            self.stop_watching()
            state = "complete" if done == total else f"stopped at {done}/{total} points"
            self.progress_label.setText(f"{path}: {state}")
        else:
            self.progress_label.setText(f"Watching {path}: {done}/{total} points")

    def _on_yielded(self, item: Any) -> None:
        if isinstance(item, Chunk):
            if "first_chunk" not in self.timings:
                self.timings["first_chunk"] = time.perf_counter()
            self._last_chunk = item
            self._dirty = True
            if getattr(item, "workers", None):
                self._show_workers(item.workers)
            return
        if isinstance(item, Step):
            self.progress_label.setText(f"Preparing: {item.text} …")
            return
        # the prepared Job: its grid (a resumed file's points in it), filled as chunks arrive
        self.timings["prepared"] = time.perf_counter()
        self.job = item
        if self.entry is not None:
            self.library.prepared(self.entry, item.recipe)  # e.g. ranges fitted to the path
        grid = item.recipe.grid
        if self.state["method"] == "pca" and self.state["fit_ranges"]:
            self.state.set_ranges(grid.x, grid.y)  # show the fitted ranges in the panel
        self.set_result(item.result)
        self.progress.setRange(0, int(item.result.done.size))
        self.progress.setValue(int(item.result.done.sum()))
        self._confirm_estimate(item)

    def open_study(self, path_or_name: str, profile: str | None = None,
                   out: str | None = None) -> bool:
        """Open a study (file, bundled name or study figure) in the Study dock; its figure's
        results in the Compare tab."""
        self.study_dock.raise_()
        ok = self.study_panel.open_study(path_or_name, profile, out)
        if ok:
            self.tabs.setCurrentWidget(self.compare)
        return ok

    def clear_connecting(self) -> None:
        """A worker ended before Ray answered: no "connecting" line left behind."""
        if self.compute_panel.workers.text().startswith("Ray: connecting"):
            self.compute_panel.set_workers("")

    def _show_workers(self, workers: Any) -> None:
        """The Ray workers' status line (from a chunk, or when a worker starts or is lost)."""
        from .cluster import worker_lines

        if self.worker is not None or self.study_panel.running:  # a grid, or a study's
            self.compute_panel.set_workers(worker_lines(workers))

    def _confirm_estimate(self, job: Any) -> None:
        """A grid estimated to take long asks first: compute it, make it smaller, or not."""
        gate = self._gate
        if gate is None:
            return
        seconds = estimate_seconds(job, self.library.rate_for(job.recipe))
        if seconds <= LONG_SECONDS:
            gate.open(True)
            return
        todo = int((~job.result.done).sum())
        grid = job.recipe.grid
        nums = (grid.x.num,) if grid.y is None else (grid.x.num, grid.y.num)
        smaller = reduced_counts(nums, seconds, LONG_SECONDS)
        choice = dialogs.ask_long_compute(self, todo, seconds, smaller)
        if choice == "compute":
            gate.open(True)
            return
        gate.open(False)
        if choice == "reduce":
            self.state.update(xnum=smaller[0], **({"ynum": smaller[1]} if len(smaller) > 1
                                                  else {}))
            self._pending = lambda: self.compute()
        self.progress_label.setText("Not computed: the grid would take "
                                    f"{_clock(seconds)}.")

    def _on_returned(self, result: Any) -> None:
        self.timings["done"] = time.perf_counter()
        if result is not None and result is not self.result:
            self.set_result(result)
        self._dirty = True

    def _on_error(self, message: str, details: str) -> None:
        self.progress_label.setText("Failed.")
        dialogs.show_error(self, message, details)

    def _on_finished(self) -> None:
        worker, self.worker = self.worker, None
        self._gate = None
        self.clear_connecting()
        if self.entry is not None and self.result is not None and self.job is not None \
                and self.result is self.job.result:
            rate = self._last_chunk.points_per_second if self._last_chunk is not None else None
            self.library.update(self.entry, self.result, rate)
        self._dirty = True
        self._repaint()  # the other view draws on the timer's next tick (see _repaint)
        self.compute_panel.set_running(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        elif self.result is not None and self.progress.maximum() == self.result.done.size:
            self.progress.setValue(int(self.result.done.sum()))
        if worker is not None and worker.cancelled and self.result is not None:
            n, total = int(self.result.done.sum()), int(self.result.done.size)
            if n < total:
                self.progress_label.setText(f"Cancelled: {n}/{total} points kept.")
                self.progress_label.setToolTip("Compute resumes it: the points are kept in the "
                                               "Results list")
        elif self.result is not None and "done" in self.timings:
            secs = self.timings["done"] - self.timings["start"]
            self.progress_label.setText(f"Done: {self.result.done.size} points in {secs:.1f} s")
        pending, self._pending = self._pending, None
        if pending is not None:
            pending()
        else:
            self._update_stale()

    @property
    def stale(self) -> bool:
        """Whether the panels describe another landscape than the one shown."""
        return not self.stale_banner.isHidden()

    def _update_stale(self) -> None:
        """Mark the view stale while the panels say something else than what it shows."""
        from lossviz_core.recipe.resolve import explain

        from .library import same_landscape

        stale = False
        try:
            wanted = recipe_from_state(self.state.snapshot())
        except LossVizError:
            wanted = None  # the panels hold something that is not a recipe yet
        # why the recipe is as it is (states or weights for an interpolation), under Perturb
        self.directions_panel.set_note(" ".join(explain(wanted)) if wanted is not None else "")
        if self.result is not None and self.worker is None:
            shown = self.entry.recipes() if self.entry is not None else []
            if not shown and self.result.recipe is not None:
                shown = [self.result.recipe]
            stale = wanted is None or (
                bool(shown) and not any(same_landscape(wanted, r) for r in shown))
        self.stale_banner.setVisible(stale)

    def _show_preparing(self) -> None:
        """While the model and data load, the views say so (no flat stand-in surface)."""
        for view in (self.view3d, self.view2d, self.view1d):
            show = getattr(view, "show_message", None)
            if show is not None:
                show("Preparing …")

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
        if self.worker is None and not self._stale_views:
            self.repaint_timer.stop()  # the final picture is drawn
        if not views:
            return
        c = self._last_chunk
        if c is not None and self.worker is not None:  # once finished, _on_finished says
            self.progress.setValue(int(c.done))
            eta = "" if c.eta == float("inf") else f" · ETA {_clock(c.eta)}"
            self.progress_label.setText(
                f"{c.done}/{c.total} points · {c.points_per_second:.1f} pts/s{eta}")

    def _views_for(self, result: SurfaceResult) -> list[Any]:
        return [self.view1d] if result.is_line else [self.view3d, self.view2d]

    def set_result(self, result: SurfaceResult | None) -> None:
        """Show ``result`` (a computed, computing or opened landscape)."""
        self.result = result
        if result is None:
            return
        self.display_panel.set_quantities(result.quantities)
        for view in self._views_for(result):
            view.set_result(result)
        self._refresh_cursor()  # never a read-out of the result shown before
        want = self.view1d if result.is_line else self.surface_split
        if self.tabs.currentWidget() is not self.compare:
            self.tabs.setCurrentWidget(want)
        self._dirty = False
        self.setWindowTitle(f"LossViz — {_describe(result)}")

    # -- zoom ---------------------------------------------------------------------------

    def zoom_to(self, xmin: float, xmax: float, ymin: float, ymax: float) -> None:
        """Recompute at full resolution inside the rectangle (ContourView2D.zoomRequested)."""
        if self.state.is_line or not (xmax > xmin and ymax > ymin):
            return
        try:
            current = self.state.ranges()
        except LossVizError as exc:  # the range boxes hold an invalid range
            dialogs.show_error(self, str(exc))
            return
        self.zoom_history.append(current)  # type: ignore[arg-type]
        x, y = current
        self.state.set_ranges(Range(xmin, xmax, x.num), Range(ymin, ymax, y.num))  # type: ignore[union-attr]
        self.compute_panel.set_zoom_depth(len(self.zoom_history))
        self.compute()

    def zoom_back(self) -> None:
        if self.zoom_history:
            self.state.set_ranges(*self.zoom_history.pop())
            self.compute_panel.set_zoom_depth(len(self.zoom_history))
            self.compute()

    def zoom_reset(self) -> None:
        if self.zoom_history:
            self.state.set_ranges(*self.zoom_history[0])
            self.zoom_history.clear()
            self.compute_panel.set_zoom_depth(0)
            self.compute()

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

    def _show_counts(self, counts: Any) -> None:
        """Computed, interpolated and non-finite points of the shown result, in the status."""
        self.counts_label.setText("" if counts is None else counts.describe())

    def _show_cursor(self, text: str, view: Any = None) -> None:
        """The cursor read-out in the status bar, from ``view`` (None: cleared)."""
        self._cursor_view = view if text else None
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

    def stop_all(self, timeout_ms: int = STOP_TIMEOUT_MS) -> bool:
        """Cancel computing and training and wait (bounded) for their threads."""
        self._pending = None
        ok = True
        if self.worker is not None:
            ok = self.worker.stop(timeout_ms)
        ok = self.actions_.stop(timeout_ms) and ok
        ok = self.curvature_tab.stop(timeout_ms) and ok
        ok = self.study_panel.stop_wait(timeout_ms) and ok
        self.repaint_timer.stop()
        self.watcher.stop()
        return ok

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt naming)
        try:
            settings_store.save_state(self.state)
            settings_store.save_display(self.display)
        except Exception:  # noqa: BLE001 - never keep the user from closing
            pass
        self.stop_all()
        from .cluster import shutdown

        shutdown()  # a Ray this window started
        super().closeEvent(event)


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


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def title_of(recipe: Any) -> str:
    """A recipe in a few words (model, data, directions, ranges)."""
    from lossviz_core.export.titles import recipe_title  # matplotlib-free, but lazy anyway

    return recipe_title(recipe)


def _describe(result: SurfaceResult) -> str:
    """What distinguishes a result: its recipe in a few words, or its file."""
    recipe = result.recipe
    if recipe is not None:
        return title_of(recipe)
    return str(result.path) if result.path else "a landscape"


def open_window(files: list[str]) -> MainWindow:
    """The window, shown: on the first result file named (read in the background), else on
    the demo (computed at once on a first launch)."""
    preload_engine()
    window = MainWindow(autostart=not files)
    window.show()
    for path in files[:1]:
        window.actions_.open_result(path)
    return window


def run_app(argv: list[str] | None = None) -> int:
    """Open the window (and a result file named on the command line); the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    from .icon import apply_app_identity

    apply_app_identity(app)  # name, version, icon, desktop file name (docks match the launcher)
    app.setOrganizationName(settings_store.ORGANIZATION)
    window = open_window([a for a in argv if not a.startswith("-")])
    rc = app.exec()
    del window
    from .worker import wait_all

    wait_all(STOP_TIMEOUT_MS)
    return int(rc)
