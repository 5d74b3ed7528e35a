"""The export dialogs: *Export image* (view, size, background) and *Publication figure*.

Both remember what the user chose, across uses and launches (QSettings, groups
``export_image`` and ``figure``). The figure dialog starts from what the screen shows
(:func:`lossviz.export.screen_options`): every option left *as on screen* follows the view's
quantity, scale, colour map, colour range and isolines; the others change it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from lossviz_core.errors import InputError
from lossviz_core.results.quantities import quantity as registered_quantity

from . import settings_store
from .panels.binding import guard_wheel

if TYPE_CHECKING:  # matplotlib loads when a figure is drawn, not when the window starts
    from lossviz_core.export import FigureOptions

SCREEN = "as on screen"


def remembered(group: str) -> dict[str, Any]:
    """What a dialog saved under ``group`` (strings, as QSettings' INI file keeps them)."""
    s = settings_store.open_settings()
    s.beginGroup(group)
    values = {k: s.value(k) for k in s.childKeys()}
    s.endGroup()
    return values


def remember(group: str, values: dict[str, Any]) -> None:
    s = settings_store.open_settings()
    s.beginGroup(group)
    for k, v in values.items():
        s.setValue(k, v)
    s.endGroup()
    s.sync()


def _buttons(dialog: QDialog, form: QFormLayout) -> None:
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)
    guard_wheel(dialog)  # the wheel over an unfocused field changes nothing


def _select(combo: QComboBox, data: Any) -> None:
    """Select the entry holding ``data`` (the text for an editable combo), if any."""
    if data is None:
        return
    index = combo.findData(data)
    if index >= 0:
        combo.setCurrentIndex(index)
    elif combo.isEditable() and data:
        combo.setCurrentText(str(data))


class ExportDialog(QDialog):
    """Which view to export, at what pixel size, with or without a transparent background
    (size and background remembered)."""

    GROUP = "export_image"

    def __init__(self, parent: QWidget | None, views: list[str], current: str,
                 size: tuple[int, int]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export image")
        form = QFormLayout(self)
        self.view = QComboBox()
        self.view.addItems(views)
        if current in views:
            self.view.setCurrentText(current)
        kept = remembered(self.GROUP)
        self.width_px = QSpinBox()
        self.width_px.setRange(16, 16384)
        self.width_px.setValue(settings_store._typed(kept.get("width"), int(size[0])))
        self.height_px = QSpinBox()
        self.height_px.setRange(16, 16384)
        self.height_px.setValue(settings_store._typed(kept.get("height"), int(size[1])))
        self.transparent = QCheckBox("Transparent background (PNG)")
        self.transparent.setChecked(settings_store._typed(kept.get("transparent"), False))
        form.addRow("View", self.view)
        form.addRow("Width (px)", self.width_px)
        form.addRow("Height (px)", self.height_px)
        form.addRow(self.transparent)
        _buttons(self, form)

    def accept(self) -> None:
        remember(self.GROUP, {"width": self.width_px.value(), "height": self.height_px.value(),
                              "transparent": self.transparent.isChecked()})
        super().accept()


class FigureDialog(QDialog):
    """Options of a figure drawn by matplotlib from the data (what papers need): kind,
    quantity, size and DPI, isolines, value range, colour map, scale, title. ``screen``:
    the options that draw what the screen shows, which *as on screen* stands for."""

    GROUP = "figure"
    KINDS = ("contour", "filled", "heatmap", "surface")
    COLORMAPS = ("auto", "viridis", "plasma", "inferno", "magma", "cividis", "coolwarm",
                 "RdBu_r", "terrain", "gray")
    SCALES = ((SCREEN, None), ("linear", False), ("log10", True))

    def __init__(self, parent: QWidget | None, quantities: tuple[str, ...] = (),
                 is_line: bool = False, screen: FigureOptions | None = None) -> None:
        super().__init__(parent)
        if screen is None:
            from lossviz_core.export import FigureOptions  # matplotlib: only when asked for

            screen = FigureOptions()
        self.screen = screen
        self.setWindowTitle("Figure")
        form = QFormLayout(self)
        self.kind = QComboBox()
        self.kind.addItem(SCREEN, None)
        for k in ("line",) if is_line else self.KINDS:
            self.kind.addItem(k, k)
        self.quantity = QComboBox()
        self.quantity.addItem(SCREEN, SCREEN)
        self.quantity.addItem("main loss", None)
        for q in quantities:
            self.quantity.addItem(registered_quantity(q).label, q)
        self.width_in = QDoubleSpinBox()
        self.width_in.setRange(1.0, 40.0)
        self.height_in = QDoubleSpinBox()
        self.height_in.setRange(1.0, 40.0)
        self.dpi = QSpinBox()
        self.dpi.setRange(50, 1200)
        self.levels = QSpinBox()
        self.levels.setRange(1, 200)
        self.levels.setSpecialValueText(SCREEN)  # 1: the screen's isolines
        self.vmin, self.vmax, self.title = QLineEdit(), QLineEdit(), QLineEdit()
        self.vmin.setPlaceholderText(self._limit_text(self.screen.vmin))
        self.vmax.setPlaceholderText(self._limit_text(self.screen.vmax) + " (the paper clips "
                                     "the loss, e.g. 10)")
        self.title.setPlaceholderText("what distinguishes it (model, directions, ranges)")
        self.colormap = QComboBox()
        self.colormap.addItem(SCREEN, SCREEN)
        for name in self.COLORMAPS:
            self.colormap.addItem(name, name)
        self.colormap.setEditable(True)
        self.scale = QComboBox()
        for label, value in self.SCALES:
            self.scale.addItem(label, value)
        self.trajectory = QCheckBox("the training trajectory (PCA plane)")
        for label, w in (("Kind", self.kind), ("Quantity", self.quantity),
                         ("Width (in)", self.width_in), ("Height (in)", self.height_in),
                         ("DPI (PNG)", self.dpi), ("Isolines", self.levels),
                         ("Minimum", self.vmin), ("Maximum", self.vmax),
                         ("Colour map", self.colormap), ("Scale", self.scale),
                         ("", self.trajectory), ("Title", self.title)):
            form.addRow(label, w)
        _buttons(self, form)
        self._restore(remembered(self.GROUP))

    # --- the options ---------------------------------------------------------------------
    def options(self) -> FigureOptions:
        """The FigureOptions the dialog holds (a bad number is a one-line InputError)."""
        s = self.screen
        q = self.quantity.currentData()
        log = self.scale.currentData()
        same = q == SCREEN and log is None  # the screen's range is in its quantity and scale
        kind = self.kind.currentData() or s.kind
        isolines = s.isolines and kind == "heatmap"
        cmap = self.colormap.currentText().strip()
        cmap = s.colormap if cmap == SCREEN else None if cmap in ("", "auto") else cmap
        n = self.levels.value()  # over a heatmap: n isolines inside the range, as the window
        levels = s.levels if n == 1 else n + 2 if isolines else n
        return s.replace(
            kind=kind, quantity=s.quantity if q == SCREEN else q,
            width=self.width_in.value(), height=self.height_in.value(),
            dpi=float(self.dpi.value()),
            levels=levels,
            vmin=self._number(self.vmin, "minimum", s.vmin if same else None),
            vmax=self._number(self.vmax, "maximum", s.vmax if same else None),
            colormap=cmap, log=s.log if log is None else log,
            isolines=isolines, trajectory=self.trajectory.isChecked(),
            title=self.title.text().strip() or None)

    def accept(self) -> None:
        remember(self.GROUP, {
            "kind": self.kind.currentData() or "", "quantity": self.quantity.currentData() or "",
            "width": self.width_in.value(), "height": self.height_in.value(),
            "dpi": self.dpi.value(), "levels": self.levels.value(), "vmin": self.vmin.text(),
            "vmax": self.vmax.text(), "colormap": self.colormap.currentText(),
            "scale": self.scale.currentText(), "trajectory": self.trajectory.isChecked()})
        super().accept()

    # --- internals -----------------------------------------------------------------------
    def _restore(self, kept: dict[str, Any]) -> None:
        typed = settings_store._typed
        _select(self.kind, kept.get("kind") or None)
        q = kept.get("quantity", SCREEN)
        if q == "":  # the main loss
            self.quantity.setCurrentIndex(1)
        else:
            _select(self.quantity, q)
        self.width_in.setValue(typed(kept.get("width"), 6.0))
        self.height_in.setValue(typed(kept.get("height"), 4.5))
        self.dpi.setValue(typed(kept.get("dpi"), 300))
        self.levels.setValue(typed(kept.get("levels"), 1))
        self.vmin.setText(str(kept.get("vmin") or ""))
        self.vmax.setText(str(kept.get("vmax") or ""))
        _select(self.colormap, kept.get("colormap") or SCREEN)
        self.scale.setCurrentIndex(max(0, self.scale.findText(str(kept.get("scale", SCREEN)))))
        self.trajectory.setChecked(typed(kept.get("trajectory"), True))

    @staticmethod
    def _limit_text(value: float | None) -> str:
        return SCREEN if value is None else f"{SCREEN}: {value:.4g}"

    @staticmethod
    def _number(edit: QLineEdit, what: str, default: float | None) -> float | None:
        text = edit.text().strip()
        if not text:
            return default
        try:
            return float(text)
        except ValueError:
            raise InputError(f"the {what} must be a number, got {text!r}") from None
