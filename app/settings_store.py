"""Remember settings between launches (QSettings, INI format, per user).

Tests redirect the location with ``QSettings.setPath(IniFormat, UserScope, tmp)`` (or set
:data:`ORGANIZATION` to a test name) so they never touch the user's own settings.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings

from . import schema
from .state import ComputeState

ORGANIZATION = "LossViz"
APPLICATION = "LossViz"
DISPLAY_KEYS = ("colormap", "log_scale", "z_scale", "wireframe", "levels")


def open_settings() -> QSettings:
    """The application's settings file."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


def _typed(raw: Any, default: Any) -> Any:
    """QSettings' INI backend returns strings; coerce to the default's type."""
    if raw is None:
        return default
    try:
        if isinstance(default, bool):
            return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
        return type(default)(raw)
    except (TypeError, ValueError):
        return default


def load_state(state: ComputeState, settings: QSettings | None = None) -> bool:
    """Restore saved compute settings into ``state``; False when nothing was saved."""
    s = settings or open_settings()
    s.beginGroup("compute")
    keys = set(s.childKeys())
    defaults = schema.defaults()  # the plugins' settings too
    values = {k: _typed(s.value(k), defaults[k]) for k in defaults if k in keys}
    for old, new in schema.LEGACY_KEYS.items():  # a settings file of an earlier LossViz
        if old in keys and new not in keys and new in defaults:
            values[new] = _typed(s.value(old), defaults[new])
    s.endGroup()
    if not values:
        return False
    try:
        state.update(**values)
    except Exception:  # noqa: BLE001 - a corrupted settings file must not stop the launch
        return False
    return True


def save_state(state: ComputeState, settings: QSettings | None = None) -> None:
    s = settings or open_settings()
    s.beginGroup("compute")
    for k, v in state.snapshot().items():
        s.setValue(k, v)
    s.endGroup()
    s.sync()


def load_display(display: Any, settings: QSettings | None = None) -> None:
    """Restore the view settings (colormap, log, z-scale, wireframe, levels)."""
    s = settings or open_settings()
    s.beginGroup("display")
    for k in DISPLAY_KEYS:
        if k in s.childKeys():
            try:
                setattr(display, k, _typed(s.value(k), getattr(display, k)))
            except Exception:  # noqa: BLE001 - ignore a stale or malformed entry
                pass
    s.endGroup()


def save_display(display: Any, settings: QSettings | None = None) -> None:
    s = settings or open_settings()
    s.beginGroup("display")
    for k in DISPLAY_KEYS:
        s.setValue(k, getattr(display, k))
    s.endGroup()
    s.sync()


def last_path(kind: str, default: str = "") -> str:
    """The last folder or file the user picked for ``kind`` (e.g. 'result', 'checkpoint')."""
    return str(open_settings().value(f"paths/{kind}", default) or default)


def set_last_path(kind: str, path: str) -> None:
    s = open_settings()
    s.setValue(f"paths/{kind}", path)
    s.sync()


def is_trusted(path: str) -> bool:
    """Whether the user agreed to run code from ``path`` before."""
    return path in _trusted()


def trust(path: str) -> None:
    """Remember that the user agreed to run code from ``path``."""
    s = open_settings()
    s.setValue("trusted_code", sorted(_trusted() | {path}))
    s.sync()


def _trusted() -> set[str]:
    raw = open_settings().value("trusted_code", [])
    if isinstance(raw, str):
        raw = [raw]
    return {str(p) for p in (raw or [])}


def library_folder() -> str:
    """Where the results library keeps its files (settable; beside the settings by default
    in tests, the user's data folder otherwise)."""
    value = open_settings().value("library/folder", "")
    if value:
        return str(value)
    from .library import default_folder

    return str(default_folder())


def was_saved() -> bool:
    """True after the first launch has written its settings."""
    return "compute" in open_settings().childGroups()
