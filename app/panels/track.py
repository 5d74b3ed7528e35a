"""What the training dialog tracks while it trains: the tracker's measures (one check box
each, from :data:`lossviz_core.track.TRACK_MEASURES`) and how often."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QGridLayout, QSpinBox, QWidget

from lossviz_core.track import TRACK_MEASURES

# checked at first: the two the edge-of-stability view is about
FIRST_CHECKED = ("lambda_max", "sharpness")


class TrackChoice(QWidget):
    """The measures to record (none: no tracking) and every how many optimizer steps."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[str, QCheckBox] = {}
        for k, m in enumerate(TRACK_MEASURES.values()):
            box = QCheckBox(m.name)
            box.setToolTip(f"{m.label}: {m.help}")
            box.setChecked(m.name in FIRST_CHECKED)
            grid.addWidget(box, k // 3, k % 3)
            self.boxes[m.name] = box
        self.every = QSpinBox()
        self.every.setRange(1, 1_000_000)
        self.every.setValue(20)
        self.every.setPrefix("every ")
        self.every.setSuffix(" steps")
        self.every.setToolTip("a record every N optimizer steps (and at the last); each "
                              "λmax costs a few Hessian-vector products")
        grid.addWidget(self.every, (len(self.boxes) + 2) // 3, 0, 1, 3)

    def measures(self) -> tuple[str, ...]:
        """The checked measures, in the tracker's order."""
        return tuple(name for name, box in self.boxes.items() if box.isChecked())

    def set_measures(self, names: tuple[str, ...] | list[str]) -> None:
        for name, box in self.boxes.items():
            box.setChecked(name in names)
