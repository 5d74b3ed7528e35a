"""Bind plain Qt widgets to a named value of a state model, both ways (glue-style)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from .. import schema
from ..state import ComputeState


class WheelGuard(QObject):
    """Spin boxes and combo boxes take the mouse wheel only when focused: scrolling a panel
    past them scrolls the panel (the event goes on to the parent) and edits nothing."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt naming)
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) \
                and not watched.hasFocus():
            event.ignore()  # ignored and filtered: Qt hands the wheel to the parent
            return True
        return False


_WHEEL_GUARD: WheelGuard | None = None


def guard_wheel(root: QWidget) -> None:
    """Install the one :class:`WheelGuard` on every spin box and combo box under ``root``
    (and focus them by click or Tab only, never by the wheel)."""
    global _WHEEL_GUARD
    if _WHEEL_GUARD is None:
        _WHEEL_GUARD = WheelGuard()
    for w in root.findChildren(QAbstractSpinBox) + root.findChildren(QComboBox):
        w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        w.removeEventFilter(_WHEEL_GUARD)  # installed once however often a root is guarded
        w.installEventFilter(_WHEEL_GUARD)


def combo(items: dict[str, str] | list[str]) -> QComboBox:
    """A combo box whose item data are the values (dict: value → label)."""
    box = QComboBox()
    pairs = items.items() if isinstance(items, dict) else ((v, v) for v in items)
    for value, label in pairs:
        box.addItem(label, value)
    return box


def _write(widget: QWidget, value: Any) -> None:
    """Show ``value`` in ``widget`` without emitting the widget's change signal."""
    blocker = QSignalBlocker(widget)
    if isinstance(widget, QComboBox):
        i = widget.findData(value)
        if i >= 0:
            widget.setCurrentIndex(i)
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        widget.setValue(value)
    elif isinstance(widget, PathEdit):
        widget.setText(str(value))
    elif isinstance(widget, QLineEdit):
        widget.setText(str(value))
    blocker.unblock()


def bind(widget: QWidget, state: ComputeState, name: str) -> QWidget:
    """Keep ``widget`` and ``state[name]`` equal; returns the widget."""
    _write(widget, state[name])
    if isinstance(widget, QComboBox):
        widget.currentIndexChanged.connect(lambda _i: state.set(name, widget.currentData()))
    elif isinstance(widget, QCheckBox):
        widget.toggled.connect(lambda on: state.set(name, on))
    elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        widget.valueChanged.connect(lambda v: state.set(name, v))
    elif isinstance(widget, PathEdit):
        widget.pathChanged.connect(lambda p: state.set(name, p))
    elif isinstance(widget, QLineEdit):
        widget.editingFinished.connect(lambda: state.set(name, widget.text()))
    state.changed.connect(lambda key: key == name and _write(widget, state[name]))
    return widget


def switch_combo(items: dict[str, str], state: ComputeState, name: str) -> QComboBox:
    """A combo box bound to ``state[name]`` (Source, Method) whose switch by the user resets
    the settings that no longer fit (:func:`lossviz.schema.switched`); a recipe or saved
    settings filling the panels reset nothing."""
    box = combo(items)
    before: dict[str, Any] = {}
    # connected before bind(): runs while the state still holds the value switched from
    box.currentIndexChanged.connect(lambda _i: before.__setitem__(name, state[name]))
    bind(box, state, name)

    def activated(_index: int) -> None:
        if name in before:
            state.update(**schema.switched(name, before.pop(name), state.snapshot()))

    box.activated.connect(activated)
    return box


class PathEdit(QWidget):
    """A line edit with a '…' button that opens a file or folder chooser."""

    pathChanged = Signal(str)

    def __init__(self, mode: str = "file", file_filter: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.mode = mode
        self.file_filter = file_filter
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.button = QToolButton()
        self.button.setText("…")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.button)
        self.edit.editingFinished.connect(lambda: self.pathChanged.emit(self.edit.text()))
        self.button.clicked.connect(self.browse)

    def text(self) -> str:
        return self.edit.text()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt naming)
        self.edit.setText(text)

    def browse(self) -> None:
        start = self.edit.text()
        if self.mode == "dir":
            path = QFileDialog.getExistingDirectory(self, "Choose a folder", start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a file", start, self.file_filter)
        if path:
            self.edit.setText(path)
            self.pathChanged.emit(path)


def double_spin(lo: float, hi: float, decimals: int = 3, step: float = 0.1) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setKeyboardTracking(False)  # one change per finished edit, not per keystroke
    return box


def int_spin(lo: int, hi: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setKeyboardTracking(False)
    return box


PYTHON_FILTER = "Python files (*.py);;All files (*)"


class LazyCombo(QComboBox):
    """An editable combo box that fills its full list the first time it is opened."""

    def __init__(self, first: list[str], full: Any = None) -> None:
        super().__init__()
        self.setEditable(True)
        self.addItems(first)
        self._full = full

    def showPopup(self) -> None:  # noqa: N802 (Qt naming)
        if self._full is not None:
            text, full, self._full = self.currentText(), self._safe_full(), None
            blocker = QSignalBlocker(self)
            self.clear()
            self.addItems(full)
            self.setCurrentText(text)
            del blocker
        super().showPopup()

    def _safe_full(self) -> list[str]:
        try:
            return [str(v) for v in self._full()]
        except Exception:  # noqa: BLE001 - a library too old to list them: the user types
            return [self.itemText(i) for i in range(self.count())]


def editable(items: list[str], state: ComputeState, name: str, full: Any = None) -> QComboBox:
    """An editable combo box bound to a free-text value (a list to pick from, or type)."""
    box = LazyCombo(list(items), full)
    box.setCurrentText(str(state[name]))
    box.currentTextChanged.connect(lambda text: state.set(name, text))
    state.changed.connect(lambda key: key == name and box.currentText() != state[name]
                          and box.setCurrentText(str(state[name])))
    return box


def top_level_callables(path: str) -> list[str]:
    """The functions and classes a Python file defines at its top level (and names bound to
    a lambda), in file order, public ones first: read with :mod:`ast`, never imported or
    run. Empty when the file cannot be read or parsed."""
    import ast

    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    names = list(dict.fromkeys(names))
    return [n for n in names if not n.startswith("_")] + [n for n in names if n.startswith("_")]


def function_combo(state: ComputeState, name: str, file_key: str) -> QComboBox:
    """An editable list of the callables ``state[file_key]`` defines, bound to
    ``state[name]``; a file chosen while the function is not one of its own picks its
    first."""
    box = editable([], state, name)

    def offer(key: str = file_key) -> None:
        if key != file_key:
            return
        found = top_level_callables(state[file_key]) if state[file_key] else []
        text = str(state[name])
        blocker = QSignalBlocker(box)
        box.clear()
        box.addItems(found)
        box.setCurrentText(text)
        del blocker
        if found and text not in found:
            state.set(name, found[0])

    offer()
    state.changed.connect(offer)
    return box


def param_widget(param: Any, state: ComputeState, name: str) -> QWidget:
    """The widget a registry entry's parameter gets in a panel, bound to ``state[name]``:
    a check box, a spin box, a list, a file or folder chooser or a text field, with the
    parameter's help as its tooltip."""
    kind = param.kind
    if kind == "bool":
        w: QWidget = bind(QCheckBox(param.label or param.name), state, name)
    elif kind == "int":
        w = bind(int_spin(int(param.minimum or 0), 2**31 - 1), state, name)
    elif kind == "float":
        w = bind(double_spin(float(param.minimum or 0.0), 1e9, 4, 0.1), state, name)
    elif param.choices:
        w = bind(combo([str(v) for v in param.allowed()]), state, name)
    elif param.suggestions is not None:
        first = [str(state[name])] if state[name] else []
        w = editable(first, state, name, param.suggestions)
    elif param.is_path:
        # a "path" (a transformers model or tokenizer) is a folder save_pretrained wrote
        mode = "dir" if kind in ("folder", "path") else "file"
        file_filter = PYTHON_FILTER if kind == "code" else "All files (*)"
        w = bind(PathEdit(mode, file_filter, param.metavar or ""), state, name)
    else:
        edit = QLineEdit()
        edit.setPlaceholderText(param.metavar or param.label or "")
        w = bind(edit, state, name)
    w.setToolTip(param.help or param.label)
    return w
