"""The model's modules as a tree to tick, for ``--only`` / ``--exclude``.

The tree is the loaded model's :func:`~lossviz_core.directions.select.parameter_tree`
(modules down to single tensors, with their parameter counts). Ticking a module writes its
name as a glob into ``only`` (*move only the ticked*) or ``exclude`` (*leave the ticked at
θ*): the topmost fully ticked modules, comma-separated, which is what the recipe records and
the titles show. A glob typed into the Only / Exclude rows ticks the modules it names.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lossviz_core.directions.select import ParamNode, globs, matches

from ..state import ComputeState
from .binding import combo

MODES = {"only": "move only the ticked", "exclude": "leave the ticked at θ"}
PATH = Qt.ItemDataRole.UserRole


class ModuleTree(QWidget):
    """The tree, the Only/Exclude choice and a button to list the model's modules
    (``listRequested``: the window loads the model and calls :meth:`set_tree`); a computed
    model's modules are listed as soon as it is loaded (:meth:`offer_job`)."""

    listRequested = Signal()

    def __init__(self, state: ComputeState) -> None:
        super().__init__()
        self.state = state
        self.root: ParamNode | None = None
        self.model: Any = None  # the model spec the tree is of
        self._wanted: Any = None  # the model spec the panels last described
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.list_button = QPushButton("List the model's modules")
        self.list_button.setToolTip("Load the model the Source panel names and show its "
                                    "modules, to tick the ones the directions move")
        self.list_button.clicked.connect(self.listRequested)
        self.mode = combo(MODES)
        self.mode.setToolTip("Ticked modules: the only ones the directions move (--only), or "
                             "the ones they leave exactly at θ (--exclude)")
        self.mode.setCurrentIndex(1 if state["exclude"] and not state["only"] else 0)
        self.mode.currentIndexChanged.connect(lambda _i: self._write())
        row.addWidget(self.list_button)
        row.addWidget(self.mode, 1)
        lay.addLayout(row)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Module", "Parameters"])
        self.tree.setMinimumHeight(160)
        self.tree.itemChanged.connect(lambda _item, col: col == 0 and self._write())
        self.tree.hide()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #555; font-size: 90%;")
        lay.addWidget(self.tree)
        lay.addWidget(self.status)
        self._writing = False
        state.changed.connect(self._state_changed)

    @property
    def key(self) -> str:
        """The setting the ticks go to: ``only`` or ``exclude``."""
        return self.mode.currentData()

    def set_busy(self, text: str) -> None:
        self.status.setText(text)
        self.list_button.setEnabled(not text)

    def set_tree(self, root: ParamNode, model_name: str = "", model: Any = None) -> None:
        """Show ``root``'s modules, ticked as the current globs say; ``model``: the recipe's
        model spec they are of (when the panels name another, the tree goes)."""
        self.root, self.model = root, model
        blocker = QSignalBlocker(self.tree)
        self.tree.clear()

        def add(parent: Any, node: ParamNode) -> None:
            item = QTreeWidgetItem(parent, [node.name, f"{node.numel:,}"])
            item.setData(0, PATH, node.path)
            flags = item.flags() | Qt.ItemFlag.ItemIsUserCheckable
            if node.children:
                flags |= Qt.ItemFlag.ItemIsAutoTristate
            item.setFlags(flags)
            item.setCheckState(0, Qt.CheckState.Unchecked)
            if node.shape is not None:
                item.setToolTip(0, f"{node.path}: {tuple(node.shape)}")
            for child in node.children:
                add(item, child)

        for node in root.children:
            add(self.tree, node)
        self.tree.expandToDepth(0)  # the top-level modules' parts in sight
        self.tree.setColumnWidth(0, 200)
        del blocker
        self._tick_from_state()
        self.tree.show()
        self.set_busy("")
        self.status.setText(f"{model_name}: {root.numel:,} parameters" if model_name else "")

    def offer_job(self, job: Any) -> None:
        """A prepared job's model: listed at once (it is loaded already) unless these are its
        modules."""
        model = job.recipe.model
        if self.root is not None and self.model == model:
            return
        if self._wanted is not None and model != self._wanted:
            return  # the panels were switched to another model while this one loaded
        from lossviz_core.directions.select import parameter_tree

        try:
            root = parameter_tree(job.model, job.recipe.directions.dir_type or "weights")
        except Exception:  # noqa: BLE001 - the tree is a convenience: the button still lists
            return
        self.set_tree(root, model.name, model)

    def panels_changed(self, recipe: Any) -> None:
        """The panels now describe ``recipe`` (None: not a recipe yet): a tree of another
        model goes (the ticks live on in Only / Exclude and come back with the new tree)."""
        if recipe is not None:
            self._wanted = recipe.model
        if self.root is None or recipe is None or self.model is None:
            return
        if recipe.model != self.model:
            self.root = self.model = None
            blocker = QSignalBlocker(self.tree)
            self.tree.clear()
            del blocker
            self.tree.hide()
            self.status.setText("The Source panel names another model: list its modules.")

    def items(self) -> list[QTreeWidgetItem]:
        out: list[QTreeWidgetItem] = []

        def walk(item: QTreeWidgetItem) -> None:
            out.append(item)
            for i in range(item.childCount()):
                walk(item.child(i))

        for i in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(i))
        return out

    def item(self, path: str) -> QTreeWidgetItem | None:
        return next((it for it in self.items() if it.data(0, PATH) == path), None)

    def ticked_globs(self) -> list[str]:
        """The topmost fully ticked modules (a partly ticked one: its ticked parts)."""
        out: list[str] = []

        def walk(item: QTreeWidgetItem) -> None:
            state = item.checkState(0)
            if state == Qt.CheckState.Checked:
                out.append(item.data(0, PATH))
            elif state == Qt.CheckState.PartiallyChecked:
                for i in range(item.childCount()):
                    walk(item.child(i))

        for i in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(i))
        return out

    def _write(self) -> None:
        if self.root is None:
            return
        self._writing = True
        try:
            other = "exclude" if self.key == "only" else "only"
            self.state.set(self.key, ",".join(self.ticked_globs()))
            self.state.set(other, "")
        finally:
            self._writing = False

    def _state_changed(self, name: str) -> None:
        if name in ("only", "exclude") and not self._writing:
            if self.state[name] and name != self.key:
                blocker = QSignalBlocker(self.mode)
                self.mode.setCurrentIndex(list(MODES).index(name))
                del blocker
            self._tick_from_state()

    def _tick_from_state(self) -> None:
        """Tick the tensors the current globs name (their modules follow)."""
        patterns = globs(self.state[self.key])
        blocker = QSignalBlocker(self.tree)
        for item in self.items():
            if item.childCount() == 0:
                ticked = any(matches(item.data(0, PATH), p) for p in patterns)
                item.setCheckState(0, Qt.CheckState.Checked if ticked
                                   else Qt.CheckState.Unchecked)
        del blocker
        self.tree.viewport().update()


def model_tree(recipe: Any) -> tuple[ParamNode, str, Any]:
    """The parameter tree of ``recipe``'s model (in a worker: it loads the model)."""
    from lossviz_core.directions.select import parameter_tree
    from lossviz_core.errors import InputError
    from lossviz_core.sources import load_model

    try:
        loaded = load_model(recipe.model, None, require_weights=False)
    except InputError:  # a class count only the data knows
        from lossviz_core.data import load_dataset
        from lossviz_core.run.workspace import fitted_to_model

        data = load_dataset(fitted_to_model(recipe), "cpu")
        loaded = load_model(recipe.model, data.num_classes, require_weights=False)
    return (parameter_tree(loaded.model, recipe.directions.dir_type or "weights"),
            recipe.model.name, recipe.model)


def list_modules(session: Any, panel: ModuleTree) -> None:
    """Fill ``panel`` with the model the panels describe (the prepared job's when it is
    that model: nothing reloads). ``session``: the window's :class:`~lossviz.session.Session`."""
    started = []

    def loaded(recipe: Any) -> None:
        started.append(recipe)
        job = session.job
        if job is not None and job.recipe.model == recipe.model:
            from lossviz_core.directions.select import parameter_tree

            panel.set_tree(parameter_tree(job.model, recipe.directions.dir_type or "weights"),
                           recipe.model.name, recipe.model)
            return
        session.tasks.call(lambda: model_tree(recipe), lambda tree: panel.set_tree(*tree),
                           on_error=lambda _m: panel.set_busy(""), parent=panel)

    panel.set_busy("Loading the model …")
    # the code not trusted (or the recipe refused): the button comes back
    session.resolve_then(loaded, on_finish=lambda: started or panel.set_busy(""), parent=panel)
