"""The Study dock: open a study file (or a bundled one), run it with its progress live, its
figure's results in the Compare grid, each result openable on its own; and *New study from
these results*.

The engine does the work (:func:`lossviz_core.studies.iter_study`, cached and resumable);
this panel drives it in a worker thread (:func:`study_generator`) and shows its events. The
result files are read in that thread too; a grid being computed is drawn from its live
result (the prepared job's ``result``, filled in as its chunks are stored), so its panel
fills in as the main view's does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lossviz_core.errors import LossVizError

from . import dialogs, settings_store
from .panels.binding import PathEdit

if TYPE_CHECKING:
    from .session import Session
    from .tasks import Task, TaskRunner

STATE_COLOURS = {"done": "#2a7a2a", "running": "#1f5fbf", "failed": "#b00020",
                 "blocked": "#8a5a00", "skipped": "#8a5a00", "pending": "#555555"}
FULL = "(full study)"


@dataclass(frozen=True)
class Loaded:
    """A grid unit's result, read (or prepared) in the worker: ``live`` while it computes."""

    name: str
    result: Any
    live: bool = False


def study_generator(study: Any, out: Path, run: bool,
                    executor: Callable[[], Any] | None = None, download: bool = False,
                    allow_code: bool = False) -> Generator[Any, None, Any]:
    """In the worker: the study's status, the results it has, then (``run``) its events,
    each finished grid's result read back. Closing it cancels the run (finished units stay
    done, a grid's points are kept). ``download`` / ``allow_code``: what the user granted
    (as ``lossviz study run --download --allow-code``; a study file never grants them)."""
    from lossviz_core.progress import Step
    from lossviz_core.results.store import read_result
    from lossviz_core.studies import UnitFinished, UnitProgress, iter_study, study_status

    status = study_status(study, out)
    yield status
    for u in status.units:
        if u.unit.kind == "grid" and u.unit.path.exists() and u.state != "running":
            try:
                yield Loaded(u.unit.name, read_result(u.unit.path))
            except LossVizError:
                pass  # a file cut before its first point: the run computes it
    if not run:
        return None
    if executor is not None:
        yield Step("connecting to the cluster")
        executor = executor()
    from .cluster import release

    try:
        gen = iter_study(study, out, executor=executor, download=download,
                         allow_code=allow_code)
    except BaseException:
        release(executor)
        raise
    try:
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                return stop.value
            if isinstance(event, UnitProgress) and hasattr(event.item, "result") \
                    and hasattr(event.item, "recipe"):  # the prepared job of a grid
                yield Loaded(event.unit.name, event.item.result, live=True)
                continue
            yield event
            if isinstance(event, UnitFinished) and event.unit.kind == "grid":
                yield Loaded(event.unit.name, read_result(event.unit.path))
    finally:
        gen.close()
        release(executor)  # the window's Ray: one user less


def profiles_of(path: Path) -> list[str]:
    """The ``[profiles.NAME]`` a study file offers (``quick`` for the bundled ones)."""
    from lossviz_core.studies.toml_text import tomllib

    try:
        tree = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    profiles = tree.get("profiles", {})
    return sorted(profiles) if isinstance(profiles, dict) else []


class StudyPanel(QWidget):
    """The Study dock's contents: the ``session`` (its state, its results), the ``tasks``
    runner, and the ``compare`` view the chosen figure fills.

    Signals: ``opened()`` when a study was opened, ``studyChanged()`` after its status was
    read, ``compareShown()`` when a run starts (its figure fills in live), ``finished()``
    when a run ends (done, stopped or failed)."""

    studyChanged = Signal()
    finished = Signal()
    opened = Signal()
    compareShown = Signal()

    def __init__(self, session: Session, tasks: TaskRunner, compare: Any) -> None:
        super().__init__()
        self.session, self.tasks, self.compare = session, tasks, compare
        self.study: Any = None
        self.path: Path | None = None
        self.out: Path | None = None
        self.plan: Any = None
        self.results: dict[str, Any] = {}  # grid unit name -> SurfaceResult
        self.states: dict[str, str] = {}  # unit key -> state
        self.worker: Task | None = None
        self._is_run = False  # the worker runs the study (not only reads its status)
        self.summary: Any = None
        self._items: dict[str, QTreeWidgetItem] = {}
        self._started: dict[str, float] = {}
        self._dirty = False
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(400)  # a running grid's panel redraws at most this often
        self.timer.timeout.connect(self._redraw)

    # ---- widgets --------------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        self.title = QLabel("No study open")
        self.title.setStyleSheet("font-weight: bold")
        self.title.setWordWrap(True)
        self.about = QLabel("Study ▸ Open study… reads a study file (TOML, docs/studies.md): "
                            "models to train, results to compute, figures on one scale. "
                            "Study ▸ New study from these results… writes one.")
        self.about.setWordWrap(True)
        self.about.setStyleSheet("color: #444")
        lay.addWidget(self.title)
        lay.addWidget(self.about)
        form = QFormLayout()
        self.profile = QComboBox()
        self.profile.setToolTip("A profile merges a smaller version over the study (quick: "
                                "the bundled studies in seconds per unit); its outputs go to "
                                "their own folder")
        self.profile.currentIndexChanged.connect(lambda _i: self._reload())
        form.addRow("Profile", self.profile)
        self.out_edit = PathEdit("folder", placeholder="where runs, results and figures go")
        self.out_edit.setToolTip("The study's folder: trained runs, result files, figures and "
                                 "state.json. Running again does only what is missing here.")
        self.out_edit.pathChanged.connect(lambda _p: self._reload(keep_out=True))
        form.addRow("Folder", self.out_edit)
        self.figure = QComboBox()
        self.figure.setToolTip("The figure whose results the Compare tab shows, in its rows "
                               "and columns on one colour scale")
        self.figure.currentIndexChanged.connect(lambda _i: self.show_figure())
        form.addRow("Figure", self.figure)
        self.download = QCheckBox("Downloads")
        self.download.setToolTip("Data sets, pretrained weights and hub models the study names "
                                 "may be downloaded (the study file alone never allows it)")
        self.allow_code = QCheckBox("The code its models ship")
        self.allow_code.setToolTip("A transformers model's own Python code "
                                   "(trust_remote_code) may run; its Python files are asked "
                                   "about one by one as ever")
        form.addRow("Allow", self.download)  # one per row: the dock stays narrow
        form.addRow("", self.allow_code)
        lay.addLayout(form)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run study")
        self.run_button.setToolTip("Train what is missing, compute what is missing, draw the "
                                   "figures (every step cached by its recipe: a rerun after "
                                   "an edit or a crash does only the new work)")
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current epoch or chunk; what is done stays "
                                    "done and Run goes on from there")
        self.stop_button.clicked.connect(self.stop)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        lay.addLayout(buttons)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Unit", "State", "Progress"])
        self.tree.setRootIsDecorated(False)
        self.tree.setToolTip("Every unit of the study. Double-click a result to open it in "
                             "the main views, a figure to open its file, a training run to "
                             "see its checkpoints' folder")
        self.tree.itemDoubleClicked.connect(lambda item, _c: self.open_unit(item))
        lay.addWidget(self.tree, 1)
        self.status_line = QLabel("")
        self.status_line.setWordWrap(True)
        lay.addWidget(self.status_line)
        self._set_running(False)

    def _set_running(self, running: bool, busy: bool | None = None) -> None:
        """``running``: a run (Stop applies); ``busy``: any work, a status read included
        (the study, its profile and folder cannot change under it)."""
        busy = running if busy is None else busy
        self.run_button.setEnabled(not busy and self.study is not None)
        self.stop_button.setEnabled(running)
        for w in (self.profile, self.out_edit, self.download, self.allow_code):
            w.setEnabled(not busy and self.study is not None)
        self.figure.setEnabled(self.study is not None)

    # ---- opening --------------------------------------------------------------------------
    def open_study(self, path_or_name: str | os.PathLike, profile: str | None = None,
                   out: str | os.PathLike | None = None) -> bool:
        """Open a study file, a bundled study's name or a study figure; False (a message
        shown) if it cannot be read. Its status and results are read in the background."""
        from lossviz_core.studies import study_path

        if self.running and self._is_run:
            dialogs.show_error(self, "A study is running: stop it before opening another.")
            return False
        if self.running:  # only its status was being read: its late signals are ignored
            self.worker.quiet = True
            if not self.stop_wait(5000):
                return False
        self.worker = None
        try:
            path = study_path(path_or_name)
        except LossVizError as exc:
            dialogs.show_error(self, str(exc))
            return False
        self.path = path
        for grant in (self.download, self.allow_code):  # granted per study, never carried over
            grant.setChecked(False)
        names = profiles_of(path)
        self.profile.blockSignals(True)
        self.profile.clear()
        self.profile.addItem(FULL, None)
        for name in names:
            self.profile.addItem(name, name)
        self.profile.setCurrentIndex(max(self.profile.findData(profile), 0))
        self.profile.blockSignals(False)
        ok = self._reload(out=out)
        if ok:
            self.opened.emit()
        return ok

    def _reload(self, out: str | os.PathLike | None = None, keep_out: bool = False) -> bool:
        from lossviz_core.studies import default_folder_name, load_study

        if self.path is None or self.running:
            return False
        try:
            study = load_study(self.path, self.profile.currentData())
        except LossVizError as exc:
            dialogs.show_error(self, str(exc))
            return False
        self.study = study
        if out is None and keep_out and self.out_edit.text():
            out = self.out_edit.text()
        if out is None:  # beside the user's study file; a bundled one's in the results folder
            out = study_folder(self.path, default_folder_name(study))
        self.out = Path(out).expanduser().resolve()
        self.out_edit.blockSignals(True)
        self.out_edit.setText(str(self.out))
        self.out_edit.blockSignals(False)
        profile = f" (profile {study.profile})" if study.profile else ""
        self.title.setText(f"Study {study.name}{profile}")
        self.about.setText(f"{study.description}\n{self.path}" if study.description
                           else str(self.path))
        self.figure.blockSignals(True)
        self.figure.clear()
        for name in study.figures:
            self.figure.addItem(name, name)
        self.figure.blockSignals(False)
        self.results = {}
        self._start(run=False)
        return True

    # ---- running --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None

    def run(self) -> None:
        """Run the study: what is missing is trained, computed and drawn."""
        if self.study is None or self.running or not self._may_run_code():
            return
        self._start(run=True)

    def _may_run_code(self) -> bool:
        """A study (or the study a figure carries) names code: ask once per file first."""
        from lossviz_core.studies.usercode import study_code_files

        if not dialogs.Ask(self).may_run(study_code_files(self.study)):
            self.status_line.setText("Not run: the study's code was not trusted.")
            return False
        return True

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status_line.setText("Stopping after the current epoch or chunk …")

    def stop_wait(self, timeout_ms: int) -> bool:
        return self.worker.stop(timeout_ms) if self.worker is not None else True

    def _start(self, run: bool) -> None:
        if self.worker is not None:
            return
        study, out, session = self.study, self.out, self.session
        executor = None
        snap = session.state.snapshot()
        if run and snap.get("executor", "local") != "local":
            from .cluster import executor_for

            relay = self.tasks.post(session.show_workers)  # from the worker thread
            executor = lambda: executor_for(snap, relay)  # noqa: E731
        self.summary = None
        if run and executor is not None:  # the Compute panel's per-worker line, for Ray
            session.events.workers.emit("Ray: connecting …")
        task: Task | None = None

        def current(fn: Callable[..., None]) -> Callable[..., None]:
            """Only this task's signals: a stopped status read's may still be queued."""
            return lambda *args: fn(*args) if self.worker is task else None

        download, allow_code = self.download.isChecked(), self.allow_code.isChecked()
        task = self.tasks.start(lambda: study_generator(study, out, run, executor,
                                                        download, allow_code),
                                on_item=current(self._on_event),
                                on_done=current(self._on_returned),
                                on_error=current(self._on_error),
                                on_finish=current(self._on_finished), parent=self,
                                no_grad=False)  # training needs gradients
        self.worker, self._is_run = task, run
        self._set_running(run, busy=True)
        self.status_line.setText("Running the study …" if run else "Reading the study's "
                                 "status …")
        if run:
            self.compareShown.emit()
            self.timer.start()

    def _on_event(self, event: Any) -> None:
        from lossviz_core.progress import Chunk, EpochReport, Step
        from lossviz_core.studies import (
            StudyPlanned,
            StudyStatus,
            UnitFailed,
            UnitFinished,
            UnitProgress,
            UnitSkipped,
            UnitStarted,
        )

        if isinstance(event, StudyStatus):
            self._fill(event.plan, {u.unit.key: u for u in event.units})
            self.status_line.setText(_status_text(event))
            self.show_figure()  # its panels as placeholders until their results are read
            self.studyChanged.emit()
        elif isinstance(event, Loaded):
            self.results[event.name] = event.result
            self.show_figure()
        elif isinstance(event, StudyPlanned):
            for key in event.done:
                self._set_state(key, "done")
            self.status_line.setText(f"{len(event.done)} of {len(event.plan.units)} units "
                                     f"done, {len(event.todo)} to do")
        elif isinstance(event, UnitStarted):
            self._started[event.unit.key] = time.perf_counter()
            self._set_state(event.unit.key, "running")
            self.status_line.setText(f"[{event.index}/{event.total}] {event.unit.label} …")
        elif isinstance(event, UnitProgress):
            item = event.item
            if isinstance(item, EpochReport):
                self._set_progress(event.unit.key, f"epoch {item.epoch}/{item.epochs}, loss "
                                   f"{item.train_loss:.3f}")
            elif isinstance(item, Chunk):
                eta = "" if item.eta == float("inf") else f", ~{item.eta:.0f} s left"
                self._set_progress(event.unit.key, f"{item.done}/{item.total} points{eta}")
                self._dirty = True
            elif isinstance(item, Step):
                self._set_progress(event.unit.key, item.text)
        elif isinstance(event, UnitFinished):
            self._set_state(event.unit.key, "done")
            self._set_progress(event.unit.key, f"{event.seconds:.1f} s")
        elif isinstance(event, UnitFailed):
            self._set_state(event.unit.key, "failed")
            self._set_progress(event.unit.key, event.message)
        elif isinstance(event, UnitSkipped):
            self._set_state(event.unit.key, "skipped")
            self._set_progress(event.unit.key, event.reason)
        elif isinstance(event, Step):
            self.status_line.setText(f"{event.text} …")

    def _on_error(self, message: str) -> None:
        self.status_line.setText("Failed: " + message.splitlines()[0] if message else "Failed.")

    def _on_returned(self, summary: Any) -> None:
        self.summary = summary
        if summary is None:
            return
        text = summary.text()
        if summary.figures:
            text += "; figures in " + str(Path(summary.figures[0]).parent)
        self.status_line.setText(text)

    def _on_finished(self) -> None:
        worker, self.worker = self.worker, None
        self.timer.stop()
        self.session.clear_connecting()
        self._redraw()
        self._set_running(False)
        if worker is not None and worker.cancelled:
            self.status_line.setText("Stopped: what is done stays done; Run goes on from "
                                     "there.")
        self.finished.emit()

    # ---- the unit list --------------------------------------------------------------------
    def _fill(self, plan: Any, status: dict[str, Any]) -> None:
        self.plan = plan
        self.tree.clear()
        self._items = {}
        for unit in plan.units:
            u = status.get(unit.key)
            item = QTreeWidgetItem([unit.label, "", ""])
            item.setData(0, Qt.ItemDataRole.UserRole, unit.key)
            self.tree.addTopLevelItem(item)
            self._items[unit.key] = item
            state = u.state if u is not None else "pending"
            self._set_state(unit.key, state)
            detail = ""
            if u is not None and u.progress and state != "done":
                done, total = u.progress
                detail = f"{done}/{total} {'epochs' if unit.kind == 'train' else 'points'}"
            if u is not None and u.message:
                detail = (detail + " " + u.message).strip()
            self._set_progress(unit.key, detail)
        for col in range(3):
            self.tree.resizeColumnToContents(col)

    def _set_state(self, key: str, state: str) -> None:
        self.states[key] = state
        item = self._items.get(key)
        if item is not None:
            item.setText(1, state)
            item.setForeground(1, _brush(STATE_COLOURS.get(state, "#000")))

    def _set_progress(self, key: str, text: str) -> None:
        item = self._items.get(key)
        if item is not None:
            item.setText(2, text)
            item.setToolTip(2, text)

    def unit_states(self) -> dict[str, str]:
        """``{unit label: state}`` as the list shows them (tests, the status line)."""
        return {self.plan.unit(k).label: s for k, s in self.states.items()} if self.plan else {}

    def open_unit(self, item: QTreeWidgetItem) -> None:
        """A result opens in the main views, a figure in the system's viewer, a training
        run's folder in the file manager."""
        if self.plan is None:
            return
        unit = self.plan.unit(item.data(0, Qt.ItemDataRole.UserRole))
        path = unit.files[0] if unit.files else unit.path
        if not Path(path).exists():
            dialogs.show_error(self, f"{unit.label} is not done yet: Run the study first.")
            return
        if unit.kind == "grid":
            self.session.open_file(str(path))  # on its tab
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    # ---- a new study --------------------------------------------------------------------
    def new_study(self) -> Path | None:
        """*New study from these results* (:func:`lossviz.new_study.ask_new_study`)."""
        from .new_study import ask_new_study

        return ask_new_study(self, self.session, self.compare, self.open_study)

    # ---- the compare grid -----------------------------------------------------------------
    def figure_layout(self) -> tuple[list[str], int, str, float | None] | None:
        """(panel result names, columns, mode, vmax) of the chosen figure."""
        if self.study is None or not self.study.figures:
            return None
        name = self.figure.currentData() or next(iter(self.study.figures))
        fig = self.study.figures[name]
        vmax = fig.options.get("vmax")
        return list(fig.panels), fig.cols, fig.mode, None if vmax is None else float(vmax)

    def show_figure(self) -> None:
        """The chosen figure's results in the Compare grid (placeholders for the rest)."""
        layout = self.figure_layout()
        if layout is None:
            if self.study is not None:  # a study with no figures: not another's grid
                self.session.compare_origin = "study"
                self.compare.set_results([], [])
            return
        panels, cols, mode, vmax = layout
        results = [self.results.get(p) for p in panels]
        present = [r for r in results if r is not None]
        lines = bool(present) and all(r.is_line for r in present)
        compare = self.compare
        self.session.compare_origin = "study"
        compare.mode_box.blockSignals(True)  # set_results draws once, in the figure's mode
        compare.set_mode("lines" if lines else "3d" if mode == "3d" else "2d")
        compare.mode_box.blockSignals(False)
        compare.set_results(results, panels, cols=cols, vmax=vmax)

    def _redraw(self) -> None:
        if self._dirty:
            self._dirty = False
            self.compare.refresh()


def _status_text(status: Any) -> str:
    from lossviz_core.studies.status import STATES, eta_line

    counts = ", ".join(f"{status.count(s)} {s}" for s in STATES if status.count(s))
    running = "; another LossViz is running it now" if status.running else ""
    return f"{len(status.units)} units: {counts}{running}. {eta_line(status).capitalize()}"


def _brush(colour: str) -> Any:
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(colour))


def study_folder(path: Path, name: str) -> Path:
    """Where a study's outputs go when none is named: beside the user's own study file, as
    the command line's ``./NAME``; a bundled study's (inside the installed package) or one
    in a folder the user cannot write to, in the user's results folder (``studies/``)."""
    from lossviz_core.studies.catalog import BUNDLED

    parent = Path(path).resolve().parent
    if parent == BUNDLED.resolve() or not os.access(parent, os.W_OK):
        return settings_store.results_folder("studies", name)
    return parent / name
