"""The view settings model (colour map, log scale, clip, z-scale, ...) shared by all views."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class DisplaySettings(QObject):
    """How a landscape is shown; every view observes ``changed``.

    ``clip_max`` caps the shown values (as the paper's ``vmax``); ``quantity`` is one of
    train_loss/train_acc/test_loss/test_acc or 'auto' (the result's main loss).
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._values: dict[str, object] = {
            "colormap": "viridis",
            "log_scale": False,
            "clip_max": None,
            "z_scale": 1.0,
            "wireframe": False,
            "levels": 20,
            "quantity": "auto",
        }

    def _set(self, name: str, value: object) -> None:
        if self._values[name] != value:
            self._values[name] = value
            self.changed.emit()

    def update(self, **values: object) -> None:
        """Set several settings at once, emitting ``changed`` a single time."""
        unknown = set(values) - set(self._values)
        if unknown:
            raise AttributeError(f"unknown display settings: {sorted(unknown)}")
        before = dict(self._values)
        self.blockSignals(True)
        try:
            for k, v in values.items():
                setattr(self, k, v)
        finally:
            self.blockSignals(False)
        if before != self._values:
            self.changed.emit()

    @property
    def colormap(self) -> str:
        return str(self._values["colormap"])

    @colormap.setter
    def colormap(self, name: str) -> None:
        self._set("colormap", str(name))

    @property
    def log_scale(self) -> bool:
        return bool(self._values["log_scale"])

    @log_scale.setter
    def log_scale(self, on: bool) -> None:
        self._set("log_scale", bool(on))

    @property
    def clip_max(self) -> float | None:
        v = self._values["clip_max"]
        return None if v is None else float(v)  # type: ignore[arg-type]

    @clip_max.setter
    def clip_max(self, value: float | None) -> None:
        self._set("clip_max", None if value is None else float(value))

    @property
    def z_scale(self) -> float:
        return float(self._values["z_scale"])  # type: ignore[arg-type]

    @z_scale.setter
    def z_scale(self, value: float) -> None:
        self._set("z_scale", max(float(value), 1e-3))

    @property
    def wireframe(self) -> bool:
        return bool(self._values["wireframe"])

    @wireframe.setter
    def wireframe(self, on: bool) -> None:
        self._set("wireframe", bool(on))

    @property
    def levels(self) -> int:
        return int(self._values["levels"])  # type: ignore[arg-type]

    @levels.setter
    def levels(self, n: int) -> None:
        self._set("levels", max(int(n), 1))

    @property
    def quantity(self) -> str:
        return str(self._values["quantity"])

    @quantity.setter
    def quantity(self, q: str) -> None:
        self._set("quantity", str(q))
