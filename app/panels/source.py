"""Model source and dataset: the rows every recipe has, and one row per parameter a model
source or data kind declares (generated from the engine's registries, shown for the chosen
entry only)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lossviz_core.models import DATASETS as ZOO_DATASETS
from lossviz_core.registry import DATA_SOURCES, DIRECTION_METHODS, MODEL_SOURCES
from lossviz_core.resolve import choice_key

from .. import schema
from ..state import ComputeState
from .binding import (
    PathEdit,
    bind,
    combo,
    function_combo,
    int_spin,
    param_widget,
    switch_combo,
)

CHECKPOINT_FILTER = "Checkpoints (*.pt *.pth *.t7 *.ckpt *.safetensors *.bin);;All files (*)"
TRANSFORMS = {"auto": "auto (the dataset's usual)", "cifar": "CIFAR normalization",
              "imagenet": "ImageNet (resize 256, crop 224)", "none": "none (tensor in [0, 1])"}


def _line(state: ComputeState, name: str, placeholder: str, tip: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    edit.setToolTip(tip)
    return bind(edit, state, name)


class SourcePanel(QWidget):
    """What to look at: the model and its weights, and the data the loss is measured on.

    ``downloadRequested`` asks the window to download the chosen dataset into its folder.
    Each generated row is an attribute named after its setting (``tv_model``, ...).
    """

    downloadRequested = Signal()

    def __init__(self, state: ComputeState) -> None:
        super().__init__()
        self.state = state
        self._functions: dict[str, str] = {}  # {function setting: its file's setting}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)

        model_box = QGroupBox("Model")
        self.model_form = form = QFormLayout(model_box)
        self.source = switch_combo(schema.model_sources(), state, "source")
        self.source.setToolTip("Where the network comes from: the bundled demo, "
                               + ", ".join(s.label for s in MODEL_SOURCES.all())
                               + ", or a training run folder")
        form.addRow("Source", self.source)
        # {widget: (entry kind, entry name)}: a generated row shows for its entry only
        self.model_rows = self._entry_rows(form, MODEL_SOURCES.all())
        self.checkpoint = bind(PathEdit("file", CHECKPOINT_FILTER,
                                        "model.pt / .t7 / .safetensors"), state, "checkpoint")
        self.checkpoint.setToolTip("θ, the trained weights the landscape is centred on "
                                   "(DataParallel and torch.compile prefixes are understood)")
        self.pretrained = bind(QCheckBox("pretrained weights"), state, "pretrained")
        self.pretrained.setToolTip("Start from the library's published weights (downloaded "
                                   "into its cache the first time)")
        self.output = _line(state, "output", "index or key (optional)",
                            "For a forward that returns a tuple or dict: which entry holds "
                            "the logits")
        self.run_dir = bind(PathEdit("dir", placeholder="folder with run.json"), state, "run_dir")
        self.run_dir.setToolTip("A training run: its final checkpoint is θ; the PCA plane "
                                "goes through its saved epochs")
        for label, w in (("Checkpoint", self.checkpoint), ("", self.pretrained),
                         ("Output", self.output), ("Run folder", self.run_dir)):
            form.addRow(label, w)
        lay.addWidget(model_box)

        data_box = QGroupBox("Dataset")
        self.data_form = dform = QFormLayout(data_box)
        self.dataset = bind(combo(schema.data_sources()), state, "dataset")
        self.dataset.setToolTip("The data the loss L is measured on")
        dform.addRow("Dataset", self.dataset)
        self.data_rows = self._entry_rows(dform, DATA_SOURCES.all())
        self.data_root = bind(PathEdit("dir", placeholder="dataset folder"), state, "data_root")
        self.data_root.setToolTip("Where the dataset's files are (or go, with Download)")
        self.download = QPushButton("Download")
        self.download.setToolTip("Download the dataset into the data folder (needs internet)")
        self.download.clicked.connect(self.downloadRequested)
        self.transform = bind(combo(TRANSFORMS), state, "transform")
        self.transform.setToolTip("How images read from files become tensors")
        self.subsample = int_spin(0, 10_000_000)
        self.subsample.setSpecialValueText("all")
        self.subsample.setSingleStep(500)
        self.subsample.setToolTip("Evaluate on a seeded random subset of each split (faster, "
                                  "noisier)")
        bind(self.subsample, state, "subsample")
        self.split = bind(combo({"train": "train", "test": "test", "both": "train + test"}),
                          state, "split")
        self.split.setToolTip("Which split L sums over (the paper plots the training loss)")
        self.loss = bind(combo(schema.window_losses()), state, "loss")
        self.loss.setToolTip("The loss L: cross-entropy for classifiers (the paper's), or "
                             "another; f(α, β) is its mean over the split")
        for label, w in (("Data folder", self.data_root), ("", self.download),
                         ("Transform", self.transform), ("Subsample", self.subsample),
                         ("Split", self.split), ("Loss", self.loss)):
            dform.addRow(label, w)
        self.loss_rows = self._rows(dform, [(e, p, choice_key(p)) for e in _losses()
                                            for p in e.params])
        self.data_box = data_box
        lay.addWidget(data_box)

        state.changed.connect(self._update_visibility)
        state.changed.connect(self._follow_zoo_dataset)
        self._update_visibility()

    def _follow_zoo_dataset(self, name: str) -> None:
        """A zoo model brings the dataset it was made for (tiny_gpt: the bundled text) when
        the Dataset panel holds another zoo dataset, not data of the user's own."""
        s = self.state
        if name not in ("model", "source") or s["source"] != "zoo" or not s["model"]:
            return
        own = MODEL_SOURCES.named("zoo").dataset_of(s["model"])
        if own and own != s["dataset"] and s["dataset"] in ZOO_DATASETS:
            s.set("dataset", own)

    def _entry_rows(self, form: QFormLayout, entries: list[Any]) -> dict[QWidget, set[str]]:
        """Rows for each entry's name parts (named as they are) and options (by their
        choice); ``{widget: names of the entries it belongs to}``."""
        named = [(e, p, p.name) for e in entries for p in e.name_parts.params]
        # a Python file's Function: offered from the file's functions
        for e in entries:
            files = [p.name for p in e.name_parts.params if p.kind == "code"]
            for p in e.name_parts.params:
                if files and p.name.endswith("_function"):
                    self._functions[p.name] = files[0]
        options = [(e, p, choice_key(p)) for e in entries for p in e.options]
        return self._rows(form, named + options)

    def _rows(self, form: QFormLayout, items: list[tuple[Any, Any, str]]
              ) -> dict[QWidget, set[str]]:
        rows: dict[QWidget, set[str]] = {}
        made: dict[str, QWidget] = {}
        for entry, p, name in items:
            if name not in made:
                made[name] = (function_combo(self.state, name, self._functions[name])
                              if name in self._functions else param_widget(p, self.state, name))
                made[name].setToolTip(p.help or p.label)
                setattr(self, name, made[name])
                form.addRow(p.label or p.name, made[name])
            rows.setdefault(made[name], set()).add(entry.name)
        return rows

    def _update_visibility(self, _name: str = "") -> None:
        s = self.state
        src = s["source"]
        method = DIRECTION_METHODS.get(schema.window_method(s["method"])[0])
        from_run = method.run_param is not None
        special = src in schema.SPECIAL_SOURCES
        source = None if special else MODEL_SOURCES.named(src)
        for w, owners in self.model_rows.items():
            self.model_form.setRowVisible(w, src in owners)
        rows = {
            self.checkpoint: not special and not from_run,
            self.pretrained: bool(source and source.pretrained),
            self.output: not special,
            self.run_dir: src == "run" or from_run,
        }
        for w, visible in rows.items():
            self.model_form.setRowVisible(w, visible)
        # demo and run folders bring their own dataset; only the split and subsample apply
        own = not special and not from_run
        kind = DATA_SOURCES.named(s["dataset"])
        self.data_form.setRowVisible(self.dataset, own)
        for w, owners in self.data_rows.items():
            self.data_form.setRowVisible(w, own and kind.name in owners)
        for w, field in ((self.data_root, "root"), (self.download, "download"),
                         (self.transform, "transform")):
            self.data_form.setRowVisible(w, own and field in kind.uses)
        for w, owners in self.loss_rows.items():
            self.data_form.setRowVisible(w, s["loss"] in owners)


def _losses() -> list[Any]:
    from lossviz_core.registry import LOSSES

    return [e for e in LOSSES.all() if e.name in schema.window_losses()]
