"""Model source (demo, zoo, torchvision, timm, Python file, archive, run folder) and dataset."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..state import DATASETS, SOURCES, ComputeState
from .binding import PathEdit, bind, combo, int_spin

CHECKPOINT_FILTER = "Checkpoints (*.pt *.pth *.t7 *.ckpt *.safetensors *.bin);;All files (*)"
PYTHON_FILTER = "Python files (*.py);;All files (*)"
ARCHIVE_FILTER = "Archives (*.pt *.pt2 *.pth *.jit *.ts *.zip);;All files (*)"
TV_DATASETS = ("MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "SVHN")
TRANSFORMS = {"auto": "auto (the dataset's usual)", "cifar": "CIFAR normalization",
              "imagenet": "ImageNet (resize 256, crop 224)", "none": "none (tensor in [0, 1])"}
LOSSES = {"ce": "cross-entropy", "nll": "NLL (log-probabilities)",
          "mse": "MSE (softmax vs one-hot)", "bce": "binary cross-entropy"}


def _model_names() -> list[str]:
    from lossviz_core.models import list_models

    return [m.name for m in list_models()]


# A first list without importing torchvision (1.2 s, and it loads torch._dynamo): the whole
# list of torchvision.models.list_models() is read when the list is first opened.
COMMON_TV_MODELS = ("resnet18", "resnet34", "resnet50", "wide_resnet50_2", "vgg16_bn",
                    "densenet121", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny",
                    "vit_b_16", "swin_t")


def _torchvision_models() -> list[str]:
    try:
        from lossviz_core.sources.tvmodels import classification_models

        return classification_models()
    except Exception:  # noqa: BLE001 - an old torchvision: the user types the name
        return list(COMMON_TV_MODELS)


class LazyCombo(QComboBox):
    """An editable combo box that fills its full list the first time it is opened."""

    def __init__(self, first: list[str], full) -> None:  # noqa: ANN001 (a callable)
        super().__init__()
        self.setEditable(True)
        self.addItems(first)
        self._full = full

    def showPopup(self) -> None:  # noqa: N802 (Qt naming)
        if self._full is not None:
            text, full, self._full = self.currentText(), self._full(), None
            blocker = QSignalBlocker(self)
            self.clear()
            self.addItems(full)
            self.setCurrentText(text)
            del blocker
        super().showPopup()


def _editable(items, state: ComputeState, name: str, full=None) -> QComboBox:  # noqa: ANN001
    """An editable combo box bound to a free-text value (a list to pick from, or type)."""
    box = LazyCombo(list(items), full)
    box.setCurrentText(str(state[name]))
    box.currentTextChanged.connect(lambda text: state.set(name, text))
    state.changed.connect(lambda key: key == name and box.currentText() != state[name]
                          and box.setCurrentText(str(state[name])))
    return box


def _line(state: ComputeState, name: str, placeholder: str, tip: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    edit.setToolTip(tip)
    return bind(edit, state, name)


class SourcePanel(QWidget):
    """What to look at: the model and its weights, and the data the loss is measured on.

    ``downloadRequested`` asks the window to download the chosen dataset into its folder.
    """

    downloadRequested = Signal()

    def __init__(self, state: ComputeState) -> None:
        super().__init__()
        self.state = state
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)

        model_box = QGroupBox("Model")
        self.model_form = form = QFormLayout(model_box)
        self.source = bind(combo(SOURCES), state, "source")
        self.source.setToolTip("Where the network comes from: the bundled demo, the zoo, "
                               "torchvision or timm, your own Python function, a TorchScript "
                               "or torch.export archive, or a training run folder")
        self.model = bind(combo(_model_names()), state, "model")
        self.model.setToolTip("An architecture of the zoo (CIFAR ResNets with and without skip "
                              "connections, VGG-9, digits networks): `lossviz models` lists them")
        self.tv_model = _editable(COMMON_TV_MODELS, state, "tv_model", _torchvision_models)
        self.tv_model.setToolTip("Any classification model of torchvision.models (type a name or "
                                 "open the list)")
        self.timm_model = _line(state, "timm_model", "e.g. resnet18", "a timm model name "
                                "(needs the timm package)")
        self.model_file = bind(PathEdit("file", PYTHON_FILTER, "model.py"), state, "model_file")
        self.model_file.setToolTip("Your Python file; LossViz asks before running its code")
        self.model_function = _line(state, "model_function", "function name",
                                    "FUNCTION() or FUNCTION(num_classes=N) returns an nn.Module")
        self.archive = bind(PathEdit("file", ARCHIVE_FILTER, "torch.jit.save / torch.export "
                                     "archive"), state, "archive")
        self.archive.setToolTip("A torch.jit.save or torch.export.save archive: it carries its "
                                "architecture and weights")
        self.checkpoint = bind(PathEdit("file", CHECKPOINT_FILTER,
                                        "model.pt / .t7 / .safetensors"), state, "checkpoint")
        self.checkpoint.setToolTip("θ, the trained weights the landscape is centred on "
                                   "(DataParallel and torch.compile prefixes are understood)")
        self.pretrained = bind(QCheckBox("torchvision / timm pretrained weights"), state,
                               "pretrained")
        self.pretrained.setToolTip("Start from the library's trained weights (downloaded into "
                                   "torch's cache the first time)")
        self.output = _line(state, "output", "index or key (optional)",
                            "For a forward that returns a tuple or dict: which entry holds "
                            "the logits")
        self.run_dir = bind(PathEdit("dir", placeholder="folder with run.json"), state, "run_dir")
        self.run_dir.setToolTip("A training run: its final checkpoint is θ; the PCA plane "
                                "goes through its saved epochs")
        for label, w in (("Source", self.source), ("Model", self.model),
                         ("torchvision", self.tv_model), ("timm", self.timm_model),
                         ("Python file", self.model_file), ("Function", self.model_function),
                         ("Archive", self.archive), ("Checkpoint", self.checkpoint),
                         ("", self.pretrained), ("Output", self.output),
                         ("Run folder", self.run_dir)):
            form.addRow(label, w)
        lay.addWidget(model_box)

        data_box = QGroupBox("Dataset")
        self.data_form = dform = QFormLayout(data_box)
        self.dataset = bind(combo(DATASETS), state, "dataset")
        self.dataset.setToolTip("The data the loss L is measured on")
        self.tv_dataset = _editable(TV_DATASETS, state, "tv_dataset")
        self.tv_dataset.setToolTip("A torchvision dataset (MNIST, CIFAR10, ...); its train and "
                                   "test splits as torchvision names them")
        self.data_root = bind(PathEdit("dir", placeholder="dataset folder"), state, "data_root")
        self.data_root.setToolTip("Where the dataset's files are (or go, with Download)")
        self.download = QPushButton("Download")
        self.download.setToolTip("Download the dataset into the data folder (needs internet)")
        self.download.clicked.connect(self.downloadRequested)
        self.image_folder = bind(PathEdit("dir", placeholder="DIR with class subfolders "
                                          "(or DIR/train, DIR/val)"), state, "image_folder")
        self.image_folder.setToolTip("One subfolder per class (ImageNet's validation set laid out "
                                     "so works); DIR/train and DIR/val are the two splits")
        self.tensors_file = bind(PathEdit("file", "Arrays (*.npz);;All files (*)", "x, y arrays"),
                                 state, "tensors_file")
        self.tensors_file.setToolTip("numpy.savez(file, x=..., y=..., [x_test=..., y_test=...]), "
                                     "used as given")
        self.data_file = bind(PathEdit("file", PYTHON_FILTER, "data.py"), state, "data_file")
        self.data_file.setToolTip("Your Python file; LossViz asks before running its code")
        self.data_function = _line(state, "data_function", "function name",
                                   "FUNCTION(split) returns a Dataset, an (x, y) pair or None")
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
        self.loss = bind(combo(LOSSES), state, "loss")
        self.loss.setToolTip("The loss L: cross-entropy for classifiers (the paper's), or "
                             "another; f(α, β) is its mean over the split")
        for label, w in (("Dataset", self.dataset), ("torchvision", self.tv_dataset),
                         ("Data folder", self.data_root), ("", self.download),
                         ("Folder", self.image_folder), ("File", self.tensors_file),
                         ("Python file", self.data_file), ("Function", self.data_function),
                         ("Transform", self.transform), ("Subsample", self.subsample),
                         ("Split", self.split), ("Loss", self.loss)):
            dform.addRow(label, w)
        self.data_box = data_box
        lay.addWidget(data_box)

        state.changed.connect(self._update_visibility)
        self._update_visibility()

    def _update_visibility(self, _name: str = "") -> None:
        s = self.state
        src, method = s["source"], s["method"]
        rows = {
            self.model: src == "zoo",
            self.tv_model: src == "torchvision",
            self.timm_model: src == "timm",
            self.model_file: src == "pyfile",
            self.model_function: src == "pyfile",
            self.archive: src == "archive",
            self.checkpoint: src not in ("demo", "run") and method != "pca",
            self.pretrained: src in ("torchvision", "timm"),
            self.output: src not in ("demo", "run"),
            self.run_dir: src == "run" or method == "pca",
        }
        for w, visible in rows.items():
            self.model_form.setRowVisible(w, visible)
        # demo and run folders bring their own dataset; only the split and subsample apply
        own = src not in ("demo", "run") and method != "pca"
        kind = s["dataset"]
        drows = {
            self.dataset: own,
            self.tv_dataset: own and kind == "torchvision",
            self.data_root: own and kind in ("cifar10", "torchvision"),
            self.download: own and kind in ("cifar10", "torchvision"),
            self.image_folder: own and kind == "imagefolder",
            self.tensors_file: own and kind == "tensors",
            self.data_file: own and kind == "pyfile",
            self.data_function: own and kind == "pyfile",
            self.transform: own and kind in ("torchvision", "imagefolder"),
        }
        for w, visible in drows.items():
            self.data_form.setRowVisible(w, visible)
