"""Remember settings between launches (QSettings, INI format, per user).

Tests redirect the location with ``QSettings.setPath(IniFormat, UserScope, tmp)`` (or set
:data:`ORGANIZATION` to a test name) so they never touch the user's own settings.
"""

from __future__ import annotations

import math
from pathlib import Path
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


QT_INT = 2**31 - 1  # a spin box holds a C int: a larger value stops the window from opening
_set_aside: list[str] = []


def _typed(raw: Any, default: Any) -> Any:
    """QSettings' INI backend returns strings; coerce to the default's type. A value that
    does not fit (not a number, out of a widget's range, an out-of-range seed) raises
    ValueError."""
    if raw is None:
        return default
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
    try:
        value = type(default)(raw)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{raw!r} is not {type(default).__name__}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{raw!r} is not a finite number")
    if isinstance(value, int) and not -QT_INT - 1 <= value <= QT_INT:
        raise ValueError(f"{raw!r} is out of range")
    return value


def load_state(state: ComputeState, settings: QSettings | None = None) -> bool:
    """Restore saved compute settings into ``state``; False when nothing was saved. Values
    that do not fit are set aside (the default stays) and said once (:func:`take_set_aside`)."""
    from lossviz_core.errors import InputError
    from lossviz_core.recipe.spec import check_seed

    s = settings or open_settings()
    s.beginGroup("compute")
    keys = set(s.childKeys())
    defaults = schema.defaults()  # the plugins' settings too
    names = {k: k for k in defaults if k in keys}
    for old, new in schema.LEGACY_KEYS.items():  # a settings file of an earlier LossViz
        if old in keys and new not in keys and new in defaults:
            names[new] = old
    values, bad = {}, []
    for k, stored in names.items():
        try:
            values[k] = _typed(s.value(stored), defaults[k])
            if k == "seed":
                check_seed("seed", values[k])
        except (ValueError, InputError):
            values.pop(k, None)
            bad.append(f"{stored} = {s.value(stored)!r}")
    s.endGroup()
    for k, v in values.items():
        try:
            state.update(**{k: v})
        except Exception:  # noqa: BLE001 - a corrupted settings file must not stop the launch
            bad.append(f"{k} = {v!r}")
    if bad:
        _set_aside.append(f"The saved settings {s.fileName()} held values LossViz cannot use; "
                          f"set aside: {', '.join(bad)}.")
    return bool(values)


def take_set_aside() -> list[str]:
    """What loading the settings set aside since the last call (one message each load)."""
    out = list(_set_aside)
    _set_aside.clear()
    return out


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
    return {str(p) for p in raw} if isinstance(raw, (list, tuple)) else set()


def library_folder() -> str:
    """Where the results library keeps its files (settable; beside the settings by default
    in tests, the user's data folder otherwise)."""
    value = open_settings().value("library/folder", "")
    if value:
        return str(value)
    from .library import default_folder

    return str(default_folder())


def results_folder(*parts: str) -> Path:
    """Where the window writes what the user makes besides landscapes (training runs under
    ``runs/``, a bundled study's outputs under ``studies/``): inside the user's results
    folder (the library's), never the current directory or the installed package."""
    return Path(library_folder()).joinpath(*parts)
