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

import dataclasses
import json
import os
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtGui import QImage

from lossviz_core.atomic import atomic_path
from lossviz_core.errors import LossVizError
from lossviz_core.recipe.spec import Recipe
from lossviz_core.results.store import read_result

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
        self.entries: list[Entry] = []
        # what was set aside while opening the library, as one message (empty: nothing)
        self.set_aside = ""
        self.folder, note = usable_folder(Path(folder) if folder is not None
                                          else default_folder())
        self._load(note)

    # ---- the index ----------------------------------------------------------------------
    def _load(self, note: str = "") -> None:
        """Read ``index.json``, keeping every good entry; a damaged index is set aside (as
        ``index.json.bad-TIME``) and rebuilt from the folder's result files."""
        index = self.folder / INDEX
        problems = []
        raw: Any = {"entries": []}
        try:
            raw = json.loads(index.read_text())
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raw = None
            problems.append(f"its index {index} could not be read ({_reason(exc)})")
        listed = raw.get("entries") if isinstance(raw, dict) else None
        if raw is not None and not isinstance(listed, list):
            problems.append(f"its index {index} is not a list of entries")
        entries = [_entry(item) for item in (listed if isinstance(listed, list) else [])]
        dropped = sum(e is None for e in entries)
        if dropped:
            problems.append(f"{dropped} malformed entr{'y was' if dropped == 1 else 'ies were'} "
                            "set aside")
        # a file deleted behind our back is no longer an entry
        self.entries = [e for e in entries if e is not None and Path(e.path).exists()]
        kept = len(self.entries)
        found = self._recover()
        if found and not problems:
            problems.append("its index did not list every result")
        if problems:
            old = _keep_bad(index) if raw is None or dropped or listed is None else None
            problems.append(f"kept {kept} entries" + (f", found {found} results again in the "
                                                      "folder" if found else "")
                            + (f" (the old index is saved as {old.name})" if old else ""))
        notes = [note] if note else []
        if problems:
            notes.append(f"the results library {self.folder}: " + "; ".join(problems))
        if notes:
            self.set_aside = "; ".join(notes)
            self.set_aside = self.set_aside[0].upper() + self.set_aside[1:] + "."
            self.save()

    def _recover(self) -> int:
        """Entries for the folder's result files no entry lists (an index lost or damaged)."""
        listed = {str(Path(e.path).resolve()) for e in self.entries}
        found = 0
        for path in sorted(self.folder.glob("*.h5")):
            if path.name.startswith(".") or str(path.resolve()) in listed:
                continue
            try:
                result = read_result(path)
            except LossVizError:
                continue
            recipe = result.recipe
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
            entry = Entry(path.stem, f"{path.stem} (found again)", str(path),
                          None if recipe is None else recipe.to_dict(), stamp,
                          requested=None if recipe is None else recipe.to_dict())
            self.update(entry, result, save=False)
            self.entries.append(entry)
            found += 1
        return found

    def save(self) -> None:
        """Write ``index.json``; a folder that refuses it loses no entry of this session."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.folder / INDEX, "results index") as tmp:
                tmp.write_text(json.dumps({"entries": [asdict(e) for e in self.entries]},
                                          indent=1))
        except (OSError, LossVizError):
            pass  # usable_folder checked it at start; the entries stay listed in the window
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


def usable_folder(folder: Path) -> tuple[Path, str]:
    """``folder`` if the library can keep its files there, else the default folder, else a
    temporary one; and what was wrong (empty when nothing)."""
    problem = _unusable(folder)
    if problem is None:
        return folder, ""
    for fallback in (default_folder(), None):
        if fallback is None:
            fallback = Path(tempfile.mkdtemp(prefix="lossviz-results-"))
            where = f"{fallback} for this session (not kept after you quit)"
        elif fallback == folder or _unusable(fallback) is not None:
            continue
        else:
            where = str(fallback)
        return fallback, (f"the results library's folder {folder} cannot hold results "
                          f"({problem}); they are kept in {where}")
    raise AssertionError("unreachable")


def _unusable(folder: Path) -> str | None:
    """Why the library cannot write into ``folder`` (None: it can)."""
    try:
        if folder.exists() and not folder.is_dir():
            return "it is a file"
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".lossviz-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return _reason(exc)
    return None


_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "name": (str,), "path": (str,), "created": (str,), "owned": (bool,),
    "done": (int,), "total": (int,), "recipe": (dict, type(None)),
    "requested": (dict, type(None)), "points_per_second": (int, float, type(None)),
    "thumbnail": (str, type(None)), "extra": (dict,),
}


def _entry(item: Any) -> Entry | None:
    """An index entry as an Entry; None when it is malformed. Fields a later LossViz wrote
    are kept in ``extra``, not a reason to lose the entry."""
    if not isinstance(item, dict):
        return None
    fields = {f.name for f in dataclasses.fields(Entry)}
    known = {k: v for k, v in item.items() if k in fields}
    if any(k not in known for k in ("id", "name", "path", "created")):
        return None
    for key, value in known.items():
        if not isinstance(value, _TYPES[key]) or (isinstance(value, bool) and
                                                  bool not in _TYPES[key]):
            return None
    extra = {**known.pop("extra", {}), **{k: v for k, v in item.items() if k not in fields}}
    return Entry(**known, extra=extra)


def _keep_bad(index: Path) -> Path | None:
    """Keep a damaged index beside the new one (``index.json.bad-TIME``)."""
    if not index.is_file():
        return None
    kept = index.with_name(f"{index.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(index, kept)
    except OSError:
        return None
    return kept


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0] or type(exc).__name__


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
