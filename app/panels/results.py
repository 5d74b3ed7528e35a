"""The results list: every kept landscape with a thumbnail, an editable name and its progress."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from ..library import Entry, ResultsLibrary
from ..messages import title_of

ID = Qt.ItemDataRole.UserRole


class ResultsPanel(QWidget):
    """Lists the library; double-click shows a result, F2 renames it, the menu does the rest.

    Signals carry entry ids: ``showRequested``, ``compareRequested``, ``deleteRequested``.
    """

    showRequested = Signal(str)
    compareRequested = Signal(str)
    deleteRequested = Signal(str)

    def __init__(self, library: ResultsLibrary) -> None:
        super().__init__()
        self.library = library
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        hint = QLabel("Every landscape you compute is kept here (double-click to show it, "
                      "F2 to rename, right-click for more).")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555;")
        self.list = QListWidget()
        self.list.setIconSize(QSize(72, 54))
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.SelectedClicked)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemDoubleClicked.connect(lambda item: self.showRequested.emit(item.data(ID)))
        self.list.itemChanged.connect(self._renamed)
        lay.addWidget(hint)
        lay.addWidget(self.list, 1)
        library.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the list from the library, newest first, keeping the selection."""
        selected = self.selected_id()
        self.list.blockSignals(True)
        self.list.clear()
        for entry in reversed(self.library.entries):
            item = QListWidgetItem(entry.name)
            item.setData(ID, entry.id)
            item.setToolTip(tooltip(entry))
            if not entry.complete:  # partial results look partial here too
                font = item.font()
                font.setItalic(True)
                item.setFont(font)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            if entry.thumbnail:
                item.setIcon(QIcon(QPixmap(entry.thumbnail)))
            self.list.addItem(item)
            if entry.id == selected:
                item.setSelected(True)
        self.list.blockSignals(False)

    def selected_id(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(ID) if items else None

    def _renamed(self, item: QListWidgetItem) -> None:
        self.library.rename(item.data(ID), item.text())

    def _menu(self, pos) -> None:  # noqa: ANN001 (QPoint)
        item = self.list.itemAt(pos)
        if item is None:
            return
        entry_id = item.data(ID)
        menu = QMenu(self)
        for text, signal in (("Show", self.showRequested), ("Add to compare", self.compareRequested)):
            action = QAction(text, menu)
            action.triggered.connect(lambda _=False, s=signal: s.emit(entry_id))
            menu.addAction(action)
        rename = QAction("Rename", menu)
        rename.triggered.connect(lambda: self.list.editItem(item))
        menu.addAction(rename)
        menu.addSeparator()
        delete = QAction("Delete", menu)
        delete.triggered.connect(lambda: self.deleteRequested.emit(entry_id))
        menu.addAction(delete)
        menu.exec(self.list.mapToGlobal(pos))


def tooltip(entry: Entry) -> str:
    """What distinguishes a result (model, data, directions, ranges), how far it got and
    when it was computed; the file only for one opened from elsewhere (where it lives)."""
    recipe = entry.recipe_obj()
    try:
        what = title_of(recipe) if recipe is not None else entry.name
    except Exception:  # noqa: BLE001 - an entry from an older LossViz: its name says it
        what = entry.name
    state = "complete" if entry.complete else f"partial: {entry.done}/{entry.total} points"
    lines = [what, f"{state} · computed {entry.created}"]
    if not entry.owned:
        lines.append(f"opened file: {entry.path}")
    return "\n".join(lines)
