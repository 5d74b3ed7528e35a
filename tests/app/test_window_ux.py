"""The window's friction items (issue 19): the wheel over the panels, fields that follow
Source and Method, the Function list of a Python file, the training presets' folders,
Compare's 1-D results and a zoom that lands on the grid."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication


def _wheel(widget, steps: int = 1) -> None:
    """One wheel notch (up) over the middle of ``widget``, as the mouse sends it."""
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    glob = QPointF(widget.mapToGlobal(pos.toPoint()))
    event = QWheelEvent(pos, glob, QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_over_an_unfocused_field_changes_nothing(qtbot, make_window):
    w = make_window(autostart=False)
    w.activateWindow()
    spin = w.ranges_panel.spins["xmax"]
    norm = w.directions_panel.norm
    assert spin.value() == 1.0 and norm.currentText() == "filter"
    w.compute_panel.compute.setFocus()
    qtbot.waitUntil(w.compute_panel.compute.hasFocus)
    _wheel(spin)
    _wheel(norm)
    assert spin.value() == 1.0 and w.state["xmax"] == 1.0
    assert norm.currentText() == "filter" and w.state["norm"] == "filter"
    # focused (clicked or tabbed into), the wheel steps the value as before
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    _wheel(spin)
    assert spin.value() == 1.1 and w.state["xmax"] == 1.1
    norm.setFocus()
    qtbot.waitUntil(norm.hasFocus)
    _wheel(norm, -1)
    assert norm.currentIndex() == 1 and w.state["norm"] == norm.itemData(1)


def test_dialogs_guard_their_fields_too(qtbot, settings_dir):
    from lossviz.export_dialogs import ExportDialog
    from lossviz.training_dialog import TrainingDialog

    dlg = TrainingDialog()
    qtbot.addWidget(dlg)
    dlg.show()
    assert not dlg.epochs.hasFocus() and not dlg.model.hasFocus()
    _wheel(dlg.epochs)
    _wheel(dlg.model)
    assert dlg.epochs.value() == 10 and dlg.model.currentText() == "digits_cnn"
    export = ExportDialog(None, ["3-D", "2-D"], "2-D", (800, 600))
    qtbot.addWidget(export)
    export.show()
    width = export.width_px.value()
    _wheel(export.width_px)
    assert export.width_px.value() == width
