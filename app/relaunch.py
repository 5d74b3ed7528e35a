"""After a relaunch the window shows what it showed: the last result, the Compare set, the
open study and the tab in front (kept in the settings file when the window closes).

One concern of :class:`~lossviz.main_window.MainWindow`, which passes itself in (typed
loosely here: importing it would tie the two modules in a circle)."""

from __future__ import annotations

import json
import os
from typing import Any

from . import settings_store

GROUP = "session"


def save(window: Any) -> None:
    """Remember what ``window`` shows (its results by their files)."""
    session, compare, panel = window.session, window.compare, window.study_panel
    shown = session.entry.path if session.result is not None and session.entry else ""
    items = []
    if session.compare_origin == "user":  # a study's figure comes back with its study
        items = [{"path": str(r.path), "title": t} for r, t in zip(compare.results,
                                                                    compare.titles, strict=True)
                 if r is not None and r.path]
    study = {}
    if panel.study is not None and panel.path is not None:
        study = {"path": str(panel.path), "profile": panel.profile.currentData(),
                 "out": str(panel.out)}
    s = settings_store.open_settings()
    s.setValue(f"{GROUP}/shown", shown)
    s.setValue(f"{GROUP}/compare", json.dumps(items))
    s.setValue(f"{GROUP}/study", json.dumps(study))
    s.setValue(f"{GROUP}/tab", window.tabs.currentIndex())
    s.sync()


def restore(window: Any, shown: bool = True) -> None:
    """Open the last session's study and Compare set (read in the background) and, with
    ``shown``, its last result; the tab that was in front comes to the front again."""
    s = settings_store.open_settings()
    study = _json(s.value(f"{GROUP}/study"), {})
    if study.get("path") and os.path.exists(study["path"]):
        window.study_panel.open_study(study["path"], study.get("profile"), study.get("out"))
    items = [i for i in _json(s.value(f"{GROUP}/compare"), []) if i.get("path")]
    if items:
        _restore_compare(window, items)
    entry = window.library.by_path(str(s.value(f"{GROUP}/shown") or "")) if shown else None
    if entry is not None:
        window.session.show_entry(entry.id, remember=False, reveal=False)
    tab = s.value(f"{GROUP}/tab")
    if tab is not None and str(tab).isdigit() and int(tab) < window.tabs.count():
        window.tabs.setCurrentIndex(int(tab))


def _restore_compare(window: Any, items: list[dict[str, Any]]) -> None:
    """Read the Compare set in the background; after the study's status, whose figure
    would take its place."""

    def shown(pairs: list[tuple[Any, str]]) -> None:
        if pairs:
            window.session.compare_origin = "user"
            window.compare.set_results([r for r, _ in pairs], [t for _, t in pairs])

    def read() -> None:
        if not started:
            started.append(True)
            window.tasks.call(lambda: _read_all(items), shown, quiet=True)

    started: list[bool] = []
    panel = window.study_panel
    if panel.running:
        panel.finished.connect(read)
    else:
        read()


def _read_all(items: list[dict[str, Any]]) -> list[tuple[Any, str]]:
    """The Compare set's results (in a worker); files gone since are left out."""
    from lossviz_core.errors import LossVizError
    from lossviz_core.results.store import read_result

    pairs = []
    for item in items:
        try:
            pairs.append((read_result(item["path"]), str(item.get("title", ""))))
        except LossVizError:
            continue
    return pairs


def _json(raw: Any, default: Any) -> Any:
    try:
        value = json.loads(str(raw)) if raw else default
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default
