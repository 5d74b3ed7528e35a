"""Train a zoo model in the background with live curves; the run folder feeds the PCA plane.

The preset "small vs large batch" trains two runs from one saved initialization (the paper's
sharp-vs-flat experiment) and asks the window for the 1-D interpolation between them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from lossviz_core.recipe.spec import DatasetSpec

from . import dialogs
from .eos_panel import EosPanel
from .panels.binding import PathEdit, combo, double_spin, guard_wheel, int_spin
from .panels.track import TrackChoice
from .tasks import Task, TaskRunner
from .training_runs import (
    PRESETS,
    TRAIN_IMAGES,
    batch_pair,
    default_run_folder,
    run_folders,
    training_generator,
)

_PENS = {"train": {"width": 2}, "test": {"width": 2, "style": Qt.PenStyle.DotLine}}
_COLOURS = {"run": "#1f77b4", "small": "#d62728", "large": "#2ca02c"}


def _legend_below(widget: pg.PlotWidget) -> None:
    """The plot's legend in its own row under the axes (two columns): it never covers a
    curve, as the 1-D view's; curves named when plotted join it."""
    item = widget.getPlotItem()
    legend = pg.LegendItem(offset=None, colCount=2, frame=False, labelTextColor=(40, 40, 40))
    item.layout.addItem(legend, 4, 1)
    item.layout.setAlignment(legend, Qt.AlignmentFlag.AlignHCenter)
    item.legend = legend


class TrainingDialog(QDialog):
    """Set up and run a training (through ``tasks``, the window's runner, or its own);
    ``pcaRequested(run_dir)`` and ``interpolationRequested(model, checkpoint_a, checkpoint_b,
    dataset_dict)`` hand the produced runs to whoever listens (the window's menus)."""

    pcaRequested = Signal(str)
    interpolationRequested = Signal(str, str, str, object)
    runFinished = Signal(object)

    def __init__(self, parent: QWidget | None = None, output: str | None = None,
                 tasks: TaskRunner | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a model")
        self.resize(900, 560)
        self.tasks = tasks if tasks is not None else TaskRunner(self)
        self.worker: Task | None = None
        self.run_info: Any = None
        self.curves: dict[tuple[str, str, str], pg.PlotDataItem] = {}
        self.history: dict[tuple[str, str, str], tuple[list, list]] = {}

        from lossviz_core.models import list_models
        from lossviz_core.train import OPTIMIZERS, SCHEDULES

        form_w = QWidget()
        form = QFormLayout(form_w)
        self.preset = combo(PRESETS)
        self.model = combo([m.name for m in list_models()])
        self.model.setCurrentText("digits_cnn")
        self.dataset = combo({"digits": "Digits", "cifar10": "CIFAR-10", "tensors": "Tensors file"})
        self.data_path = PathEdit("dir", placeholder="CIFAR-10 folder or .npz file")
        self.optimizer = combo(list(OPTIMIZERS))
        self.lr = double_spin(1e-6, 10.0, 5, 0.01)
        self.lr.setValue(0.1)
        self.momentum = double_spin(0.0, 0.999, 3, 0.05)
        self.momentum.setValue(0.9)
        self.momentum.setToolTip("SGD momentum (the reference trains with 0.9)")
        self.weight_decay = double_spin(0.0, 1.0, 6, 1e-4)
        self.weight_decay.setValue(5e-4)
        self.weight_decay.setToolTip("L2 weight decay (the reference uses 5e-4); it changes "
                                     "how sharp the minimum is")
        self.schedule = combo(list(SCHEDULES))
        self.batch = int_spin(1, 65536)
        self.batch.setValue(128)
        self.batches = QWidget()  # the preset's two batch sizes, shown and editable
        self.small_batch, self.large_batch = int_spin(1, 65536), int_spin(1, 65536)
        pair = QHBoxLayout(self.batches)
        pair.setContentsMargins(0, 0, 0, 0)
        for label, spin in (("small", self.small_batch), ("large", self.large_batch)):
            pair.addWidget(QLabel(label))
            pair.addWidget(spin, 1)
        self.batches.setToolTip("The two runs' batch sizes: the seed report's 64 and 4096 on "
                                "CIFAR-10, scaled to the dataset's training images")
        self.epochs = int_spin(1, 10000)
        self.epochs.setValue(10)
        self.save_every = int_spin(1, 10000)
        self.seed = int_spin(0, 2**31 - 1)
        self.output = PathEdit("dir")
        self._default_out = "" if output else default_run_folder("digits_cnn")
        self.output.setText(output or self._default_out)
        self.track = TrackChoice()
        self.track.setToolTip("the landscape's geometry recorded while training, into "
                              "RUN/track.jsonl (none checked: not tracked)")
        for label, w in (("Preset", self.preset), ("Model", self.model),
                         ("Dataset", self.dataset), ("Data", self.data_path),
                         ("Optimizer", self.optimizer), ("Learning rate", self.lr),
                         ("Momentum", self.momentum), ("Weight decay", self.weight_decay),
                         ("Schedule", self.schedule), ("Batch size", self.batch),
                         ("Batch sizes", self.batches),
                         ("Epochs", self.epochs), ("Save every K epochs", self.save_every),
                         ("Seed", self.seed), ("Output folder", self.output),
                         ("Track geometry", self.track)):
            form.addRow(label, w)
        self.form = form
        self.preset.currentIndexChanged.connect(self._preset_changed)
        self.dataset.currentIndexChanged.connect(self._dataset_changed)
        self.model.currentIndexChanged.connect(lambda _i: self._name_output())
        self._dataset_changed()
        self._preset_changed()

        self.loss_plot = pg.PlotWidget(title="loss")
        self.acc_plot = pg.PlotWidget(title="accuracy (%)")
        for p in (self.loss_plot, self.acc_plot):
            _legend_below(p)
            p.setLabel("bottom", "epoch")
            p.showGrid(x=True, y=True, alpha=0.3)
        curves = QWidget()
        plots = QVBoxLayout(curves)
        plots.setContentsMargins(0, 0, 0, 0)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)
        self.eos = EosPanel(self)  # the tracked records, followed as the run writes them
        self.eos_tag = ""
        self._folders: dict[str, tuple[int, Path]] = {}
        self.plot_tabs = QTabWidget()
        self.plot_tabs.addTab(curves, "Loss and accuracy")
        self.plot_tabs.addTab(self.eos, "Edge of stability")

        self.progress = QProgressBar()
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.pca_button = QPushButton("Use for PCA plane")
        self.pca_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.pca_button.clicked.connect(self._use_for_pca)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.pca_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)

        top = QHBoxLayout()
        top.addWidget(form_w, 0)
        top.addWidget(self.plot_tabs, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top, 1)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addLayout(buttons)
        guard_wheel(self)

    # -- set-up -----------------------------------------------------------------------

    def _dataset_changed(self, *_args: object) -> None:
        name = self.dataset.currentData()
        self.form.setRowVisible(self.data_path, name != "digits")
        self.data_path.mode = "dir" if name == "cifar10" else "file"
        small, large = batch_pair(TRAIN_IMAGES.get(name))
        self.small_batch.setValue(small)
        self.large_batch.setValue(large)
        self._name_output()

    def _preset_changed(self, *_args: object) -> None:
        batch = self.preset.currentData() == "batch"
        self.form.setRowVisible(self.batch, not batch)
        self.form.setRowVisible(self.batches, batch)
        if batch:
            self.epochs.setValue(min(self.epochs.value(), 10))
        if self.worker is None and hasattr(self, "loss_plot"):
            self._clear_curves()  # another experiment: the last one's curves go
        self._name_output()

    def batches_chosen(self) -> tuple[int, int] | None:
        """The preset's (small, large) batch sizes; None for a single run."""
        if self.preset.currentData() != "batch":
            return None
        return self.small_batch.value(), self.large_batch.value()

    def _name_output(self) -> None:
        """A default output folder follows the model and preset and is new for each run (a
        second run never writes into the first's folder); one the user chose stays."""
        text = self.output.text().strip()
        if text and text != self._default_out:
            return
        model = self.model.currentData() or "model"
        self._default_out = default_run_folder(model, self.batches_chosen())
        self.output.setText(self._default_out)

    def train_spec(self) -> Any:
        """The TrainSpec the form describes (raises LossVizError on bad input)."""
        from lossviz_core.train import TrainSpec

        name = self.dataset.currentData()
        path = self.data_path.text().strip() or None
        if name == "tensors":
            dataset = DatasetSpec(name=f"tensors:{path or ''}")
        else:
            dataset = DatasetSpec(name=name, root=path if name == "cifar10" else None)
        return TrainSpec(
            model=self.model.currentData(), dataset=dataset,
            optimizer=self.optimizer.currentData(), lr=self.lr.value(),
            momentum=self.momentum.value(), weight_decay=self.weight_decay.value(),
            schedule=self.schedule.currentData(), batch_size=self.batch.value(),
            epochs=self.epochs.value(), save_every=self.save_every.value(),
            seed=self.seed.value(), track=self.track.measures(),
            track_every=self.track.every.value(),
        )

    # -- running ------------------------------------------------------------------------

    def start(self) -> None:
        """Start training in a worker thread."""
        if self.worker is not None:
            return
        try:
            spec = self.train_spec()
        except Exception as exc:  # noqa: BLE001
            from .worker import describe_exception

            dialogs.show_error(self, *describe_exception(exc))
            return
        self._name_output()
        out, preset = self.output.text().strip(), self.preset.currentData()
        batches = self.batches_chosen()
        if preset == "batch" and batches[0] >= batches[1]:
            dialogs.show_error(self, f"The small batch ({batches[0]}) must be smaller than "
                               f"the large one ({batches[1]}).")
            return
        self._clear_curves()
        self.eos.view.set_records([])
        self._folders = run_folders(spec, out, preset, batches)
        self.eos_tag = ""
        self.eos.run_dir = None  # not tracked: nothing to follow
        if spec.track:
            self._follow_track(next(iter(self._folders)))
        self.run_info = None
        runs = 2 if preset == "batch" else 1
        self.progress.setRange(0, spec.epochs * runs)
        self.progress.setValue(0)
        self.status.setText(f"Training {spec.model} into {out} …")
        self._output = out
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.pca_button.setEnabled(False)
        self.worker = self.tasks.start(lambda: training_generator(spec, out, preset, batches),
                                       on_item=self._on_epoch, on_done=self._on_returned,
                                       on_error=self._on_error, on_finish=self._on_finished,
                                       parent=self, no_grad=False)  # training: gradients

    def cancel(self) -> None:
        """Stop after the current epoch; the run folder keeps the checkpoints saved so far."""
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Cancelling after this epoch …")

    def _clear_curves(self) -> None:
        for p in (self.loss_plot, self.acc_plot):
            p.clear()
        self.curves.clear()
        self.history.clear()

    def _curve(self, tag: str, split: str, what: str) -> pg.PlotDataItem:
        key = (tag, split, what)
        if key not in self.curves:
            plot = self.loss_plot if what == "loss" else self.acc_plot
            name = split if tag == "run" else f"{tag} batch, {split}"
            pen = pg.mkPen(_COLOURS[tag], **_PENS[split])
            self.curves[key] = plot.plot([], [], pen=pen, name=name, symbol="o", symbolSize=4,
                                         symbolBrush=_COLOURS[tag])
            self.history[key] = ([], [])
        return self.curves[key]

    def _on_epoch(self, item: tuple[str, Any]) -> None:
        tag, rep = item
        for split in ("train", "test"):
            for what in ("loss", "acc"):
                value = getattr(rep, f"{split}_{what}")
                if value is None:
                    continue
                curve = self._curve(tag, split, what)
                xs, ys = self.history[(tag, split, what)]
                xs.append(rep.epoch)
                ys.append(value)
                curve.setData(xs, ys)
        self.progress.setValue(self.progress.value() + 1)
        label = "" if tag == "run" else f"{tag} batch: "
        if self.eos.run_dir is not None:
            self._follow_track(tag)
        test = f", test loss {rep.test_loss:.3f}" if rep.test_loss is not None else ""
        self.status.setText(f"{label}epoch {rep.epoch}/{rep.epochs}: train loss "
                            f"{rep.train_loss:.3f}{test}, {rep.seconds:.1f} s")

    def _follow_track(self, tag: str) -> None:
        """Show the records of run ``tag`` as its tracker writes them (the batch preset's
        second run starts the view again: its steps count from 0); read them now."""
        if tag != self.eos_tag:
            self.eos_tag = tag
            name = Path(self._folders[tag][1]).name
            self.eos.view.title = name if tag == "run" else f"{tag} batch: {name}"
            self.eos.follow(self._folders[tag][1])
        else:
            self.eos.reload()

    def _on_returned(self, value: Any) -> None:
        self.run_info = value
        self.runFinished.emit(value)
        if isinstance(value, tuple):
            small, large = value
            self.status.setText(f"Done: {small.path} and {large.path}. Opening the 1-D "
                                "interpolation between the two minimizers.")
            self.interpolationRequested.emit(small.model_name, str(small.final_checkpoint),
                                             str(large.final_checkpoint), small.dataset)
        else:
            self.status.setText(f"Done: run folder {value.path} with {len(value.checkpoints)} "
                                "checkpoints.")

    def _on_error(self, message: str) -> None:
        self.status.setText(f"Failed: {message}")  # the runner's message box says it too

    def _on_finished(self) -> None:
        cancelled = self.worker is not None and self.worker.cancelled
        self.worker = None
        self.eos.reload()
        self.eos.stop_following()
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if cancelled:
            self.status.setText(f"Cancelled; the run folder {self._output} holds the "
                                "checkpoints saved so far.")
        self.pca_button.setEnabled(self.pca_run() is not None)

    def pca_run(self) -> str | None:
        """The run folder to use for a PCA plane (needs MIN_CHECKPOINTS checkpoints)."""
        from lossviz_core.directions.pca import MIN_CHECKPOINTS
        from lossviz_core.runs import read_run

        folder = self._output if self.preset.currentData() != "batch" else None
        if folder is None and isinstance(self.run_info, tuple):
            folder = str(self.run_info[0].path)
        try:
            enough = folder and len(read_run(folder).checkpoints) >= MIN_CHECKPOINTS
            return str(folder) if enough else None
        except Exception:  # noqa: BLE001 - no usable run yet
            return None

    def _use_for_pca(self) -> None:
        run = self.pca_run()
        if run:
            self.pcaRequested.emit(run)

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Cancel a running training and wait for its thread."""
        if self.worker is None:
            return True
        return self.worker.stop(timeout_ms)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt naming)
        self.stop()
        super().closeEvent(event)
