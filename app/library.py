"""The results library: every landscape the window computes is kept, on disk, with its recipe.

Each computed surface or line lives in ``FOLDER/<id>.h5``, written chunk by chunk through the
engine's resumable store (the same as ``lossviz surface --out``), so a crash or a closed
window loses at most a chunk; ``index.json`` lists the entries (name, recipe, progress,
speed, thumbnail). A compute whose recipe the library holds complete is shown at once (a
zoom back is instant), one it holds incomplete is resumed (Compute after Cancel), and a new
one never replaces another: results are only removed by the user. A new computation's entry
appears with its first point (a compute that fails or is cancelled before leaves the list as
it was). Files opened from elsewhere are listed too (recent files), never copied or deleted.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtGui import QImage

from lossviz_core.atomic import atomic_path
from lossviz_core.recipe.spec import Recipe

INDEX = "index.json"
THUMB = (96, 72)
MAX_RECENT = 12


@dataclass
class Entry:
    """One result of the library. ``owned``: the library made the file (and may delete it)."""

    id: str
    name: str
    path: str
    recipe: dict[str, Any] | None
    created: str
    owned: bool = True
    done: int = 0
    total: int = 0
    points_per_second: float | None = None
    thumbnail: str | None = None
    requested: dict[str, Any] | None = None  # the recipe as asked (e.g. ranges "fit")
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done >= self.total

    def recipe_obj(self) -> Recipe | None:
        return _recipe(self.recipe)

    def recipes(self) -> list[Recipe]:
        """The recipe it holds, and the one it was asked for if that differs."""
        return [r for r in (_recipe(self.recipe), _recipe(self.requested)) if r is not None]


def _recipe(d: dict[str, Any] | None) -> Recipe | None:
    try:
        return Recipe.from_dict(d) if d else None
    except Exception:  # noqa: BLE001 - an entry from an older LossViz: shown, not matched
        return None


def default_folder() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".local" / "share" / "LossViz") / "results"


class ResultsLibrary(QObject):
    """The entries of a library folder; ``changed`` after every edit."""

    changed = Signal()

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.folder = Path(folder) if folder is not None else default_folder()
        self.entries: list[Entry] = []
        self._load()

    # ---- the index ----------------------------------------------------------------------
    def _load(self) -> None:
        try:
            raw = json.loads((self.folder / INDEX).read_text())
            self.entries = [Entry(**e) for e in raw.get("entries", [])]
        except (OSError, ValueError, TypeError):
            self.entries = []
        # a file deleted behind our back is no longer an entry
        self.entries = [e for e in self.entries if Path(e.path).exists()]

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.folder / INDEX, "results index") as tmp:
            tmp.write_text(json.dumps({"entries": [asdict(e) for e in self.entries]}, indent=1))
        self.changed.emit()

    # ---- finding and making entries -----------------------------------------------------
    def find(self, recipe: Recipe) -> Entry | None:
        """The newest entry holding ``recipe``'s landscape (complete ones first)."""
        key = recipe.landscape_key()
        matches = [e for e in self.entries if any(r.landscape_key() == key for r in e.recipes())]
        matches.sort(key=lambda e: (e.complete, e.created), reverse=True)
        return matches[0] if matches else None

    def get(self, entry_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def by_path(self, path: str) -> Entry | None:
        path = str(Path(path).resolve())
        return next((e for e in self.entries if str(Path(e.path).resolve()) == path), None)

    def new_path(self) -> str:
        """A file name for a new computation (its entry comes with its first point)."""
        return str(self.folder / f"{uuid.uuid4().hex[:10]}.h5")

    def new(self, recipe: Recipe, name: str, path: str | None = None,
            held: Recipe | None = None) -> Entry:
        """The entry of a new computation of ``recipe`` (asked for) into ``path`` (default: a
        new name); ``held``: the recipe the file holds, if the job made it concrete."""
        path = path or self.new_path()
        held = held or recipe
        entry = Entry(Path(path).stem, name, path, held.to_dict(), _now(),
                      total=held.grid.size, requested=recipe.to_dict())
        self.entries.append(entry)
        self.save()
        return entry

    def add_opened(self, path: str, result: Any, created: str | None = None) -> Entry:
        """A file opened from elsewhere: listed (recent files), never owned. ``created``:
        when its points were computed (the file's time), not when it was opened."""
        entry = self.by_path(path)
        if entry is None:
            recipe = result.recipe
            entry = Entry(uuid.uuid4().hex[:10], Path(path).name, str(Path(path).resolve()),
                          None if recipe is None else recipe.to_dict(), created or _now(),
                          owned=False)
            self.entries.append(entry)
            opened = [e for e in self.entries if not e.owned]
            for old in opened[:-MAX_RECENT]:
                self.entries.remove(old)
        self.update(entry, result, save=False)
        self.save()
        return entry

    def update(self, entry: Entry, result: Any, points_per_second: float | None = None,
               save: bool = True) -> None:
        """Progress and thumbnail of ``entry`` from its (partly computed) result."""
        entry.done, entry.total = int(result.done.sum()), int(result.done.size)
        if points_per_second:
            entry.points_per_second = float(points_per_second)
        thumb = self.folder / f"{entry.id}.png"
        try:
            if thumbnail(result).save(str(thumb)):
                entry.thumbnail = str(thumb)
        except Exception:  # noqa: BLE001 - a thumbnail is cosmetic
            pass
        if save:
            self.save()

    def prepared(self, entry: Entry, recipe: Recipe) -> None:
        """The job made the recipe concrete (fitted ranges): the entry holds that one."""
        if entry.recipe != recipe.to_dict():
            entry.recipe = recipe.to_dict()
            self.save()

    def rename(self, entry_id: str, name: str) -> None:
        entry = self.get(entry_id)
        if entry is not None and name.strip() and name != entry.name:
            entry.name = name.strip()
            self.save()

    def forget(self, entry_id: str) -> None:
        """An entry whose file is gone leaves the list (it can no longer be shown)."""
        entry = self.get(entry_id)
        if entry is not None:
            self.entries.remove(entry)
            self.save()

    def delete(self, entry_id: str) -> None:
        """Remove an entry; the library's own file (and thumbnail) go with it."""
        entry = self.get(entry_id)
        if entry is None:
            return
        self.entries.remove(entry)
        if entry.owned:
            for p in (entry.path, entry.thumbnail):
                if p:
                    Path(p).unlink(missing_ok=True)
        self.save()

    def rate_for(self, recipe: Recipe) -> float | None:
        """Points per second measured before for this model, data and loss (for estimates)."""
        for e in reversed(self.entries):
            r = e.recipe_obj()
            if (r is not None and e.points_per_second and r.model == recipe.model
                    and r.dataset == recipe.dataset and r.loss == recipe.loss
                    and r.measures == recipe.measures):
                return e.points_per_second
        return None


def thumbnail(result: Any, size: tuple[int, int] = THUMB) -> QImage:
    """A small picture of the main quantity (viridis), grey where nothing is computed."""
    import pyqtgraph as pg

    z = np.asarray(result.values[result.main_quantity()], dtype=float)
    if z.ndim == 1:
        z = np.repeat(z[None, :], 8, axis=0)
    finite = np.isfinite(z)
    rgba = np.full(z.shape + (4,), 200, dtype=np.uint8)
    rgba[..., 3] = 255
    if finite.any():
        lo, hi = np.percentile(z[finite], [0, 95])
        t = np.clip((z - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
        colors = pg.colormap.get("viridis").map(t[finite], mode="byte")
        rgba[finite] = colors
    rgba = np.ascontiguousarray(rgba[::-1])  # row 0 of the grid at the bottom
    h, w = rgba.shape[:2]
    image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
    return image.scaled(size[0], size[1])


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")
