"""The Curvature tab: the Hessian at the checkpoint (or any point of the plane), explained.

Computes in the background, with progress and Cancel, what ``lossviz curvature`` reports:
the spectral density (log scale) with the top eigenvalues and λmin marked, the trace with
its standard error, the top eigenvalue of each layer, and the sharpness numbers (Keskar's ε,
SAM's ρ, the average over random directions). A point double-clicked on the 2-D map is
analysed here on its own.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from lossviz_core.progress import Step

from .panels.binding import combo, double_spin, int_spin

if TYPE_CHECKING:
    from .session import Session
    from .tasks import Task, TaskRunner


class CurvatureTab(QWidget):
    """Controls, progress and the report of one curvature analysis, of the plane the
    ``session``'s panels describe, computed through ``tasks``. ``raiseRequested``: a point
    was picked elsewhere (the 2-D map), the tab wants to be in front."""

    raiseRequested = Signal()

    def __init__(self, session: Session, tasks: TaskRunner) -> None:
        super().__init__()
        self.session, self.tasks = session, tasks
        self.worker: Task | None = None
        self._resolving: Task | None = None
        self.report: dict[str, Any] | None = None

        box = QGroupBox("Hessian at a point")
        form = QFormLayout(box)
        self.alpha = double_spin(-1e4, 1e4, 4, 0.1)
        self.beta = double_spin(-1e4, 1e4, 4, 0.1)
        self.alpha.setToolTip("α of the point: θ + α·d₁ + β·d₂")
        self.beta.setToolTip("β of the point: θ + α·d₁ + β·d₂")
        point = QWidget()
        row = QHBoxLayout(point)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("α"))
        row.addWidget(self.alpha)
        row.addWidget(QLabel("β"))
        row.addWidget(self.beta)
        point.setToolTip("θ + α·d₁ + β·d₂ of the plane the panels describe; 0, 0 is the "
                         "checkpoint itself (double-click a point of the 2-D map to pick it)")
        self.top_k = int_spin(1, 50)
        self.top_k.setValue(5)
        self.top_k.setToolTip("How many of the largest eigenvalues to find (Lanczos)")
        self.params: QComboBox = combo({"perturbed": "the directions' parameters",
                                        "all": "every parameter"})
        self.params.setToolTip("perturbed: the tensors the directions move, so the curvature "
                               "describes the surface's space; all: every parameter, as "
                               "PyHessian does")
        self.precision: QComboBox = combo({"fp32": "fp32", "fp64": "fp64 (exact, slower)"})
        self.precision.setToolTip("fp64 for exact work (closed forms); fp32 is what GPUs do fast")
        self.tol = double_spin(1e-8, 1e-1, 8, 1e-4)
        self.tol.setValue(1e-3)
        self.tol.setToolTip("Relative tolerance of each eigenvalue (the report says which "
                            "converged)")
        for label, w in (("Point", point), ("Top-k", self.top_k), ("Parameters", self.params),
                         ("Precision", self.precision), ("Tolerance", self.tol)):
            form.addRow(label, w)
        self.compute_button = QPushButton("Analyse")
        self.compute_button.setToolTip("Compute the spectrum, trace, density, per-layer "
                                       "eigenvalues and sharpness here (hundreds of "
                                       "Hessian-vector products: the plan says how many)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.save_button = QPushButton("Save report…")
        self.save_button.setEnabled(False)
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button.clicked.connect(self.ask_save)
        buttons = QHBoxLayout()
        for b in (self.compute_button, self.cancel_button, self.save_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = QLabel("The curvature of the loss at the checkpoint: press Analyse.")
        self.status.setWordWrap(True)
        self.numbers = QTextEdit()
        self.numbers.setReadOnly(True)
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.addWidget(box)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.numbers, 1)

        self.density_plot = pg.PlotWidget(title="spectral density")
        self.density_plot.setBackground("w")
        self.density_plot.setLabel("bottom", "eigenvalue λ")
        self.density_plot.setLogMode(y=True)
        self.density_plot.setToolTip("The Hessian's spectral density by stochastic Lanczos "
                                     "quadrature (log scale)")
        self.layer_plot = pg.PlotWidget(title="top λ per layer")
        self.layer_plot.setBackground("w")
        for plot in (self.density_plot, self.layer_plot):
            # room right of the axis box: the last tick label is drawn whole, not cut
            plot.getPlotItem().layout.setContentsMargins(4, 4, 18, 4)
            # a title no wider than the plot: the plot item is never wider than its widget
            plot.setTitle(plot.getPlotItem().titleLabel.text, size="9pt")
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.density_plot)
        plots.addWidget(self.layer_plot)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(plots)
        split.setStretchFactor(1, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)

    # ---- computing ------------------------------------------------------------------
    @property
    def computing(self) -> bool:
        return self.worker is not None or self._resolving is not None

    def analyse_at(self, alpha: float, beta: float) -> None:
        """Analyse the point (α, β) of the plane (a double-click on the 2-D map)."""
        self.alpha.setValue(alpha)
        self.beta.setValue(beta)
        self.raiseRequested.emit()
        self.compute()

    def compute(self) -> None:
        """Resolve the panels' recipe (off the GUI thread, its code trusted), then analyse."""
        if self.computing:
            return
        self.report = None
        self.compute_button.setEnabled(False)
        self.progress.setValue(0)
        self.status.setText("Preparing …")
        self._resolving = self.session.resolve_then(
            self._analyse, on_error=self._on_error, on_finish=self._resolved, parent=self)

    def _resolved(self) -> None:
        self._resolving = None
        if self.worker is None:  # not analysed: not trusted, or no recipe
            self.compute_button.setEnabled(True)
            if self.status.text() == "Preparing …":
                self.status.setText("Not analysed: its code was not trusted.")

    def _analyse(self, recipe: Any) -> None:
        from lossviz_core.curvature.report import CurvatureOptions

        options = CurvatureOptions(k=self.top_k.value(), tol=self.tol.value())
        at = (self.alpha.value(), self.beta.value())
        params, precision = self.params.currentData(), self.precision.currentData()
        job = self.session.job
        ws = job.workspace if job is not None and _same_plane(job.recipe, recipe) else None

        def generator():  # noqa: ANN202
            from lossviz_core.run.at_point import iter_curvature

            return iter_curvature(recipe, options, at=at, params=params, precision=precision,
                                  workspace=ws)

        self.worker = self.tasks.start(generator, on_item=self._on_step,
                                       on_done=self._on_report, on_error=self._on_error,
                                       on_finish=self._on_finished, parent=self,
                                       no_grad=False)  # Hessians need gradients
        self.cancel_button.setEnabled(True)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Cancelling after the current part …")

    def stop(self, timeout_ms: int) -> bool:
        return self.worker.stop(timeout_ms) if self.worker is not None else True

    def _on_step(self, item: Any) -> None:
        if isinstance(item, Step):
            self.status.setText(item.text)
            if item.fraction is not None and item.text.split(":")[0] not in ("loading",):
                self.progress.setValue(int(100 * item.fraction))

    def _on_report(self, report: Any) -> None:
        self.report = report
        self.progress.setValue(100)
        self.save_button.setEnabled(True)
        self.show_report(report)
        self.status.setText(f"Done: {report.get('hvps', 0)} Hessian-vector products in "
                            f"{report.get('seconds', 0):.1f} s.")

    def _on_error(self, message: str) -> None:
        self.status.setText("Failed.")  # the message box says why

    def _on_finished(self) -> None:
        worker, self.worker = self.worker, None
        self.compute_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if worker is not None and worker.cancelled and self.report is None:
            self.status.setText("Cancelled.")

    # ---- showing ----------------------------------------------------------------------
    def show_report(self, r: dict[str, Any]) -> None:
        """Draw the density and the per-layer bars; list the numbers."""
        self.density_plot.clear()
        dens = r.get("density") or {}
        grid = np.asarray(dens.get("grid", []), float)
        values = np.asarray(dens.get("values", []), float)
        if grid.size:
            self.density_plot.plot(grid, np.maximum(values, 1e-12), pen=pg.mkPen("#1f77b4",
                                                                               width=2))
        for v in r.get("eigenvalues", []):
            self.density_plot.addItem(pg.InfiniteLine(v, angle=90, pen=pg.mkPen("#d62728")))
        if r.get("lambda_min") is not None:
            self.density_plot.addItem(pg.InfiniteLine(r["lambda_min"], angle=90,
                                                      pen=pg.mkPen("#2ca02c", width=2)))
        self.layer_plot.clear()
        layers = r.get("per_layer") or {}
        if layers:
            names = list(layers)
            bars = pg.BarGraphItem(x=np.arange(len(names)), height=[layers[n] for n in names],
                                   width=0.7, brush="#ff7f0e")
            self.layer_plot.addItem(bars)
            self.layer_plot.getAxis("bottom").setTicks([list(enumerate(names))])
        self.numbers.setPlainText(_numbers(r))

    def ask_save(self) -> None:
        if self.report is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the curvature report", "",
                                              "JSON (*.json)")
        if path:
            from lossviz_core.curvature.report import write_report

            write_report(self.report, path if path.endswith(".json") else path + ".json")


def _same_plane(a: Any, b: Any) -> bool:
    return (a.model, a.dataset, a.directions, a.loss) == (b.model, b.dataset, b.directions,
                                                          b.loss)


def _numbers(r: dict[str, Any]) -> str:
    conv = r.get("converged", {})
    lines = [f"at α = {r.get('point', {}).get('alpha', 0):g}, β = "
             f"{r.get('point', {}).get('beta', 0):g}; {r.get('examples')} "
             f"{r.get('unit', 'examples')}, "
             f"{r.get('params', 'perturbed')} parameters", ""]
    ok = conv.get("eigenvalues", [])
    for i, v in enumerate(r.get("eigenvalues", [])):
        mark = "" if i < len(ok) and ok[i] else "  (not converged)"
        lines.append(f"λ{i + 1} = {v:.6g}{mark}")
    lines.append(f"λmin = {r.get('lambda_min', float('nan')):.6g}"
                 + ("" if conv.get("lambda_min", True) else "  (not converged)"))
    lines.append(f"trace = {r.get('trace', float('nan')):.6g} ± "
                 f"{r.get('trace_stderr', float('nan')):.2g}")
    for name, v in (r.get("sharpness") or {}).items():
        lines.append(f"{name} sharpness = {v:.6g}")
    if r.get("point"):
        extra = {k: v for k, v in r["point"].items() if k not in ("alpha", "beta")}
        lines.append("")
        lines.append(json.dumps(extra, indent=1))
    return "\n".join(lines)
