"""Direction method controls: the registered methods (planes and 1-D lines), the shared
normalization / ignore / seed rows where the method uses them, and one row per parameter
the chosen method declares (generated from the registry); for the methods that take
``--only`` / ``--exclude``, the model's modules as a tree to tick (:mod:`.modules`)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from lossviz_core.recipe.spec import NORMS
from lossviz_core.registry import DIRECTION_METHODS
from lossviz_core.resolve import choice_key

from .. import schema
from ..state import ComputeState
from .binding import bind, combo, int_spin, param_widget, switch_combo
from .modules import ModuleTree


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
        methods = schema.window_methods()
        self.method = switch_combo({v: label for v, (_m, _line, label) in methods.items()},
                                   state, "method")
        self.norm = bind(combo(list(NORMS)), state, "norm")
        self.ignore = bind(combo({"biasbn": "ignore bias/norm", "none": "include bias/norm"}),
                           state, "ignore")
        self.dir_type = bind(combo({"auto": "auto (states for an interpolation)",
                                    "weights": "weights (keep BN stats)",
                                    "states": "states (whole state_dict)"}), state, "dir_type")
        self.dir_type.setToolTip(
            "weights: perturb parameters() and keep BatchNorm's running statistics; states: "
            "perturb the whole state_dict. auto: states for an interpolation, so α = 0 and "
            "α = 1 are exactly models A and B; weights otherwise")
        self.method.setToolTip("How d₁ (and d₂) are made: "
                               + "; ".join(f"{m.label}" + (f" ({m.help})" if m.help else "")
                                           for m in DIRECTION_METHODS.all()))
        self.norm.setToolTip("filter: each filter of d is scaled to the norm of the same filter "
                             "of θ (the paper's filter normalization); layer: per tensor; "
                             "weight: d ⊙ θ; dfilter/dlayer: unit norm; none: raw")
        self.ignore.setToolTip("ignore: biases and norm layers (BatchNorm, LayerNorm, RMSNorm) "
                               "are not perturbed (the paper's default, --xignore biasbn)")
        self.seed = bind(int_spin(0, 2**31 - 1), state, "seed")
        self.seed.setToolTip("The random directions' seed: the same seed gives the same plane")
        self.seeds = bind(int_spin(1, 100), state, "seeds")
        self.seeds.setToolTip("How many direction seeds (from Seed on): more than one computes "
                              "the same landscape for each and shows their mean with the "
                              "spread (± one standard deviation)")
        self.new_dirs = QPushButton("New random directions")
        self.new_dirs.setToolTip("Draw another random plane (the next seed) and compute it")
        self.new_dirs.clicked.connect(self._new_directions)
        form.addRow("Method", self.method)
        form.addRow("Normalization", self.norm)
        form.addRow("Bias / norm", self.ignore)
        form.addRow("Perturb", self.dir_type)
        self.note = QLabel("")  # why states or weights (the resolver's explain), when it matters
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555; font-size: 90%;")
        self.note.hide()
        form.addRow("", self.note)
        form.addRow("Seed", self.seed)
        form.addRow("Seeds", self.seeds)
        form.addRow("", self.new_dirs)
        self.param_rows: dict[QWidget, set[str]] = {}  # a method's own rows: its only
        for m in DIRECTION_METHODS.all():
            for p in m.params:
                if p.name == m.run_param:
                    continue  # the run folder is the Source panel's
                name = choice_key(p)
                w = getattr(self, f"param_{name}", None)
                if w is None:
                    w = param_widget(p, state, name)
                    setattr(self, f"param_{name}", w)
                    form.addRow(p.label or p.name, w)
                self.param_rows.setdefault(w, set()).add(m.name)
        self.modules = ModuleTree(state)
        form.addRow(self.modules)
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
        method = DIRECTION_METHODS.get(schema.window_method(self.state["method"])[0])
        # the shared rows stay where they are (no jumping layout): greyed out where unused
        for w in (self.seed, self.seeds, self.new_dirs):
            w.setEnabled("seed" in method.uses)
        self.norm.setEnabled("norm" in method.uses)
        self.ignore.setEnabled("ignore" in method.uses)
        for w, owners in self.param_rows.items():
            self.form.setRowVisible(w, method.name in owners)
        self.form.setRowVisible(self.modules, any(p.name == "only" for p in method.params))
