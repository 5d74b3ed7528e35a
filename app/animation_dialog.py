"""*File ▸ Export animation…*: a GIF or MP4 of the shown result's trajectory moving over its
landscape, or of the Compare results in turn on one colour scale.

The options are :class:`lossviz_core.animate.AnimationOptions` (2-D or 3-D, the camera's
turn and elevation, size, frame rate, duration); the frames are drawn and encoded by the
engine in the window's task runner (a progress dialog with Cancel, errors as one message),
exactly as ``lossviz animate`` does.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QProgressDialog,
    QSpinBox,
    QWidget,
)

from lossviz_core.animate import KINDS, MODES, AnimationOptions

from . import dialogs, settings_store
from .tasks import Task, TaskRunner
from .worker import describe_exception

SOURCES = {"shown": "The shown result (its trajectory moving)",
           "compare": "The Compare results, in turn (one colour scale)"}


class AnimationDialog(QDialog):
    """The animation's options; :meth:`options` reads them (a one-line error if wrong)."""

    def __init__(self, parent: QWidget | None = None, compare_count: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        form = QFormLayout(self)
        self.source = QComboBox()
        for key, text in SOURCES.items():
            if key == "compare" and compare_count < 2:
                continue
            self.source.addItem(text, key)
        self.mode = QComboBox()
        for m in MODES:
            self.mode.addItem(m, m)
        self.kind = QComboBox()
        for k in KINDS:
            self.kind.addItem({"surface": "3-D surface"}.get(k, f"2-D {k}"), k)
        self.width = _spin(16, 8192, 800)
        self.height = _spin(16, 8192, 600)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(0.5, 60.0)
        self.fps.setValue(10.0)
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.1, 600.0)
        self.duration.setValue(4.0)
        self.duration.setSuffix(" s")
        self.rotate = QDoubleSpinBox()
        self.rotate.setRange(-720.0, 720.0)
        self.rotate.setSuffix(" °")
        self.rotate.setToolTip("3-D: how far the camera turns about the vertical over the "
                               "animation (0: it stands still)")
        self.elevation = QDoubleSpinBox()
        self.elevation.setRange(-90.0, 90.0)
        self.elevation.setValue(30.0)
        self.elevation.setSuffix(" °")
        self.elevation.setToolTip("3-D: the camera's height above the plane")
        for label, w in (("Animate", self.source), ("Mode", self.mode), ("View", self.kind),
                         ("Width (px)", self.width), ("Height (px)", self.height),
                         ("Frames per second", self.fps), ("Duration", self.duration),
                         ("Camera turn", self.rotate), ("Camera elevation", self.elevation)):
            form.addRow(label, w)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def _kind_changed(self, *_args: object) -> None:
        three_d = self.kind.currentData() == "surface"
        self.rotate.setEnabled(three_d)
        self.elevation.setEnabled(three_d)

    def options(self) -> AnimationOptions:
        mode = self.mode.currentData()
        if mode == "auto":
            mode = "trajectory" if self.source.currentData() == "shown" else "sequence"
        return AnimationOptions(
            mode=mode, kind=self.kind.currentData(), width=self.width.value(),
            height=self.height.value(), fps=self.fps.value(), duration=self.duration.value(),
            rotate=self.rotate.value() if self.kind.currentData() == "surface" else 0.0,
            elevation=self.elevation.value())


def _spin(lo: int, hi: int, value: int) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    return s


def ask_animation(actions: Any) -> Task | None:
    """The menu action: options, a file name, then the animation in the background; returns
    the task (None when nothing was started)."""
    parent, session = actions.parent, actions.session
    compare = list(actions.v.compare.present)
    if session.result is None and len(compare) < 2:
        dialogs.show_error(parent, "Nothing to animate yet: compute or open a landscape first "
                           "(or put two results in Compare).")
        return None
    dlg = AnimationDialog(parent, len(compare))
    if not dlg.exec():
        return None
    try:
        options = dlg.options()
    except Exception as exc:  # noqa: BLE001 - a bad combination of options: one message
        dialogs.show_error(parent, *describe_exception(exc))
        return None
    path, _ = QFileDialog.getSaveFileName(parent, "Export animation",
                                          settings_store.last_path("export"),
                                          "GIF (*.gif);;MP4 video (*.mp4)")
    if not path:
        return None
    if not os.path.splitext(path)[1]:
        path += ".gif"
    settings_store.set_last_path("export", os.path.dirname(os.path.abspath(path)))
    results = [session.result] if dlg.source.currentData() == "shown" else compare
    return start_animation(actions.runner, session, results, path, options, parent)


def start_animation(runner: TaskRunner, session: Any, results: list[Any], path: str,
                    options: AnimationOptions, parent: QWidget | None = None) -> Task:
    """Write the animation in the task runner: a progress dialog whose Cancel stops it (no
    file is left), the status line per frame, errors as one message."""
    from lossviz_core.animate import iter_animation

    progress = QProgressDialog(f"Drawing the animation {os.path.basename(path)} …", "Cancel",
                               0, 1000, parent)
    progress.setWindowTitle("Export animation")
    progress.setMinimumDuration(0)
    progress.setAutoClose(False)
    progress.setAutoReset(False)
    session.say(f"Drawing the animation {os.path.basename(path)} …")

    def item(step: Any) -> None:
        progress.setValue(round(1000 * step.fraction))
        progress.setLabelText(step.text)
        session.say(step.text)

    def finished() -> None:
        if task.cancelled:
            session.say(f"Cancelled the animation {os.path.basename(path)}; no file written.")
        progress.close()

    task = runner.start(lambda: iter_animation(results, path, options), on_item=item,
                        on_done=lambda p: session.say(f"Wrote {p}"), on_finish=finished,
                        parent=parent)
    progress.canceled.connect(task.cancel)
    task.progress = progress  # the dialog lives as long as its task
    progress.show()
    return task
