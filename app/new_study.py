"""*New study from these results*: pick results (the Compare grid's, the Results list's),
name the study, save it as a study file (``write_study``) and open it in the Study dock."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lossviz_core.errors import LossVizError

from . import dialogs, settings_store
from .worker import describe_exception

if TYPE_CHECKING:
    from .session import Session


def ask_new_study(parent: QWidget, session: Session, compare: Any,
                  open_study: Callable[[str], Any]) -> Path | None:
    """The whole interaction; the file written, or None."""
    from lossviz_core.studies import write_study

    choices = result_choices(compare, session)
    if not choices:
        dialogs.show_error(parent, "No results to make a study from yet: compute or open "
                           "some (they are listed under Results).")
        return None
    dlg = NewStudyDialog(parent, choices)
    if not dlg.exec():
        return None
    items, names = dlg.chosen()
    if not items:
        dialogs.show_error(parent, "Choose at least one result for the study.")
        return None
    folder = settings_store.last_path("study")
    name = dlg.name.text().strip() or "my-study"
    path, _ = QFileDialog.getSaveFileName(parent, "Save the study file",
                                          os.path.join(folder, f"{name}.toml"),
                                          "Study file (*.toml)")
    if not path:
        return None
    if not path.lower().endswith(".toml"):
        path += ".toml"
    try:
        written = write_study(path, items, name=name, names=names)
    except LossVizError as exc:
        dialogs.show_error(parent, str(exc))
        return None
    except OSError as exc:
        dialogs.show_error(parent, *describe_exception(exc))
        return None
    settings_store.set_last_path("study", os.path.dirname(os.path.abspath(path)))
    session.say(f"Wrote the study {written}")
    if dlg.open_after.isChecked():
        open_study(str(written))
    return written


class NewStudyDialog(QDialog):
    """*New study from these results*: pick results (the Results list, the Compare grid),
    name the study; the window then asks where to save it."""

    def __init__(self, parent: QWidget, choices: list[tuple[str, str, Any, bool]]) -> None:
        """``choices``: (label, name, recipe or result, checked) per result offered."""
        super().__init__(parent)
        self.setWindowTitle("New study from these results")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("The results to rebuild in the study (each keeps its recipe: "
                             "model, data, directions, ranges):"))
        self.list = QListWidget()
        for label, _name, _item, checked in choices:
            it = QListWidgetItem(label)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.list.addItem(it)
        self.choices = choices
        lay.addWidget(self.list, 1)
        form = QFormLayout()
        self.name = QLineEdit("my-study")
        form.addRow("Study name", self.name)
        self.open_after = QCheckBox("open it in the Study panel")
        self.open_after.setChecked(True)
        form.addRow("", self.open_after)
        lay.addLayout(form)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                               | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        lay.addWidget(box)
        self.resize(520, 380)

    def chosen(self) -> tuple[list[Any], list[str]]:
        """(recipes or results, names) of the checked rows."""
        items, names = [], []
        for i, (_label, name, item, _c) in enumerate(self.choices):
            if self.list.item(i).checkState() == Qt.CheckState.Checked:
                items.append(item)
                names.append(name)
        return items, unique_names(names)


def unique_names(names: list[str]) -> list[str]:
    """Names usable as study result names (letters, digits, - and _), made unique."""
    out: list[str] = []
    for raw in names:
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-") or "result"
        label, n = base, 2
        while label in out:
            label, n = f"{base}-{n}", n + 1
        out.append(label)
    return out


def result_choices(compare: Any, session: Session) -> list[tuple[str, str, Any, bool]]:
    """What *New study from these results* offers: the Compare grid's results (checked),
    then the Results list's entries with a recipe (the shown one checked if none is)."""
    out: list[tuple[str, str, Any, bool]] = []
    seen: set[str] = set()
    for r, title in zip(compare.results, compare.titles, strict=True):
        if r is not None and r.recipe is not None:
            key = str(r.path or id(r))
            seen.add(key)
            out.append((f"{title or 'result'}  (in Compare)", title or "result", r, True))
    for e in session.library.entries:
        recipe = e.recipe_obj()
        if recipe is None or str(e.path) in seen:
            continue
        state = "" if e.complete else f"  ({e.done}/{e.total} points)"
        out.append((f"{e.name}{state}", e.name, recipe, not out and e is session.entry))
    return out
