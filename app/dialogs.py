"""Small dialogs: error messages, questions and the export options.

Every error shown to the user goes through :func:`show_error`, every question about running
a user's code through :func:`ask_to_run_code` (tests replace them instead of blocking on a
modal box). :class:`Ask` puts the session's questions to the user with them.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QWidget,
)

from . import settings_store
from .messages import clock


def show_error(parent: QWidget | None, message: str, details: str = "") -> None:
    """A warning box with the one-line message; a traceback goes under 'Show Details'."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("LossViz")
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.exec()


def ask_to_run_code(parent: QWidget | None, path: str) -> bool:
    """Ask before LossViz runs code from a user's file (once per file: the answer is kept)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Run code from a file?")
    box.setText(f"LossViz will run the Python code in\n\n{path}\n\nto build the model or read "
                "the data. Run only code you trust.")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.button(QMessageBox.StandardButton.Yes).setText("Run it")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes


def ask_to_delete(parent: QWidget | None, name: str, path: str, owned: bool) -> bool:
    """Ask before a result leaves the library (its file too, when the library made it)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning if owned else QMessageBox.Icon.Question)
    box.setWindowTitle("Delete this result?")
    if owned:
        box.setText(f"Delete “{name}”?\n\nIts file is removed from the library:\n{path}\n\n"
                    "This cannot be undone.")
    else:
        box.setText(f"Remove “{name}” from the Results list?\n\nThe file stays where it "
                    f"is:\n{path}")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.button(QMessageBox.StandardButton.Yes).setText("Delete" if owned else "Remove")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes


def ask_long_compute(parent: QWidget | None, points: int, seconds: float,
                     smaller: tuple[int, ...]) -> str:
    """A grid estimated to take long: ``compute``, ``reduce`` (to ``smaller`` point counts) or
    ``cancel``."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("A long computation")
    size = " × ".join(map(str, smaller))
    box.setText(f"These {points:,} points take about {clock(seconds)} here (measured on "
                "this model and data). Compute them all, or a smaller grid over the same "
                f"ranges ({size} points, about {clock(180)})?")
    go = box.addButton("Compute all", QMessageBox.ButtonRole.AcceptRole)
    less = box.addButton(f"Compute {size}", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(less)
    box.exec()
    clicked = box.clickedButton()
    return "compute" if clicked is go else "reduce" if clicked is less else "cancel"


class Ask:
    """The session's questions and messages, as boxes over ``parent`` (the functions above,
    looked up when asked, so tests can answer them)."""

    def __init__(self, parent: QWidget | None) -> None:
        self.parent = parent

    def may_run(self, paths: Iterable[str]) -> bool:
        """Ask once per file before running code from a user's file (the answer is kept)."""
        for path in paths:
            if not settings_store.is_trusted(path):
                if not ask_to_run_code(self.parent, path):
                    return False
                settings_store.trust(path)
        return True

    def long_compute(self, points: int, seconds: float, smaller: tuple[int, ...]) -> str:
        return ask_long_compute(self.parent, points, seconds, smaller)

    def delete(self, name: str, path: str, owned: bool) -> bool:
        return ask_to_delete(self.parent, name, path, owned)

    def error(self, message: str, details: str = "") -> None:
        show_error(self.parent, message, details)


class ExportDialog(QDialog):
    """Which view to export, at what pixel size, with or without a transparent background."""

    def __init__(self, parent: QWidget | None, views: list[str], current: str,
                 size: tuple[int, int]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export image")
        form = QFormLayout(self)
        self.view = QComboBox()
        self.view.addItems(views)
        if current in views:
            self.view.setCurrentText(current)
        self.width_px = QSpinBox()
        self.width_px.setRange(16, 16384)
        self.width_px.setValue(size[0])
        self.height_px = QSpinBox()
        self.height_px.setRange(16, 16384)
        self.height_px.setValue(size[1])
        self.transparent = QCheckBox("Transparent background (PNG)")
        form.addRow("View", self.view)
        form.addRow("Width (px)", self.width_px)
        form.addRow("Height (px)", self.height_px)
        form.addRow(self.transparent)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class FigureDialog(QDialog):
    """Options of a figure drawn by matplotlib from the data (what papers need): kind,
    quantity, size and DPI, isolines, value range, colour map, log scale, title."""

    KINDS = ("auto", "contour", "filled", "heatmap", "surface", "line")
    COLORMAPS = ("auto", "viridis", "plasma", "inferno", "magma", "cividis", "coolwarm",
                 "RdBu_r", "terrain", "gray")

    def __init__(self, parent: QWidget | None, quantities: tuple[str, ...] = (),
                 is_line: bool = False) -> None:
        super().__init__(parent)
        from lossviz_core.results.quantities import quantity

        self.setWindowTitle("Figure")
        form = QFormLayout(self)
        self.kind = QComboBox()
        self.kind.addItems(["line"] if is_line else [k for k in self.KINDS if k != "line"])
        self.quantity = QComboBox()
        self.quantity.addItem("main loss", None)
        for q in quantities:
            self.quantity.addItem(quantity(q).label, q)
        self.width_in = QDoubleSpinBox()
        self.width_in.setRange(1.0, 40.0)
        self.width_in.setValue(6.0)
        self.height_in = QDoubleSpinBox()
        self.height_in.setRange(1.0, 40.0)
        self.height_in.setValue(4.5)
        self.dpi = QSpinBox()
        self.dpi.setRange(50, 1200)
        self.dpi.setValue(300)
        self.levels = QSpinBox()
        self.levels.setRange(2, 200)
        self.levels.setValue(30)
        self.vmin, self.vmax, self.title = QLineEdit(), QLineEdit(), QLineEdit()
        self.vmin.setPlaceholderText("auto")
        self.vmax.setPlaceholderText("auto (the paper clips the loss, e.g. 10)")
        self.title.setPlaceholderText("what distinguishes it (model, directions, ranges)")
        self.colormap = QComboBox()
        self.colormap.addItems(self.COLORMAPS)
        self.colormap.setEditable(True)
        self.log = QCheckBox("log scale")
        self.trajectory = QCheckBox("the training trajectory (PCA plane)")
        self.trajectory.setChecked(True)
        for label, w in (("Kind", self.kind), ("Quantity", self.quantity),
                         ("Width (in)", self.width_in), ("Height (in)", self.height_in),
                         ("DPI (PNG)", self.dpi), ("Isolines", self.levels),
                         ("Minimum", self.vmin), ("Maximum", self.vmax),
                         ("Colour map", self.colormap), ("", self.log), ("", self.trajectory),
                         ("Title", self.title)):
            form.addRow(label, w)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self):  # noqa: ANN201 (lossviz_core.export.FigureOptions)
        """The FigureOptions the dialog holds (a bad number is a one-line InputError)."""
        from lossviz_core.errors import InputError
        from lossviz_core.export import FigureOptions

        def number(edit: QLineEdit, what: str) -> float | None:
            text = edit.text().strip()
            if not text:
                return None
            try:
                return float(text)
            except ValueError:
                raise InputError(f"the {what} must be a number, got {text!r}") from None

        cmap = self.colormap.currentText().strip()
        return FigureOptions(kind=self.kind.currentText(), quantity=self.quantity.currentData(),
                             width=self.width_in.value(), height=self.height_in.value(),
                             dpi=float(self.dpi.value()), levels=self.levels.value(),
                             vmin=number(self.vmin, "minimum"), vmax=number(self.vmax, "maximum"),
                             colormap=None if cmap in ("", "auto") else cmap,
                             log=self.log.isChecked(), trajectory=self.trajectory.isChecked(),
                             title=self.title.text().strip() or None)


GUIDE = """<h3>LossViz in five minutes</h3>
<p>A loss landscape is f(α, β) = L(θ + α·d₁ + β·d₂): the loss of the trained weights θ moved
along two directions d₁, d₂ (Li et al., <i>Visualizing the Loss Landscape of Neural Nets</i>,
NeurIPS 2018). The window opens on a small bundled digits network.</p>
<ol>
<li><b>Model</b> (Source): the demo, a zoo model, a torchvision or timm model, your own
Python function, a TorchScript / torch.export archive, or a training run folder, with its
checkpoint θ. <b>Dataset</b>: what L is measured on, and which split.</li>
<li><b>Directions</b>: a <i>random plane</i> with <i>filter normalization</i> (the paper's way
to compare networks fairly), the <i>PCA plane</i> through a training trajectory, the
<i>Hessian</i>'s top eigenvectors, or a 1-D line (the interpolation A → B compares a sharp
and a flat minimum).</li>
<li><b>Ranges</b>: α and β and how many points; <b>Compute</b>. A coarse preview appears at
once and sharpens; every result is kept in <b>Results</b> (and on disk), so Zoom back, a
Cancel and a crash lose nothing.</li>
<li>Drag a rectangle on the 2-D map to zoom in; double-click a point to analyse its
curvature in the <b>Curvature</b> tab.</li>
<li><b>Compare</b> puts results side by side on one colour scale (Results: right-click ▸ Add
to compare); <b>File ▸ Export</b> writes PNG/SVG/PDF figures and meshes for papers.</li>
</ol>
<p>The same from the command line: <code>lossviz surface --help</code>.</p>"""

SHORTCUTS = [("Ctrl+R", "Compute"), ("Esc", "Cancel"), ("Ctrl+Z", "Zoom back"),
             ("Ctrl+O", "Open a result"), ("Ctrl+S", "Save the result"),
             ("Ctrl+E", "Export an image"), ("Ctrl+Shift+C", "Copy the image"),
             ("Ctrl+Home, or Home / double-click in the 3-D view", "Reset the camera"),
             ("drag a rectangle (2-D)", "Zoom in and compute there"),
             ("double-click (2-D)", "Curvature at that point"), ("F1", "This guide"),
             ("F2 (Results)", "Rename a result"), ("Ctrl+Q", "Quit")]


def show_guide(parent: QWidget | None) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("LossViz guide")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(GUIDE)
    box.exec()


def show_shortcuts(parent: QWidget | None) -> None:
    rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
    box = QMessageBox(parent)
    box.setWindowTitle("Keyboard shortcuts")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(f"<table>{rows}</table>")
    box.exec()
