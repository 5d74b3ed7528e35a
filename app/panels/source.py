"""Model source (demo / zoo model + checkpoint / run folder) and dataset controls."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QPushButton, QVBoxLayout, QWidget

from ..state import ComputeState
from .binding import PathEdit, bind, combo, int_spin

CHECKPOINT_FILTER = "Checkpoints (*.pt *.pth *.t7 *.ckpt *.safetensors *.bin);;All files (*)"


def _model_names() -> list[str]:
    from lossviz_core.models import list_models

    return [m.name for m in list_models()]


class SourcePanel(QWidget):
    """What to look at: the model and its weights, and the data the loss is measured on.

    ``downloadRequested`` asks the window to download CIFAR-10 into the data folder.
    """

    downloadRequested = Signal()

    def __init__(self, state: ComputeState) -> None:
        super().__init__()
        self.state = state
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)

        model_box = QGroupBox("Model")
        self.model_form = form = QFormLayout(model_box)
        self.source = bind(combo({"demo": "Bundled demo", "checkpoint": "Zoo model + checkpoint",
                                  "run": "Run folder (training run)"}), state, "source")
        self.model = bind(combo(_model_names()), state, "model")
        self.checkpoint = bind(PathEdit("file", CHECKPOINT_FILTER, "model.pt / .t7 / .safetensors"),
                               state, "checkpoint")
        self.run_dir = bind(PathEdit("dir", placeholder="folder with run.json"), state, "run_dir")
        form.addRow("Source", self.source)
        form.addRow("Model", self.model)
        form.addRow("Checkpoint", self.checkpoint)
        form.addRow("Run folder", self.run_dir)
        lay.addWidget(model_box)

        data_box = QGroupBox("Dataset")
        self.data_form = dform = QFormLayout(data_box)
        self.dataset = bind(combo({"digits": "Digits (8×8, bundled)", "cifar10": "CIFAR-10",
                                   "tensors": "Tensors file (.npz)"}), state, "dataset")
        self.data_root = bind(PathEdit("dir", placeholder="CIFAR-10 data folder"), state,
                              "data_root")
        self.download = QPushButton("Download CIFAR-10")
        self.download.clicked.connect(self.downloadRequested)
        self.tensors_file = bind(PathEdit("file", "Arrays (*.npz);;All files (*)", "x, y arrays"),
                                 state, "tensors_file")
        self.subsample = int_spin(0, 10_000_000)
        self.subsample.setSpecialValueText("all")
        self.subsample.setSingleStep(500)
        bind(self.subsample, state, "subsample")
        self.split = bind(combo({"train": "train", "test": "test", "both": "train + test"}),
                          state, "split")
        dform.addRow("Dataset", self.dataset)
        dform.addRow("Data folder", self.data_root)
        dform.addRow("", self.download)
        dform.addRow("File", self.tensors_file)
        dform.addRow("Subsample", self.subsample)
        dform.addRow("Split", self.split)
        self.data_box = data_box
        lay.addWidget(data_box)

        state.changed.connect(self._update_visibility)
        self._update_visibility()

    def _update_visibility(self, _name: str = "") -> None:
        s = self.state
        src = s["source"]
        self.model_form.setRowVisible(self.model, src == "checkpoint")
        self.model_form.setRowVisible(self.checkpoint, src == "checkpoint")
        self.model_form.setRowVisible(self.run_dir, src == "run" or s["method"] == "pca")
        # demo and run folders bring their own dataset; only the split and subsample apply
        own = src == "checkpoint"
        for w in (self.dataset, self.data_root, self.download, self.tensors_file):
            self.data_form.setRowVisible(w, own)
        if own:
            self.data_form.setRowVisible(self.data_root, s["dataset"] == "cifar10")
            self.data_form.setRowVisible(self.download, s["dataset"] == "cifar10")
            self.data_form.setRowVisible(self.tensors_file, s["dataset"] == "tensors")
