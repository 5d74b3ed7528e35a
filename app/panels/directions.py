"""Direction method controls: random plane, PCA plane, 1-D random, 1-D interpolation."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QPushButton, QVBoxLayout, QWidget

from lossviz_core.recipe.spec import NORMS

from ..state import METHOD_LABELS, ComputeState
from .binding import PathEdit, bind, combo, int_spin
from .source import CHECKPOINT_FILTER


class DirectionsPanel(QWidget):
    """How d₁ (and d₂) are made. ``newDirectionsRequested``: a new seed was drawn."""

    newDirectionsRequested = Signal()

    def __init__(self, state: ComputeState) -> None:
        super().__init__()
        self.state = state
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Directions")
        self.form = form = QFormLayout(box)
        self.method = bind(combo(METHOD_LABELS), state, "method")
        self.norm = bind(combo(list(NORMS)), state, "norm")
        self.ignore = bind(combo({"biasbn": "ignore bias/BN", "none": "include bias/BN"}), state,
                           "ignore")
        self.dir_type = bind(combo({"weights": "weights (keep BN stats)",
                                    "states": "states (whole state_dict)"}), state, "dir_type")
        self.seed = bind(int_spin(0, 2**31 - 1), state, "seed")
        self.new_dirs = QPushButton("New random directions")
        self.new_dirs.clicked.connect(self._new_directions)
        self.target = bind(PathEdit("file", CHECKPOINT_FILTER, "checkpoint B (α = 1)"), state,
                           "target_checkpoint")
        form.addRow("Method", self.method)
        form.addRow("Normalization", self.norm)
        form.addRow("Bias / BN", self.ignore)
        form.addRow("Perturb", self.dir_type)
        form.addRow("Seed", self.seed)
        form.addRow("", self.new_dirs)
        form.addRow("Checkpoint B", self.target)
        lay.addWidget(box)
        state.changed.connect(self._on_changed)
        self._on_changed("")

    def _new_directions(self) -> None:
        self.state.set("seed", self.state["seed"] + 1)
        self.newDirectionsRequested.emit()

    def _on_changed(self, name: str) -> None:
        m = self.state["method"]
        if name == "method" and m == "target":
            self.state.set("dir_type", "states")  # interpolating two models moves BN statistics too
        random = m in ("random", "random1d")
        for w in (self.norm, self.seed, self.new_dirs):
            self.form.setRowVisible(w, random)
        self.form.setRowVisible(self.ignore, m != "target")
        self.form.setRowVisible(self.target, m == "target")
