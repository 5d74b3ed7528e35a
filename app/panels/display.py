"""View controls (colour map, log scale, clip, z-scale, wireframe, isolines, quantity),
bound to the views' :class:`DisplaySettings` model."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QVBoxLayout, QWidget

from .binding import combo, double_spin, int_spin

COLORMAPS = ("auto", "viridis", "plasma", "inferno", "magma", "cividis", "turbo", "CET-L4", "coolwarm",
             "terrain", "gray")
AUTO = {"auto": "auto (main loss)"}


class DisplayPanel(QWidget):
    """Edits a DisplaySettings; follows it when it changes elsewhere (e.g. restored settings)."""

    def __init__(self, settings) -> None:  # noqa: ANN001 (lossviz.views.DisplaySettings)
        super().__init__()
        self.settings = settings
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Display")
        form = QFormLayout(box)
        self.quantity = combo(AUTO)
        self.quantity.setToolTip("Which quantity of the shown result the views draw")
        self.colormap = combo(list(COLORMAPS))
        self.colormap.setEditable(True)  # any pyqtgraph / matplotlib name
        self.colormap.setToolTip("auto: each quantity's own (blue = convex for the convexity "
                                 "map); or any pyqtgraph / matplotlib name")
        self.log_scale = QCheckBox("log scale")
        self.log_scale.setToolTip("log₁₀ of the loss: the basin around the minimizer gets detail")
        self.wireframe = QCheckBox("wireframe")
        self.wireframe.setToolTip("Draw the 3-D surface's grid lines")
        self.clip_on = QCheckBox("clip at")
        self.clip_on.setToolTip("Cap the shown values (the paper's vmax), so the edges of the "
                                "plane do not flatten the minimum")
        self.clip_max = double_spin(0.0, 1e6, 3, 0.5)
        self.clip_max.setValue(10.0)
        self.clip_max.setToolTip("The value the loss is clipped at")
        self.z_scale = double_spin(0.01, 100.0, 2, 0.1)
        self.z_scale.setToolTip("Height of the 3-D surface relative to its width")
        self.levels = int_spin(1, 200)
        self.levels.setToolTip("How many isolines the 2-D map draws")
        clip_row = QWidget()
        h = QHBoxLayout(clip_row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.clip_on)
        h.addWidget(self.clip_max, 1)
        toggles = QWidget()
        t = QHBoxLayout(toggles)
        t.setContentsMargins(0, 0, 0, 0)
        t.addWidget(self.log_scale)
        t.addWidget(self.wireframe)
        form.addRow("Show", self.quantity)
        form.addRow("Colour map", self.colormap)
        form.addRow("", toggles)
        form.addRow("Clip max", clip_row)
        form.addRow("Z scale", self.z_scale)
        form.addRow("Isolines", self.levels)
        lay.addWidget(box)

        self.quantity.currentIndexChanged.connect(
            lambda _i: setattr(settings, "quantity", self.quantity.currentData()))
        self.colormap.currentTextChanged.connect(self._set_colormap)
        self.log_scale.toggled.connect(lambda on: setattr(settings, "log_scale", on))
        self.wireframe.toggled.connect(lambda on: setattr(settings, "wireframe", on))
        self.clip_on.toggled.connect(self._set_clip)
        self.clip_max.valueChanged.connect(self._set_clip)
        self.z_scale.valueChanged.connect(lambda v: setattr(settings, "z_scale", v))
        self.levels.valueChanged.connect(lambda v: setattr(settings, "levels", v))
        settings.changed.connect(self.pull)
        self.pull()

    def set_quantities(self, names) -> None:
        """Offer exactly the quantities the shown result holds (labels from the registry)."""
        from lossviz_core.results.quantities import quantity

        blocker = QSignalBlocker(self.quantity)
        self.quantity.clear()
        for value, label in {**AUTO, **{q: quantity(q).label for q in names}}.items():
            self.quantity.addItem(label, value)
        i = self.quantity.findData(self.settings.quantity)
        self.quantity.setCurrentIndex(max(i, 0))
        del blocker
        if i < 0 and self.settings.quantity != "auto":
            self.settings.quantity = "auto"

    def _set_colormap(self, name: str) -> None:
        if name.strip():
            self.settings.colormap = name.strip()

    def _set_clip(self, *_args: object) -> None:
        self.settings.clip_max = self.clip_max.value() if self.clip_on.isChecked() else None

    def pull(self) -> None:
        """Show the settings' current values."""
        s = self.settings
        widgets = (self.quantity, self.colormap, self.log_scale, self.wireframe, self.clip_on,
                   self.clip_max, self.z_scale, self.levels)
        blockers = [QSignalBlocker(w) for w in widgets]
        i = self.quantity.findData(s.quantity)
        self.quantity.setCurrentIndex(max(i, 0))
        self.colormap.setCurrentText(s.colormap)
        self.log_scale.setChecked(s.log_scale)
        self.wireframe.setChecked(s.wireframe)
        self.clip_on.setChecked(s.clip_max is not None)
        if s.clip_max is not None:
            self.clip_max.setValue(s.clip_max)
        self.z_scale.setValue(s.z_scale)
        self.levels.setValue(s.levels)
        del blockers
