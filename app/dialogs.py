"""Small dialogs: error messages and questions (the export dialogs: :mod:`.export_dialogs`).

Every error shown to the user goes through :func:`show_error`, every question about running
a user's code through :func:`ask_to_run_code` (tests replace them instead of blocking on a
modal box). :class:`Ask` puts the session's questions to the user with them.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QMessageBox,
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
