"""The registries: every model source, data kind, loss, direction method, measure and
quantity LossViz knows, each entry describing itself.

One :class:`Registry` per kind of entry, defined here at the bottom of the engine so that
any layer can look an entry up by name without importing the module that defines it. The
entries arrive the way third-party ones do, as plugins: the built-in ones are listed in one
explicit table (:mod:`lossviz_core.builtins`), other packages add theirs through the
``lossviz.plugins`` entry-point group (as xarray's backends and pytest's plugins do). Both
are loaded on the first lookup, so the registry never imports an entry's module by name in
its own code and the layers below stay free of circles.

An entry point names a module (registering on import) or a function called with no
arguments; either uses the ``register`` methods below (``MODEL_SOURCES.register(...)``) or
the packages' own ``register_*`` helpers.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from lossviz_core.errors import InputError

PLUGIN_GROUP = "lossviz.plugins"
BUILTINS = "lossviz_core.builtins"

E = TypeVar("E")

_lock = threading.RLock()
_loaded = False
_plugin_errors: list[str] = []


class Registry(Generic[E]):
    """Entries of one kind, by name. ``matching``: entries also claim names by pattern
    (``entry.matches(name)``, e.g. ``torchvision:NAME``); later registrations are tried
    first, so a plugin may refine a built-in prefix."""

    def __init__(self, kind: str, matching: bool = False) -> None:
        self.kind = kind
        self.matching = matching
        self._entries: dict[str, E] = {}

    def register(self, entry: E) -> E:
        """Add (or replace) ``entry`` under ``entry.name``; returns it (usable as a decorator
        result)."""
        with _lock:
            self._entries.pop(entry.name, None)  # type: ignore[attr-defined]
            self._entries[entry.name] = entry  # type: ignore[attr-defined]
        return entry

    def unregister(self, name: str) -> None:
        with _lock:
            self._entries.pop(name, None)

    def all(self) -> list[E]:
        """Every entry, built-in ones first, in registration order."""
        load_plugins()
        return list(self._entries.values())

    def __iter__(self) -> Iterator[E]:
        return iter(self.all())

    def names(self) -> list[str]:
        return [e.name for e in self.all()]  # type: ignore[attr-defined]

    def get(self, name: str) -> E:
        """The entry called ``name`` (or, for a matching registry, claiming it); a one-line
        :class:`InputError` listing the choices otherwise."""
        found = self.find(name)
        if found is None:
            raise InputError(f"unknown {self.kind} {name!r}; choose one of {self.listing()}")
        return found

    def named(self, name: str) -> E:
        """The entry whose own name is ``name`` (not a name it claims by pattern)."""
        load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            raise InputError(f"no {self.kind} kind {name!r}; choose one of "
                             f"{', '.join(self._entries)}") from None

    def find(self, name: str) -> E | None:
        load_plugins()
        entry = self._entries.get(name)
        if entry is not None or not self.matching:
            return entry
        for e in reversed(list(self._entries.values())):
            matches = getattr(e, "matches", None)
            if matches is not None and matches(name):
                return e
        return None

    def listing(self) -> str:
        """The choices as a user types them (an entry's ``example`` where it has one)."""
        return ", ".join(getattr(e, "example", None) or e.name  # type: ignore[attr-defined]
                         for e in self.all())


def load_plugins() -> None:
    """Load the built-in table and the ``lossviz.plugins`` entry points, once per process.
    A plugin that fails to load is reported by :func:`plugin_errors`, never fatal."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        _loaded = True  # entries register while loading: lookups inside must not recurse
        importlib.import_module(BUILTINS)
        for ep in _entry_points():
            try:
                obj = ep.load()
                if callable(obj) and not isinstance(obj, type(sys)):
                    obj()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop LossViz
                _plugin_errors.append(f"plugin {ep.name} ({ep.value}): "
                                      f"{type(exc).__name__}: {exc}")


def _entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    try:
        return list(entry_points(group=PLUGIN_GROUP))
    except Exception:  # noqa: BLE001 - broken metadata of another package
        return []


def plugin_errors() -> list[str]:
    """One line per plugin that failed to load (``lossviz info`` shows them)."""
    load_plugins()
    return list(_plugin_errors)


# The registries. Entry classes live with their kind (ModelSource in sources/registry.py,
# DataSource in data/registry.py, Loss in losses/, DirectionMethod in directions/base.py,
# MeasureKind in measures/base.py, Quantity in results/quantities.py).
MODEL_SOURCES: Registry[Any] = Registry("model", matching=True)
DATA_SOURCES: Registry[Any] = Registry("dataset", matching=True)
LOSSES: Registry[Any] = Registry("loss", matching=True)
DIRECTION_METHODS: Registry[Any] = Registry("direction method")
MEASURES: Registry[Any] = Registry("measure")
