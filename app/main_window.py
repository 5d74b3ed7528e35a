"""The main window: control panels on the left, the landscape views in the centre.

The window is widgets and wiring. What is shown and computed lives in its Qt-free
:class:`~lossviz.session.Session`; every background task runs through one
:class:`~lossviz.tasks.TaskRunner`. The session's events draw the views: chunks mark them
dirty, and a timer repaints them (:class:`~lossviz.drawing.Drawing`) only when new points
arrived. Menus (files, export, compare, training) live in :mod:`lossviz.menus`; the
Curvature tab, the Study dock and the training dialog get the session, the runner and the
widgets they draw into, never the window.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from . import dialogs, relaunch, settings_store
from .curvature_tab import CurvatureTab
from .drawing import Drawing
from .library import ResultsLibrary
from .menus import Views, WindowActions
from .panels.binding import guard_wheel
from .panels.compute import ComputePanel
from .panels.directions import DirectionsPanel
from .panels.display import DisplayPanel
from .panels.modules import list_modules
from .panels.ranges import RangesPanel
from .panels.results import ResultsPanel
from .panels.source import SourcePanel
from .session import Session
from .state import ComputeState, recipe_from_state, state_from_recipe
from .study_panel import StudyPanel
from .tasks import TaskRunner
from .views import DisplaySettings
from .views.compare import CompareView
from .views.contour2d import ContourView2D
from .views.line1d import LineView1D
from .views.surface3d import SurfaceView3D
from .watching import FileWatcher

STOP_TIMEOUT_MS = 10_000


def reserve_gui_core() -> None:
    """Leave one CPU core to the GUI thread: torch's intra-op threads would otherwise take
    them all and starve the event loop (on 2 cores, measured gaps > 100 ms and an
    oversubscribed pool ~10x slower). ``OMP_NUM_THREADS`` set by the user wins."""
    import os

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


class MainWindow(Drawing, QMainWindow):
    """LossViz's window. ``autostart``: show the last result (or compute the demo on a first
    launch); ``restore``: the settings, the Compare set and the study of the last session."""

    workers_changed = Signal(object)  # the Ray workers' states, on the GUI thread

    def __init__(self, autostart: bool = True, restore: bool = True,
                 library_folder: str | None = None) -> None:
        super().__init__()
        preload_engine()  # before the views create their GL context
        reserve_gui_core()
        self.setWindowTitle("LossViz")
        state = ComputeState()
        self.display = DisplaySettings(self)
        if not (restore and settings_store.load_state(state)):
            self._use_demo_ranges(state)
        if restore:
            settings_store.load_display(self.display)
        self.tasks = TaskRunner(self)
        self.session = Session(state, ResultsLibrary(library_folder
                                                     or settings_store.library_folder()),
                               self.tasks, dialogs.Ask(self), recipe_from_state,
                               state_from_recipe)
        self._build_views()
        self._build_panels()
        self._build_status()
        self._fit_to_screen(1500, 920)
        self.actions_ = WindowActions(self.session, self.tasks, self.display, Views(
            self.view3d, self.view2d, self.view1d, self.compare, self.tabs, self.surface_split,
            self.settings_dock, self.results_dock), self.study_panel, self)
        self._set_icon()
        guard_wheel(self)  # scrolling the panels edits no value
        self.init_drawing()
        self.watcher = FileWatcher(self.session.watched, self.tasks, self)
        self._stale_timer = QTimer(self)
        self._stale_timer.setSingleShot(True)
        self._stale_timer.setInterval(150)
        self._stale_timer.timeout.connect(self.session.check_stale)
        self.state.changed.connect(lambda _name: self._stale_timer.start())
        self._connect_session()
        if restore:
            relaunch.restore(self, shown=autostart)
        if autostart and not self.session.busy and self.state["source"] == "demo":
            self.compute()  # first launch: the demo landscape, no questions asked
        notes = settings_store.take_set_aside() + [n for n in [self.library.set_aside] if n]
        if notes:  # damaged settings or library entries: set aside, said once, never fatal
            QTimer.singleShot(0, lambda: dialogs.show_error(self, "\n\n".join(notes)))

    # -- the session's parts, as the window's (tests and scripts read them here) -----------
    state = property(lambda self: self.session.state)
    library = property(lambda self: self.session.library)
    result = property(lambda self: self.session.result)
    entry = property(lambda self: self.session.entry)
    opened = property(lambda self: self.session.opened)
    job = property(lambda self: self.session.job)
    timings = property(lambda self: self.session.timings)
    zoom_history = property(lambda self: self.session.zoom_history)
    stale = property(lambda self: self.session.stale,
                     doc="Whether the panels describe another landscape than the one shown.")

    @property
    def worker(self) -> Any:
        """The running compute's worker (None when idle)."""
        c = self.session.computation
        return c.task.worker if c is not None and c.task is not None else None

    # -- construction -------------------------------------------------------------------

    @staticmethod
    def _use_demo_ranges(state: ComputeState) -> None:
        try:
            from lossviz_core import demo

            grid = demo.recipe("surface").grid
            state.set_ranges(grid.x, grid.y)
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
        self.curvature_tab = CurvatureTab(self.session, self.tasks)
        self.curvature_tab.raiseRequested.connect(
            lambda: self.tabs.setCurrentWidget(self.curvature_tab))
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
        self.view2d.zoomRequested.connect(self.session.zoom_to)
        self._cursor_view: Any = None  # the view the status bar's read-out is from
        for view in (self.view2d, self.view3d, self.view1d):
            view.cursorInfo.connect(lambda text, v=view: self._show_cursor(text, v))
        self.tabs.currentChanged.connect(lambda _i: self._show_cursor("", None))
        for view in (self.view3d, self.view2d, self.view1d):
            view.countsChanged.connect(self._show_counts)
        self.view2d.plot.scene().sigMouseClicked.connect(self._map_clicked)

    def _build_panels(self) -> None:
        s = self.session
        self.source_panel = SourcePanel(s.state)
        self.directions_panel = DirectionsPanel(s.state)
        self.ranges_panel = RangesPanel(s.state)
        self.display_panel = DisplayPanel(self.display)
        self.compute_panel = ComputePanel()
        self.compute_panel.compute.clicked.connect(lambda: s.compute())
        self.compute_panel.cancel.clicked.connect(s.cancel)
        self.compute_panel.back.clicked.connect(s.zoom_back)
        self.compute_panel.reset.clicked.connect(s.zoom_reset)
        self.directions_panel.newDirectionsRequested.connect(lambda: s.compute())
        modules = self.directions_panel.modules
        modules.listRequested.connect(lambda: list_modules(s, modules))
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
        self.results_panel = ResultsPanel(s.library)
        self.results_panel.showRequested.connect(s.show_entry)
        self.results_panel.deleteRequested.connect(s.delete_entry)
        self.results_panel.compareRequested.connect(lambda i: self.actions_.compare_entry(i))
        self.study_panel = StudyPanel(s, self.tasks, self.compare)
        self.study_panel.opened.connect(self._study_opened)
        self.study_panel.compareShown.connect(lambda: self.tabs.setCurrentWidget(self.compare))
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

    def _set_icon(self) -> None:
        try:
            from .icon import app_icon

            self.setWindowIcon(app_icon())
        except Exception:  # noqa: BLE001 - the icon is cosmetic
            pass

    def _connect_session(self) -> None:
        """The session's events, drawn by the widgets."""
        ev = self.session.events
        ev.shown.connect(self._shown)
        ev.preparing.connect(self._show_preparing)
        ev.progress.connect(self._progress_known)
        ev.points.connect(self._points)
        ev.redraw.connect(self._redraw_all)
        ev.running.connect(self._running)
        ev.status.connect(self._status)
        ev.stale.connect(self.stale_banner.setVisible)
        ev.note.connect(self.directions_panel.set_note)
        ev.prepared.connect(self.directions_panel.modules.offer_job)
        ev.recipe.connect(self.directions_panel.modules.panels_changed)
        ev.zoom.connect(self.compute_panel.set_zoom_depth)
        ev.workers.connect(self._workers_line)
        ev.workers_changed.connect(self._show_workers)
        ev.watch.connect(lambda path: self.watcher.watch(path) if path else self.watcher.stop())

    # -- commands -------------------------------------------------------------------------

    def compute(self, reuse_job: bool = True) -> None:
        """Compute the landscape the panels describe (see :meth:`Session.compute`)."""
        self.session.compute(reuse_job)

    def cancel(self) -> None:
        self.session.cancel()

    def zoom_to(self, xmin: float, xmax: float, ymin: float, ymax: float) -> None:
        self.session.zoom_to(xmin, xmax, ymin, ymax)

    def zoom_back(self) -> None:
        self.session.zoom_back()

    def zoom_reset(self) -> None:
        self.session.zoom_reset()

    def delete_entry(self, entry_id: str) -> None:
        self.session.delete_entry(entry_id)

    def open_study(self, path_or_name: str, profile: str | None = None,
                   out: str | None = None) -> bool:
        """Open a study (file, bundled name or study figure) in the Study dock; its figure's
        results in the Compare tab."""
        return self.study_panel.open_study(path_or_name, profile, out)

    def _study_opened(self) -> None:
        self.study_dock.raise_()
        self.tabs.setCurrentWidget(self.compare)

    # -- what the session reports ---------------------------------------------------------

    def _status(self, text: str, why: str = "") -> None:
        """The status: a short line by the progress bar, the reason in the status bar."""
        self.progress_label.setText(text)
        self.progress_label.setToolTip(why)
        if why:
            self.statusBar().showMessage(why)
        else:
            self.statusBar().clearMessage()

    def _workers_line(self, text: str | None) -> None:
        if text is None:  # clear a "connecting" line only
            if self.compute_panel.workers.text().startswith("Ray: connecting"):
                self.compute_panel.set_workers("")
            return
        self.compute_panel.set_workers(text)

    def clear_connecting(self) -> None:
        self._workers_line(None)

    def _show_workers(self, workers: Any) -> None:
        """The Ray workers' status line (from a chunk, or when a worker starts or is lost)."""
        from .cluster import worker_lines

        self.workers_changed.emit(workers)
        if self.session.computation is not None or self.study_panel.running:
            self.compute_panel.set_workers(worker_lines(workers))

    # -- closing --------------------------------------------------------------------------

    def stop_all(self, timeout_ms: int = STOP_TIMEOUT_MS) -> bool:
        """Cancel computing, training, studies and reads, and wait (bounded) for them."""
        self.session.close()
        ok = self.tasks.stop_all(timeout_ms)
        self.repaint_timer.stop()
        self.watcher.stop()
        return ok

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt naming)
        try:
            settings_store.save_state(self.state)
            settings_store.save_display(self.display)
            relaunch.save(self)
        except Exception:  # noqa: BLE001 - never keep the user from closing
            pass
        self.stop_all()
        from .cluster import shutdown

        shutdown()  # a Ray this window started
        super().closeEvent(event)


def open_window(files: list[str]) -> MainWindow:
    """The window, shown: on the first result file named (read in the background), else on
    the last result (the demo, computed at once, on a first launch)."""
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
