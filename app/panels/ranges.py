"""α/β ranges and resolution, device and precision."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QVBoxLayout, QWidget

from ..state import ComputeState
from .binding import bind, combo, double_spin, int_spin


def _devices() -> dict[str, str]:
    import torch

    out = {"auto": "auto", "cpu": "CPU"}
    if torch.cuda.is_available():
        out.update({f"cuda:{i}": torch.cuda.get_device_name(i)
                    for i in range(torch.cuda.device_count())})
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out["mps"] = "Apple MPS"
    return out


class RangesPanel(QWidget):
    """min / max / points for α (and β for a plane); the device and precision to compute on."""

    def __init__(self, state: ComputeState) -> None:
        super().__init__()
        self.state = state
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Ranges")
        self.form = form = QFormLayout(box)
        self.spins = {}
        self.rows = {}
        for axis, label in (("x", "α"), ("y", "β")):
            row = QWidget()
            h = QHBoxLayout(row)
            h.setContentsMargins(0, 0, 0, 0)
            for part in ("min", "max"):
                spin = bind(double_spin(-1e4, 1e4, 4), state, f"{axis}{part}")
                spin.setToolTip(f"{label} {part}")
                self.spins[f"{axis}{part}"] = spin
                h.addWidget(spin, 2)
            num = bind(int_spin(1, 2001), state, f"{axis}num")
            num.setSuffix(" pts")
            num.setToolTip(f"number of {label} points")
            self.spins[f"{axis}num"] = num
            h.addWidget(num, 2)
            form.addRow(label, row)
            self.rows[axis] = row
        self.device = bind(combo(_devices()), state, "device")
        self.precision = bind(combo({"auto": "auto (bf16 on GPU)", "bf16": "bf16",
                                     "fp32": "fp32 (exact)"}), state, "precision")
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        lay.addWidget(box)
        state.changed.connect(self._on_changed)
        self._on_changed("method")

    def _on_changed(self, name: str) -> None:
        if name == "method":
            self.form.setRowVisible(self.rows["y"], not self.state.is_line)

    def range_text(self) -> str:
        """What the panel shows, e.g. 'α -1:1:21, β -1:1:21' (used by tests and the status)."""
        s = self.spins
        text = f"α {s['xmin'].value():g}:{s['xmax'].value():g}:{s['xnum'].value()}"
        if not self.state.is_line:
            text += f", β {s['ymin'].value():g}:{s['ymax'].value():g}:{s['ynum'].value()}"
        return text
