"""The main window's menus: open/save results, export, compare, training, help.

Slow work (reading, writing, figures, downloads) runs in a worker thread; rendering the
views for export stays on the GUI thread (Qt requires it).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from .. import dialogs, settings_store
from ..worker import GeneratorWorker, Relay, call_in_thread, describe_exception

if TYPE_CHECKING:
    from ..main_window import MainWindow

RESULT_FILTER = "Surface files (*.h5 *.hdf5);;All files (*)"


class WindowActions:
    """Builds the menu bar of ``window`` and implements its actions."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.tasks: list[GeneratorWorker] = []
        self.training: Any = None
        self.compare_sides: dict[str, tuple[Any, str]] = {}
        bar = window.menuBar()

        m = bar.addMenu("&File")
        self._add(m, "&Open result…", self.ask_open, QKeySequence.StandardKey.Open)
        self._add(m, "&Save result…", self.ask_save, QKeySequence.StandardKey.Save)
        m.addSeparator()
        self._add(m, "&Export image…", self.ask_export, "Ctrl+E")
        self._add(m, "&Copy image", self.copy_image, "Ctrl+Shift+C")
        self._add(m, "&Publication figure…", self.ask_figure)
        self._add(m, "Export &mesh (ParaView, OBJ, STL, glTF)…", self.ask_mesh)
        m.addSeparator()
        self._add(m, "&Quit", window.close, QKeySequence.StandardKey.Quit)

        m = bar.addMenu("&Compute")
        self._add(m, "&Compute", window.compute, "Ctrl+R")
        self._add(m, "C&ancel", window.cancel, "Esc")
        self._add(m, "Zoom &back", window.zoom_back, "Ctrl+Z")
        self._add(m, "&Reset zoom", window.zoom_reset)

        m = bar.addMenu("&View")
        self._add(m, "&Reset the 3-D camera", lambda: window.view3d.reset_camera(), "Ctrl+Home")
        self._add(m, "Show the &Results list", lambda: window.results_dock.raise_())
        self._add(m, "Show the &Settings", lambda: window.settings_dock.raise_())

        m = bar.addMenu("C&ompare")
        self._add(m, "&Add current", lambda: self.add_to_compare(None))
        self._add(m, "&Open file into compare…", self.ask_compare_file)
        self._add(m, "&Clear", lambda: self.w.compare.set_results([], []))

        m = bar.addMenu("&Study")
        self._add(m, "&Open study…", self.ask_study)
        bundled = m.addMenu("Open a &bundled study")
        for b in _bundled():
            self._add(bundled, f"{b.name}: {b.description}",
                      lambda name=b.name: self.w.open_study(name))
        self._add(m, "&Run study", lambda: self.w.study_panel.run())
        self._add(m, "S&top study", lambda: self.w.study_panel.stop())
        m.addSeparator()
        self._add(m, "&New study from these results…", self.new_study)

        m = bar.addMenu("&Training")
        self._add(m, "&Train a model…", lambda: self.open_training("single"))
        self._add(m, "&Small vs large batch…", lambda: self.open_training("batch"))

        m = bar.addMenu("&Help")
        self._add(m, "&Guide", lambda: dialogs.show_guide(self.w), QKeySequence.StandardKey.HelpContents)
        self._add(m, "&Keyboard shortcuts", lambda: dialogs.show_shortcuts(self.w))
        m.addSeparator()
        self._add(m, "&About LossViz", self.about)

    def _add(self, menu: Any, text: str, slot: Callable[[], Any], shortcut: Any = None) -> QAction:
        action = QAction(text, self.w)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    # -- background tasks ---------------------------------------------------------------

    def run_task(self, fn: Callable[[], Any], done: Callable[[Any], None],
                 busy: str = "") -> GeneratorWorker:
        """Run ``fn()`` in a worker thread; ``done(value)`` on the GUI thread, errors shown."""
        worker = call_in_thread(fn)
        Relay(worker, done, lambda m, d: dialogs.show_error(self.w, m, d),
              lambda: worker in self.tasks and self.tasks.remove(worker), parent=self.w)
        self.tasks.append(worker)
        if busy:
            self.w.progress_label.setText(busy)
        worker.start()
        return worker

    def stop(self, timeout_ms: int) -> bool:
        ok = all(t.stop(timeout_ms) for t in list(self.tasks))
        if self.training is not None:
            ok = self.training.stop(timeout_ms) and ok
        return ok

    # -- files --------------------------------------------------------------------------

    def ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open a surface file",
                                              settings_store.last_path("result"), RESULT_FILTER)
        if path:
            self.open_result(path)

    def open_result(self, path: str, side: str | None = None) -> GeneratorWorker:
        """Read ours or the reference's HDF5 in the background and show it (or compare it)."""
        from lossviz_core.results.store import read_result

        settings_store.set_last_path("result", os.path.dirname(os.path.abspath(path)))

        def shown(result: Any) -> None:
            if side == "add":
                self.add_to_compare(result, os.path.basename(path))
                return
            if side is not None:
                self.set_compare(side, result, os.path.basename(path))
                return
            self.w.show_opened(result, path)

        return self.run_task(lambda: read_result(path), shown, f"Reading {path} …")

    def ask_save(self) -> None:
        result = self.w.result
        if result is None:
            dialogs.show_error(self.w, "Nothing to save yet: compute or open a landscape first.")
            return
        path, _ = QFileDialog.getSaveFileName(self.w, "Save the surface",
                                              settings_store.last_path("result"), RESULT_FILTER)
        if path:
            self.save_result(path)

    def save_result(self, path: str) -> GeneratorWorker:
        """Write the current result atomically (store.save_result) in the background."""
        from lossviz_core.results.store import save_result

        # A snapshot taken here, on the GUI thread: the compute worker keeps filling the live
        # result, and a point must never be saved as done without its value.
        result = copy.deepcopy(self.w.result)
        if not path.lower().endswith((".h5", ".hdf5")):
            path += ".h5"
        settings_store.set_last_path("result", os.path.dirname(os.path.abspath(path)))
        return self.run_task(lambda: save_result(result, path),
                             lambda p: self.w.progress_label.setText(f"Saved {p}"))

    # -- export -------------------------------------------------------------------------

    def views(self) -> dict[str, Any]:
        w = self.w
        return {"3-D surface": w.view3d, "2-D contour": w.view2d, "1-D line": w.view1d,
                "Compare": w.compare}

    def current_view_name(self) -> str:
        w = self.w
        tab = w.tabs.currentWidget()
        if tab is w.compare:
            return "Compare"
        if tab is w.view1d:
            return "1-D line"
        return "2-D contour" if w.view2d.hasFocus() else "3-D surface"

    def ask_export(self) -> None:
        view = self.views()[self.current_view_name()]
        dlg = dialogs.ExportDialog(self.w, list(self.views()), self.current_view_name(),
                                   (max(view.width(), 800), max(view.height(), 600)))
        if not dlg.exec():
            return
        path, _ = QFileDialog.getSaveFileName(
            self.w, "Export image", settings_store.last_path("export"),
            "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf)")
        if path:
            self.export(dlg.view.currentText(), path, dlg.width_px.value(),
                        dlg.height_px.value(), dlg.transparent.isChecked())

    def export(self, view_name: str, path: str, width: int, height: int,
               transparent: bool = False) -> None:
        """Write a view to PNG (carrying the specs), SVG or PDF."""
        from ..export import export_image

        if not os.path.splitext(path)[1]:
            path += ".png"
        settings_store.set_last_path("export", os.path.dirname(os.path.abspath(path)))
        specs = self.w.result.specs if self.w.result is not None else None
        try:
            export_image(self.views()[view_name], path, width, height, transparent, specs=specs)
        except Exception as exc:  # noqa: BLE001
            dialogs.show_error(self.w, *describe_exception(exc))
            return
        self.w.progress_label.setText(f"Exported {path}")

    def copy_image(self) -> None:
        from ..export import copy_image_to_clipboard

        view = self.views()[self.current_view_name()]
        try:
            copy_image_to_clipboard(view, max(view.width(), 400), max(view.height(), 300))
        except Exception as exc:  # noqa: BLE001
            dialogs.show_error(self.w, *describe_exception(exc))

    def ask_figure(self) -> None:
        result = self.w.result
        if result is None:
            dialogs.show_error(self.w, "Nothing to plot yet: compute or open a landscape first.")
            return
        from ..export import screen_options  # the figure starts from what the screen shows

        view = self.w.view1d if result.is_line else self.w.view2d
        dlg = dialogs.FigureDialog(self.w, result.quantities, result.is_line,
                                   screen_options(view, 900, 600))
        if not dlg.exec():
            return
        try:
            options = dlg.options()
        except Exception as exc:  # noqa: BLE001 - a bad number in the dialog
            dialogs.show_error(self.w, *describe_exception(exc))
            return
        path, _ = QFileDialog.getSaveFileName(
            self.w, "Publication figure", settings_store.last_path("export"),
            "PDF (*.pdf);;PNG (*.png);;SVG (*.svg)")
        if path:
            from ..export import export_publication_figure

            self.run_task(lambda: export_publication_figure(result, path, options=options),
                          lambda p: self.w.progress_label.setText(f"Wrote {p}"),
                          "Drawing the figure …")

    def ask_mesh(self) -> None:
        """A mesh of the surface for rendering elsewhere (.vtp for ParaView, .obj, .stl, .glb)."""
        result = self.w.result
        if result is None or result.is_line:
            dialogs.show_error(self.w, "Nothing to export as a mesh: compute or open a surface.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self.w, "Export a mesh", settings_store.last_path("export"),
            "ParaView (*.vtp);;Wavefront OBJ (*.obj);;STL (*.stl);;glTF binary (*.glb)")
        if not path:
            return
        if not os.path.splitext(path)[1]:
            path += ".vtp"
        from lossviz_core.export import export_mesh

        d = self.w.display
        quantity = d.quantity if d.quantity in result.values else None
        self.run_task(lambda: export_mesh(result, path, quantity, d.z_scale, d.log_scale),
                      lambda p: self.w.progress_label.setText(f"Wrote {p}"), "Writing the mesh …")

    # -- studies ------------------------------------------------------------------------

    def ask_study(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.w, "Open a study", settings_store.last_path("study"),
            "Study file or figure (*.toml *.png *.pdf *.svg);;All files (*)")
        if path:
            settings_store.set_last_path("study", os.path.dirname(os.path.abspath(path)))
            self.w.open_study(path)

    def new_study(self) -> None:
        from ..study_panel import ask_new_study

        ask_new_study(self.w)

    # -- compare ------------------------------------------------------------------------

    def add_to_compare(self, result: Any = None, title: str | None = None) -> None:
        """Add ``result`` (default: the current one) to the Compare tab."""
        from ..main_window import _describe

        result = self.w.result if result is None else result
        if result is None:
            dialogs.show_error(self.w, "Nothing to compare yet: compute or open a landscape.")
            return
        self.w.compare.add(result, title or _describe(result))
        self.w.tabs.setCurrentWidget(self.w.compare)

    def set_compare(self, side: str, result: Any = None, title: str | None = None) -> None:
        """The first (``left``) or second (``right``) result of the Compare tab."""
        from ..main_window import _describe

        result = self.w.result if result is None else result
        if result is None:
            dialogs.show_error(self.w, "Nothing to compare yet: compute or open a landscape.")
            return
        self.compare_sides[side] = (result, title or _describe(result))
        pairs = [self.compare_sides[s] for s in ("left", "right") if s in self.compare_sides]
        self.w.compare.set_results([r for r, _ in pairs], [t for _, t in pairs])
        self.w.tabs.setCurrentWidget(self.w.compare)

    def ask_compare_file(self, side: str | None = None) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open a surface file to compare",
                                              settings_store.last_path("result"), RESULT_FILTER)
        if path:
            self.open_result(path, side=side or "add")

    # -- data, training, help -------------------------------------------------------------

    def download_cifar(self) -> None:
        """Download the dataset the Dataset panel names (CIFAR-10 or a torchvision one)."""
        from lossviz_core.data import default_cifar_root, load_dataset
        from lossviz_core.data.tvision import default_root
        from lossviz_core.recipe.spec import DatasetSpec

        from ..state import dataset_name

        state = self.w.state
        name = dataset_name(state.snapshot())
        if state["dataset"] == "torchvision":
            default, label = default_root(state["tv_dataset"]), state["tv_dataset"]
        else:
            name, default, label = "cifar10", default_cifar_root(), "CIFAR-10"
        root = state["data_root"] or str(default)
        state.set("data_root", root)
        spec = DatasetSpec(name=name, root=root, download=True)
        self.run_task(lambda: load_dataset(spec, "cpu") and root,
                      lambda r: self.w.progress_label.setText(f"{label} is ready in {r}"),
                      f"Downloading {label} into {root} …")

    def open_training(self, preset: str = "single") -> Any:
        """Show the training dialog (one per window)."""
        from ..training_dialog import TrainingDialog

        if self.training is None:
            self.training = TrainingDialog(self.w)
            self.training.pcaRequested.connect(self.use_run_for_pca)
            self.training.interpolationRequested.connect(self.open_interpolation)
        i = self.training.preset.findData(preset)
        self.training.preset.setCurrentIndex(i)
        self.training.show()
        self.training.raise_()
        return self.training

    def use_run_for_pca(self, run_dir: str) -> None:
        self.w.state.update(source="run", run_dir=run_dir, method="pca")
        self._bring_forward(self.w.surface_split)
        self.w.compute()

    def _bring_forward(self, tab: Any) -> None:
        """From the training dialog: the window in front of it, on the tab the result will
        be drawn in (not left behind the dialog on Compare)."""
        self.w.tabs.setCurrentWidget(tab)
        self.w.raise_()
        self.w.activateWindow()

    def open_interpolation(self, model: str, a: str, b: str, dataset: dict) -> None:
        """The 1-D interpolation θ_A + α (θ_B − θ_A), α ∈ [−0.5, 1.5]."""
        name = str(dataset.get("name", "digits"))
        tensors = name.split(":", 1)[1] if name.startswith("tensors:") else ""
        self.w.state.update(
            source="zoo", model=model, checkpoint=a, target_checkpoint=b,
            method="target", dir_type="auto", split="both",
            dataset="tensors" if tensors else name, tensors_file=tensors,
            data_root=dataset.get("root") or "", xmin=-0.5, xmax=1.5,
            xnum=max(self.w.state["xnum"], 21),
        )
        self._bring_forward(self.w.view1d)
        self.w.compute()

    def about(self) -> None:
        device = self.w.job.device_text if self.w.job is not None else _device_text()
        try:
            from ..about import AboutDialog

            AboutDialog(self.w, device).exec()
        except ImportError:
            from lossviz_core import __version__

            QMessageBox.about(self.w, "About LossViz",
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
