"""α/β ranges and resolution, device and precision."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from .. import schema
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
                spin.setToolTip(f"{part} of {label}, in units of the direction "
                                f"{'d₁' if axis == 'x' else 'd₂'} (θ + α·d₁ + β·d₂)")
                self.spins[f"{axis}{part}"] = spin
                spin.setMinimumWidth(76)  # '-1.0000' whole; the dock fits a 1024-pixel screen
                h.addWidget(spin, 2)
            num = bind(int_spin(1, 2001), state, f"{axis}num")
            num.setSuffix(" pts")
            num.setToolTip(f"grid points along {label} (a point costs a pass over the data)")
            self.spins[f"{axis}num"] = num
            num.setMinimumWidth(70)
            h.addWidget(num, 2)
            form.addRow(label, row)
            self.rows[axis] = row
        self.fit = bind(QCheckBox("fit the ranges to the trajectory"), state, "fit_ranges")
        self.fit.setToolTip("PCA plane: α and β cover every saved checkpoint of the run with a "
                            "margin (the paper's figures); the point counts stay yours")
        form.addRow("", self.fit)
        self.measures = {}  # a check box per measure besides the loss (the registry's)
        for kind in schema.window_measures():
            check = bind(QCheckBox(f"also the {kind.label}"), state, schema.measure_key(kind))
            check.setToolTip(f"{kind.help or kind.label}.")
            self.measures[kind.name] = check
            form.addRow("", check)
        self.curvature = self.measures.get("curvature")
        self.device = bind(combo(_devices()), state, "device")
        self.device.setToolTip("Where to compute: a CUDA GPU, Apple MPS, or the CPU (auto picks "
                               "the fastest there is)")
        self.precision = bind(combo({"auto": "auto (bf16 on GPU)", "bf16": "bf16",
                                     "fp32": "fp32 (exact)"}), state, "precision")
        form.addRow("Device", self.device)
        self.precision.setToolTip("bf16: fast on recent GPUs, within ~1 % of fp32; fp32: exact "
                                  "(auto: bf16 on a GPU that has it, fp32 elsewhere)")
        form.addRow("Precision", self.precision)
        from ..cluster import EXECUTORS

        self.executor = bind(combo(EXECUTORS), state, "executor")
        self.executor.setToolTip("This machine: the device above, in this process. Ray cluster: "
                                 "the points spread over Ray workers (one per GPU, or per group "
                                 "of CPU cores) and stream back here (docs/cluster.md); the "
                                 "landscape is the same")
        form.addRow("Compute on", self.executor)
        self.ray_address = bind(QLineEdit(), state, "ray_address")
        self.ray_address.setPlaceholderText("empty: a local Ray")
        self.ray_address.setToolTip("The cluster to join: empty starts a Ray on this machine "
                                    "(kept until the window closes); 'auto' joins the cluster "
                                    "this machine belongs to; ray://HOST:10001 a remote head "
                                    "(needs ray[client])")
        form.addRow("Ray address", self.ray_address)
        self.ray_workers = bind(int_spin(0, 4096), state, "ray_workers")
        self.ray_workers.setSpecialValueText("auto")
        self.ray_workers.setToolTip("Ray workers to start (auto: one per GPU, or one per group "
                                    "of CPU cores)")
        form.addRow("Ray workers", self.ray_workers)
        lay.addWidget(box)
        state.changed.connect(self._on_changed)
        self._on_changed("")

    def _on_changed(self, name: str) -> None:
        if name in ("executor", ""):
            on_ray = self.state["executor"] == "ray"
            self.form.setRowVisible(self.ray_address, on_ray)
            self.form.setRowVisible(self.ray_workers, on_ray)
        fits = schema.fits_trajectory(self.state["method"])
        if name in ("method", ""):
            self.form.setRowVisible(self.rows["y"], not self.state.is_line)
            self.fit.setEnabled(fits)
        if name in ("method", "fit_ranges", ""):
            fitted = fits and self.state["fit_ranges"]
            for key in ("xmin", "xmax", "ymin", "ymax"):  # the fit chooses them: read-only
                self.spins[key].setEnabled(not fitted)

    def range_text(self) -> str:
        """What the panel shows, e.g. 'α -1:1:21, β -1:1:21' (used by tests and the status)."""
        s = self.spins
        text = f"α {s['xmin'].value():g}:{s['xmax'].value():g}:{s['xnum'].value()}"
        if not self.state.is_line:
            text += f", β {s['ymin'].value():g}:{s['ymax'].value():g}:{s['ynum'].value()}"
        return text
