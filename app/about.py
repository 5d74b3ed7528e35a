"""Help → About: what LossViz is, and the versions and device a bug report needs."""

from __future__ import annotations

import html
import platform

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

DESCRIPTION = (
    "LossViz shows the loss landscape of a trained neural network, "
    "f(α, β) = L(θ + α·d₁ + β·d₂), along filter-normalized random directions, "
    "the PCA plane of a training trajectory, or the line between two solutions, "
    "after Li, Xu, Taylor, Studer and Goldstein, “Visualizing the Loss Landscape "
    "of Neural Nets”, NeurIPS 2018 (arXiv:1712.09913)."
)
PAPER_URL = "https://arxiv.org/abs/1712.09913"


def default_device_text() -> str:
    """The device LossViz computes on when left on 'auto', e.g. 'cuda: NVIDIA H100 80GB HBM3'."""
    from lossviz_core.device import device_description, pick_device

    dev = pick_device("auto")
    return f"{dev.type}: {device_description(dev)}"


def versions() -> list[tuple[str, str]]:
    """(component, version) rows: LossViz, Python, torch (+ CUDA), PySide6/Qt, pyqtgraph, numpy."""
    import numpy
    import pyqtgraph
    import PySide6
    import torch
    from lossviz import __version__
    from PySide6.QtCore import qVersion

    cuda = torch.version.cuda
    torch_text = torch.__version__ + (f" (CUDA {cuda})" if cuda else " (CPU build)")
    return [
        ("LossViz", __version__),
        ("Python", platform.python_version()),
        ("torch", torch_text),
        ("PySide6", PySide6.__version__),
        ("Qt", qVersion()),
        ("pyqtgraph", pyqtgraph.__version__),
        ("numpy", numpy.__version__),
        ("Platform", platform.platform(terse=True)),
    ]


def about_text(device_text: str | None = None) -> str:
    """Plain-text About contents (what 'Copy' puts on the clipboard for a bug report)."""
    device = device_text or default_device_text()
    rows = versions() + [("Compute device", device)]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join(["LossViz", "", DESCRIPTION, "", *lines])


class AboutDialog(QDialog):
    """The About box: icon, description with the paper reference, versions, compute device."""

    def __init__(self, parent: QWidget | None = None, device_text: str | None = None) -> None:
        super().__init__(parent)
        from lossviz.icon import app_icon

        self.setWindowTitle("About LossViz")
        self.device_text = device_text or default_device_text()
        rows = versions() + [("Compute device", self.device_text)]

        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)

        table = "".join(
            f"<tr><td><b>{html.escape(n)}</b></td><td>&nbsp;&nbsp;{html.escape(v)}</td></tr>"
            for n, v in rows
        )
        self.text_label = QLabel(
            f"<h2>LossViz {html.escape(rows[0][1])}</h2>"
            f"<p>{html.escape(DESCRIPTION)} <a href='{PAPER_URL}'>{PAPER_URL}</a></p>"
            f"<table style='margin-top:8px'>{table}</table>"
        )
        self.text_label.setWordWrap(True)
        self.text_label.setOpenExternalLinks(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.text_label.setMinimumWidth(460)

        top = QHBoxLayout()
        top.addWidget(icon)
        top.addWidget(self.text_label, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy to clipboard")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)

    def copy_to_clipboard(self) -> None:
        """Put the plain-text versions on the clipboard, ready to paste into a bug report."""
        QGuiApplication.clipboard().setText(about_text(self.device_text))
