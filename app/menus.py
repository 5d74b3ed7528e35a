"""The main window's menus: open/save results, export, compare, training, help.

Slow work (reading, writing, figures, downloads) runs through the window's task runner;
rendering the views for export stays on the GUI thread (Qt requires it). The menus act on the
session and on the widgets they are given (:class:`Views`), never on the window itself.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from . import dialogs, settings_store
from .export_dialogs import ExportDialog, FigureDialog
from .messages import describe
from .worker import describe_exception

if TYPE_CHECKING:
    from .session import Session
    from .study_panel import StudyPanel
    from .tasks import Task, TaskRunner

RESULT_FILTER = "Surface files (*.h5 *.hdf5);;All files (*)"


@dataclass(frozen=True)
class Views:
    """The widgets the menus act on: the views (export), the tabs and the left docks."""

    view3d: Any
    view2d: Any
    view1d: Any
    compare: Any
    tabs: Any
    surface_split: QWidget
    settings_dock: Any
    results_dock: Any


class WindowActions:
    """Builds the menu bar of ``window`` and implements its actions on ``session``."""

    def __init__(self, session: Session, tasks: TaskRunner, display: Any, views: Views,
                 study: StudyPanel, window: QMainWindow) -> None:
        self.session, self.runner, self.display, self.v = session, tasks, display, views
        self.study, self.parent = study, window
        self.training: Any = None
        self.run_windows: list[Any] = []
        self.compare_sides: dict[str, tuple[Any, str]] = {}
        s, v = session, views
        bar = window.menuBar()

        m = bar.addMenu("&File")
        self._add(m, "&Open result…", self.ask_open, QKeySequence.StandardKey.Open)
        self._add(m, "&Save result…", self.ask_save, QKeySequence.StandardKey.Save)
        m.addSeparator()
        self._add(m, "&Export image…", self.ask_export, "Ctrl+E")
        self._add(m, "&Copy image", self.copy_image, "Ctrl+Shift+C")
        self._add(m, "&Publication figure…", self.ask_figure)
        self._add(m, "Export &mesh (ParaView, OBJ, STL, glTF)…", self.ask_mesh)
        self._add(m, "Export &animation (GIF, MP4)…", self.ask_animation)
        m.addSeparator()
        self._add(m, "&Quit", window.close, QKeySequence.StandardKey.Quit)

        m = bar.addMenu("&Compute")
        self._add(m, "&Compute", s.compute, "Ctrl+R")
        self._add(m, "C&ancel", s.cancel, "Esc")
        self._add(m, "Zoom &back", s.zoom_back, "Ctrl+Z")
        self._add(m, "&Reset zoom", s.zoom_reset)

        m = bar.addMenu("&View")
        self._add(m, "&Reset the 3-D camera", lambda: v.view3d.reset_camera(), "Ctrl+Home")
        self._add(m, "Show the &Results list", lambda: v.results_dock.raise_())
        self._add(m, "Show the &Settings", lambda: v.settings_dock.raise_())

        m = bar.addMenu("C&ompare")
        self._add(m, "&Add current", lambda: self.add_to_compare(None))
        self._add(m, "&Open file into compare…", self.ask_compare_file)
        self._add(m, "&Clear", lambda: self._set_compare([], []))

        m = bar.addMenu("&Study")
        self._add(m, "&Open study…", self.ask_study)
        bundled = m.addMenu("Open a &bundled study")
        for b in _bundled():
            self._add(bundled, f"{b.name}: {b.description}",
                      lambda name=b.name: study.open_study(name))
        self._add(m, "&Run study", lambda: study.run())
        self._add(m, "S&top study", lambda: study.stop())
        m.addSeparator()
        self._add(m, "&New study from these results…", lambda: study.new_study())

        m = bar.addMenu("&Training")
        self._add(m, "&Train a model…", lambda: self.open_training("single"))
        self._add(m, "&Small vs large batch…", lambda: self.open_training("batch"))
        self._add(m, "&Open run folder (live geometry)…", self.open_run_folder)

        m = bar.addMenu("&Help")
        self._add(m, "&Guide", lambda: dialogs.show_guide(window),
                  QKeySequence.StandardKey.HelpContents)
        self._add(m, "&Keyboard shortcuts", lambda: dialogs.show_shortcuts(window))
        m.addSeparator()
        self._add(m, "&About LossViz", self.about)

    def _add(self, menu: Any, text: str, slot: Callable[[], Any], shortcut: Any = None) -> QAction:
        action = QAction(text, self.parent)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    @property
    def tasks(self) -> list[Task]:
        """The background tasks running now (each a :class:`~lossviz.tasks.Task`)."""
        return self.runner.tasks

    def run_task(self, fn: Callable[[], Any], done: Callable[[Any], None],
                 busy: str = "") -> Task:
        """Run ``fn()`` in a worker thread; ``done(value)`` on the GUI thread, errors shown."""
        if busy:
            self.session.say(busy)
        return self.runner.call(fn, done)

    # -- files --------------------------------------------------------------------------

    def ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open a surface file",
                                              settings_store.last_path("result"), RESULT_FILTER)
        if path:
            self.open_result(path)

    def open_result(self, path: str, side: str | None = None) -> Task:
        """Read ours or the reference's HDF5 in the background and show it (or compare it)."""
        from lossviz_core.results.store import read_result

        settings_store.set_last_path("result", os.path.dirname(os.path.abspath(path)))
        if side is None:
            self.session.say(f"Reading {path} …")
            return self.session.open_file(path)

        def shown(result: Any) -> None:
            if side == "add":
                self.add_to_compare(result, os.path.basename(path))
            else:
                self.set_compare(side, result, os.path.basename(path))

        return self.run_task(lambda: read_result(path), shown, f"Reading {path} …")

    def compare_entry(self, entry_id: str) -> Task | None:
        """Put a library entry into the Compare view (read in the background)."""
        from lossviz_core.results.store import read_result

        entry = self.session.library.get(entry_id)
        if entry is None:
            return None
        path, name = entry.path, entry.name
        return self.run_task(lambda: read_result(path), lambda r: self.add_to_compare(r, name))

    def ask_save(self) -> None:
        result = self.session.result
        if result is None:
            dialogs.show_error(self.parent, "Nothing to save yet: compute or open a landscape first.")
            return
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save the surface",
                                              settings_store.last_path("result"), RESULT_FILTER)
        if path:
            self.save_result(path)

    def save_result(self, path: str) -> Task:
        """Write the current result atomically (store.save_result) in the background."""
        from lossviz_core.results.store import save_result

        # A snapshot taken here, on the GUI thread: the compute worker keeps filling the live
        # result, and a point must never be saved as done without its value.
        result = copy.deepcopy(self.session.result)
        if not path.lower().endswith((".h5", ".hdf5")):
            path += ".h5"
        settings_store.set_last_path("result", os.path.dirname(os.path.abspath(path)))
        return self.run_task(lambda: save_result(result, path),
                             lambda p: self.session.say(f"Saved {p}"))

    # -- export -------------------------------------------------------------------------

    def views(self) -> dict[str, Any]:
        v = self.v
        return {"3-D surface": v.view3d, "2-D contour": v.view2d, "1-D line": v.view1d,
                "Compare": v.compare}

    def current_view_name(self) -> str:
        v = self.v
        tab = v.tabs.currentWidget()
        if tab is v.compare:
            return "Compare"
        if tab is v.view1d:
            return "1-D line"
        return "2-D contour" if v.view2d.hasFocus() else "3-D surface"

    def ask_export(self) -> None:
        view = self.views()[self.current_view_name()]
        dlg = ExportDialog(self.parent, list(self.views()), self.current_view_name(),
                                   (max(view.width(), 800), max(view.height(), 600)))
        if not dlg.exec():
            return
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Export image", settings_store.last_path("export"),
            "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf)")
        if path:
            self.export(dlg.view.currentText(), path, dlg.width_px.value(),
                        dlg.height_px.value(), dlg.transparent.isChecked())

    def export(self, view_name: str, path: str, width: int, height: int,
               transparent: bool = False) -> None:
        """Write a view to PNG (carrying the specs), SVG or PDF."""
        from .export import export_image

        if not os.path.splitext(path)[1]:
            path += ".png"
        settings_store.set_last_path("export", os.path.dirname(os.path.abspath(path)))
        specs = self.session.result.specs if self.session.result is not None else None
        try:
            export_image(self.views()[view_name], path, width, height, transparent, specs=specs)
        except Exception as exc:  # noqa: BLE001
            dialogs.show_error(self.parent, *describe_exception(exc))
            return
        self.session.say(f"Exported {path}")

    def copy_image(self) -> None:
        from .export import copy_image_to_clipboard

        view = self.views()[self.current_view_name()]
        try:
            copy_image_to_clipboard(view, max(view.width(), 400), max(view.height(), 300))
        except Exception as exc:  # noqa: BLE001
            dialogs.show_error(self.parent, *describe_exception(exc))

    def ask_figure(self) -> None:
        result = self.session.result
        if result is None:
            dialogs.show_error(self.parent, "Nothing to plot yet: compute or open a landscape first.")
            return
        from .export import screen_options  # the figure starts from what the screen shows

        view = self.v.view1d if result.is_line else self.v.view2d
        dlg = FigureDialog(self.parent, result.quantities, result.is_line,
                           screen_options(view, 900, 600))
        if not dlg.exec():
            return
        try:
            options = dlg.options()
        except Exception as exc:  # noqa: BLE001 - a bad number in the dialog
            dialogs.show_error(self.parent, *describe_exception(exc))
            return
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Publication figure", settings_store.last_path("export"),
            "PDF (*.pdf);;PNG (*.png);;SVG (*.svg)")
        if path:
            from .export import export_publication_figure

            self.run_task(lambda: export_publication_figure(result, path, options=options),
                          lambda p: self.session.say(f"Wrote {p}"),
                          "Drawing the figure …")

    def ask_mesh(self) -> None:
        """A mesh of the surface for rendering elsewhere (.vtp for ParaView, .obj, .stl, .glb)."""
        result = self.session.result
        if result is None or result.is_line:
            dialogs.show_error(self.parent, "Nothing to export as a mesh: compute or open a surface.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Export a mesh", settings_store.last_path("export"),
            "ParaView (*.vtp);;Wavefront OBJ (*.obj);;STL (*.stl);;glTF binary (*.glb)")
        if not path:
            return
        if not os.path.splitext(path)[1]:
            path += ".vtp"
        from lossviz_core.export import export_mesh

        d = self.display
        quantity = d.quantity if d.quantity in result.values else None
        self.run_task(lambda: export_mesh(result, path, quantity, d.z_scale, d.log_scale),
                      lambda p: self.session.say(f"Wrote {p}"), "Writing the mesh …")

    # -- studies ------------------------------------------------------------------------

    def ask_study(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.parent, "Open a study", settings_store.last_path("study"),
            "Study file or figure (*.toml *.png *.pdf *.svg);;All files (*)")
        if path:
            settings_store.set_last_path("study", os.path.dirname(os.path.abspath(path)))
            self.study.open_study(path)

    # -- compare ------------------------------------------------------------------------

    def _set_compare(self, results: list[Any], titles: list[str]) -> None:
        self.session.compare_origin = "user"
        self.v.compare.set_results(results, titles)

    def add_to_compare(self, result: Any = None, title: str | None = None) -> None:
        """Add ``result`` (default: the current one) to the Compare tab."""
        result = self.session.result if result is None else result
        if result is None:
            dialogs.show_error(self.parent, "Nothing to compare yet: compute or open a landscape.")
            return
        self.session.compare_origin = "user"
        self.v.compare.add(result, title or describe(result))
        self.v.tabs.setCurrentWidget(self.v.compare)

    def set_compare(self, side: str, result: Any = None, title: str | None = None) -> None:
        """The first (``left``) or second (``right``) result of the Compare tab."""
        result = self.session.result if result is None else result
        if result is None:
            dialogs.show_error(self.parent, "Nothing to compare yet: compute or open a landscape.")
            return
        self.compare_sides[side] = (result, title or describe(result))
        pairs = [self.compare_sides[s] for s in ("left", "right") if s in self.compare_sides]
        self._set_compare([r for r, _ in pairs], [t for _, t in pairs])
        self.v.tabs.setCurrentWidget(self.v.compare)

    def ask_compare_file(self, side: str | None = None) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open a surface file to compare",
                                              settings_store.last_path("result"), RESULT_FILTER)
        if path:
            self.open_result(path, side=side or "add")

    # -- data, training, help -------------------------------------------------------------

    def download_cifar(self) -> None:
        """Download the dataset the Dataset panel names (CIFAR-10 or a torchvision one)."""
        from lossviz_core.data import default_cifar_root, load_dataset
        from lossviz_core.data.tvision import default_root
        from lossviz_core.recipe.spec import DatasetSpec

        from .state import dataset_name

        state = self.session.state
        name = dataset_name(state.snapshot())
        if state["dataset"] == "torchvision":
            default, label = default_root(state["tv_dataset"]), state["tv_dataset"]
        else:
            name, default, label = "cifar10", default_cifar_root(), "CIFAR-10"
        root = state["data_root"] or str(default)
        state.set("data_root", root)
        spec = DatasetSpec(name=name, root=root, download=True)
        self.run_task(lambda: load_dataset(spec, "cpu") and root,
                      lambda r: self.session.say(f"{label} is ready in {r}"),
                      f"Downloading {label} into {root} …")

    def open_training(self, preset: str = "single") -> Any:
        """Show the training dialog (one per window)."""
        from .training_dialog import TrainingDialog

        if self.training is None:
            self.training = TrainingDialog(self.parent, tasks=self.runner)
            self.training.pcaRequested.connect(self.use_run_for_pca)
            self.training.interpolationRequested.connect(self.open_interpolation)
        i = self.training.preset.findData(preset)
        self.training.preset.setCurrentIndex(i)
        self.training.show()
        self.training.raise_()
        return self.training

    def ask_animation(self) -> Task | None:
        """*Export animation…*: the shown result's path moving, or the Compare results."""
        from .animation_dialog import ask_animation

        return ask_animation(self)

    def open_run_folder(self, run_dir: str | None = None) -> Any:
        """A run folder's edge-of-stability view and path, followed as it trains."""
        from .run_view import open_run_folder

        return open_run_folder(self, run_dir)

    def use_run_for_pca(self, run_dir: str) -> None:
        """The PCA plane of a training run, its ranges fitted to the trajectory (whatever
        the panels held before: an opened result's fixed ranges would cut the path off)."""
        self.session.state.update(source="run", run_dir=run_dir, method="pca", fit_ranges=True)
        self._bring_forward(self.v.surface_split)
        self.session.compute()

    def _bring_forward(self, tab: Any) -> None:
        """From the training dialog: the window in front of it, on the tab the result will
        be drawn in (not left behind the dialog on Compare)."""
        self.v.tabs.setCurrentWidget(tab)
        self.parent.raise_()
        self.parent.activateWindow()

    def open_interpolation(self, model: str, a: str, b: str, dataset: dict) -> None:
        """The 1-D interpolation θ_A + α (θ_B − θ_A), α ∈ [−0.5, 1.5]."""
        name = str(dataset.get("name", "digits"))
        tensors = name.split(":", 1)[1] if name.startswith("tensors:") else ""
        state = self.session.state
        state.update(
            source="zoo", model=model, checkpoint=a, checkpoint2=b,
            method="target", dir_type="auto", split="both",
            dataset="tensors" if tensors else name, tensors_file=tensors,
            data_root=dataset.get("root") or "", xmin=-0.5, xmax=1.5,
            xnum=max(state["xnum"], 21),
        )
        self._bring_forward(self.v.view1d)
        self.session.compute()

    def about(self) -> None:
        job = self.session.job
        device = job.device_text if job is not None else _device_text()
        try:
            from .about import AboutDialog

            AboutDialog(self.parent, device).exec()
        except ImportError:
            from lossviz_core import __version__

            QMessageBox.about(self.parent, "About LossViz",
                              f"LossViz {__version__}\nDevice: {device}\n\nLi et al., "
                              "Visualizing the Loss Landscape of Neural Nets (NeurIPS 2018).")


def _device_text() -> str:
    from lossviz_core.device import device_description, pick_device

    return device_description(pick_device("auto"))


def _bundled() -> list[Any]:
    """The bundled studies (none if they cannot be read: the menu still opens)."""
    try:
        from lossviz_core.studies import bundled_studies

        return bundled_studies()
    except Exception:  # noqa: BLE001 - a broken install must not break the menu bar
        return []
