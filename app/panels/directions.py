"""Direction method controls: random plane, PCA plane, 1-D random, 1-D interpolation."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

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
        self.dir_type = bind(combo({"auto": "auto (states for an interpolation)",
                                    "weights": "weights (keep BN stats)",
                                    "states": "states (whole state_dict)"}), state, "dir_type")
        self.dir_type.setToolTip(
            "weights: perturb parameters() and keep BatchNorm's running statistics; states: "
            "perturb the whole state_dict. auto: states for an interpolation, so α = 0 and "
            "α = 1 are exactly models A and B; weights otherwise")
        self.method.setToolTip("How d₁ (and d₂) are made: random filter-normalized directions "
                               "(the paper's plane), the PCA plane of a training run, a 1-D "
                               "line, the interpolation θ_A + α(θ_B − θ_A), or a direction file")
        self.norm.setToolTip("filter: each filter of d is scaled to the norm of the same filter "
                             "of θ (the paper's filter normalization); layer: per tensor; "
                             "weight: d ⊙ θ; dfilter/dlayer: unit norm; none: raw")
        self.ignore.setToolTip("ignore: biases and BatchNorm parameters are not perturbed "
                               "(the paper's default)")
        self.seed = bind(int_spin(0, 2**31 - 1), state, "seed")
        self.seed.setToolTip("The random directions' seed: the same seed gives the same plane")
        self.new_dirs = QPushButton("New random directions")
        self.new_dirs.setToolTip("Draw another random plane (the next seed) and compute it")
        self.new_dirs.clicked.connect(self._new_directions)
        self.target = bind(PathEdit("file", CHECKPOINT_FILTER, "checkpoint B (α = 1)"), state,
                           "target_checkpoint")
        self.target.setToolTip("The second solution: the line is θ_A + α(θ_B − θ_A), "
                               "α = 0 the model above, α = 1 this one")
        self.direction_file = bind(PathEdit("file", "Direction files (*.h5 *.hdf5);;All files (*)",
                                            "xdirection / ydirection (.h5)"), state,
                                   "direction_file")
        self.direction_file.setToolTip("d₁ (and d₂) from an HDF5 file in the reference "
                                       "implementation's layout (xdirection / ydirection)")
        form.addRow("Method", self.method)
        form.addRow("Normalization", self.norm)
        form.addRow("Bias / BN", self.ignore)
        form.addRow("Perturb", self.dir_type)
        self.note = QLabel("")  # why states or weights (the resolver's explain), when it matters
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555; font-size: 90%;")
        self.note.hide()
        form.addRow("", self.note)
        form.addRow("Seed", self.seed)
        form.addRow("", self.new_dirs)
        form.addRow("Checkpoint B", self.target)
        form.addRow("Direction file", self.direction_file)
        lay.addWidget(box)
        state.changed.connect(self._on_changed)
        self._on_changed("")

    def set_note(self, text: str) -> None:
        """Say why the recipe perturbs what it does (empty: nothing to say)."""
        self.note.setText(text[:1].upper() + text[1:] + "." if text else "")
        self.note.setVisible(bool(text))

    def _new_directions(self) -> None:
        self.state.set("seed", self.state["seed"] + 1)
        self.newDirectionsRequested.emit()

    def _on_changed(self, name: str) -> None:
        m = self.state["method"]
        # rows stay where they are (no jumping layout): what does not apply is greyed out
        random = m in ("random", "random1d", "hessian-random")
        for w in (self.seed, self.new_dirs):
            w.setEnabled(random)
        self.norm.setEnabled(m in ("random", "random1d", "hessian", "hessian-random",
                                   "hessian1d"))
        self.ignore.setEnabled(m != "target")
        self.target.setEnabled(m == "target")
        self.direction_file.setEnabled(m == "file")
