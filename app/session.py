"""The window's session, without Qt: what is shown, where a compute goes, whether the panels
still describe what is shown, and the zoom history (napari's ``ViewerModel``, glue's state).

The :class:`Session` owns the compute settings (``state``), the results library, the shown
result and its library entry, the file the user opened, the prepared job (a zoom reuses it),
the running :class:`~lossviz.computing.Computation` and its gates, the stale flag and the zoom
history. It decides (which file a compute writes or resumes, whether the library shows it
instead, whether the view is stale) and reports what happened through :class:`Event`\\ s the
window's widgets subscribe to. Work off the GUI thread goes through the task runner it is
given; questions to the user through ``ask``. Everything here runs on the GUI thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lossviz_core.errors import LossVizError

from .computing import Computation, Shown, Target, snapped


class Event:
    """Callables called in order with what happened (napari's EventEmitter, in small)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[..., Any]] = []

    def connect(self, listener: Callable[..., Any]) -> None:
        self._listeners.append(listener)

    def emit(self, *args: Any) -> None:
        for listener in list(self._listeners):
            listener(*args)


@dataclass
class SessionEvents:
    """What a session reports; each is an :class:`Event` (arguments in the comments)."""

    shown: Event = field(default_factory=Event)  # result | None, reveal: bool
    preparing: Event = field(default_factory=Event)  # () the model and data load
    prepared: Event = field(default_factory=Event)  # job: the model is loaded (its modules
    # can be listed without loading it again)
    progress: Event = field(default_factory=Event)  # done, total: the grid is known
    points: Event = field(default_factory=Event)  # chunk: new points in the shown result
    redraw: Event = field(default_factory=Event)  # () the shown result changed in place
    running: Event = field(default_factory=Event)  # bool: a compute started or ended
    status: Event = field(default_factory=Event)  # text, why ("" or the longer reason)
    stale: Event = field(default_factory=Event)  # bool
    note: Event = field(default_factory=Event)  # text: why the recipe is as it is
    recipe: Event = field(default_factory=Event)  # recipe | None: what the panels describe
    zoom: Event = field(default_factory=Event)  # depth of the zoom history
    workers: Event = field(default_factory=Event)  # text: the Ray line ("" clears it, None
    # clears a "connecting" line only)
    workers_changed: Event = field(default_factory=Event)  # Ray worker states
    watch: Event = field(default_factory=Event)  # path | None: a file another writes


@dataclass(frozen=True)
class Read:
    """A result file read for showing (in a worker): whether another process writes it,
    when it last changed (what 'computed' means for a file opened from elsewhere), and the
    panel values of its recipe (None: none, or none the panels can show)."""

    result: Any
    path: str
    writing: bool
    modified: str
    values: dict[str, Any] | None = None


def read_for_showing(path: str, missing_ok: bool = False,
                     panels_of: Callable[[Any], dict[str, Any]] | None = None) -> Read | None:
    """Read ``path`` (in a worker: every file the showing needs is read here); None when
    ``missing_ok`` and the file is gone."""
    from lossviz_core.results.paths import being_written
    from lossviz_core.results.store import read_result

    if missing_ok and not os.path.exists(path):
        return None
    result = read_result(path)
    modified = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(path)))
    values = None
    if result.recipe is not None and panels_of is not None:
        try:
            values = panels_of(result.recipe)
        except Exception:  # noqa: BLE001 - values the panels cannot show stay as they were
            values = None
    return Read(result, path, being_written(path), modified, values)


class Session:
    """See the module's docstring. ``resolve(snapshot) -> Recipe`` and ``panels_of(recipe)
    -> values`` translate between the panels and recipes; ``tasks`` runs work off the GUI
    thread (:class:`~lossviz.tasks.TaskRunner`); ``ask`` puts questions to the user
    (:class:`~lossviz.dialogs.Ask`)."""

    def __init__(self, state: Any, library: Any, tasks: Any, ask: Any,
                 resolve: Callable[[dict[str, Any]], Any],
                 panels_of: Callable[[Any], dict[str, Any]]) -> None:
        self.state, self.library, self.tasks, self.ask = state, library, tasks, ask
        self.resolve, self.panels_of = resolve, panels_of
        self.events = SessionEvents()
        self.result: Any = None  # the shown landscape
        self.entry: Any = None  # its library entry
        self.opened: tuple[str, Any] | None = None  # (path, recipe) of a file the user opened
        self.job: Any = None  # the prepared job (a zoom reuses its model and directions)
        self.computation: Computation | None = None
        self.zoom_history: list[tuple[Any, Any]] = []
        self.stale = False
        self.timings: dict[str, float] = {}
        self.compare_origin = "user"  # who filled the Compare tab: "user" or "study"
        self._showing = 0  # results being read to be shown
        self._pending: Callable[[], Any] | None = None
        self._stale_asked = 0
        self.closed = False  # the window closed: no new work starts

    def close(self) -> None:
        """Cancel what runs and start nothing more (late signals of stopped work included)."""
        self.closed = True
        self.cancel()

    # ---- status -------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A landscape is being computed, or read to be shown."""
        return self.computation is not None or self._showing > 0

    def say(self, text: str, why: str = "") -> None:
        self.events.status.emit(text, why)

    def show_workers(self, workers: Any) -> None:
        """Ray's worker states (queued here from the worker thread)."""
        self.events.workers_changed.emit(workers)

    def clear_connecting(self) -> None:
        """A worker ended before Ray answered: no "connecting" line left behind."""
        self.events.workers.emit(None)

    # ---- computing ----------------------------------------------------------------------
    def compute(self, reuse_job: bool = True) -> None:
        """Compute the landscape the panels describe, into its library entry.

        A recipe the library holds complete is shown at once; one it holds incomplete (or
        an opened incomplete file of that recipe) is resumed; anything else gets a new entry
        with its first point: nothing computed before is replaced."""
        if self.closed:
            return
        if self.computation is not None:  # restart once the running one has stopped
            self._pending = lambda: self.compute(reuse_job)
            self._stop()
            return
        self.events.watch.emit(None)
        self.set_stale(False)
        c = self.computation = Computation(self)
        self.timings = c.timings
        snap, executor = c.snapshot, None
        self.events.workers.emit("")
        if snap["executor"] != "local":
            from .cluster import executor_for

            relay = self.tasks.post(self.show_workers)  # from the worker thread to this one
            self.events.workers.emit("Ray: connecting …")
            executor = lambda: executor_for(snap, relay)  # noqa: E731 - runs in the worker
        c.start(self.job if reuse_job else None, executor)
        self.events.running.emit(True)
        self.say("Preparing (model, data, directions) …")

    def cancel(self) -> None:
        """Stop after the current chunk; the computed points stay on screen and in the file."""
        self._pending = None
        self._stop()

    def _stop(self) -> None:
        if self.computation is not None:
            self.computation.stop()
            self.say("Cancelling …")

    def then(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once the running compute has ended."""
        self._pending = fn

    def finished(self, computation: Computation) -> None:
        """A computation ended (its status said): the next one, or the stale check."""
        if self.computation is computation:
            self.computation = None
        self.clear_connecting()
        self.events.running.emit(False)
        pending, self._pending = self._pending, None
        if self.closed:
            return
        if pending is not None:
            pending()
        else:
            self.check_stale()

    def target(self, recipe: Any) -> Target:
        """Where a compute of ``recipe`` writes (see :meth:`compute`)."""
        opened = self.resume_target(recipe)
        if opened is not None:
            return Target(opened, True, self.library.by_path(opened))
        entry = self.library.find(recipe)
        if entry is not None and entry.complete:
            return Target(show=entry)
        if entry is not None:
            return Target(entry.path, True, entry)
        return Target(self.library.new_path(), False, None)

    def resume_target(self, recipe: Any) -> str | None:
        """The opened file to resume: incomplete, and the panels make its landscape (a field
        the panels do not show, changed, means a new surface, not this file)."""
        if self.opened is None or self.result is None or self.result.complete:
            return None
        path, stored = self.opened
        if stored is None or self.result.path != path:
            return None
        return path if stored.landscape_key() == recipe.landscape_key() else None

    def resolve_then(self, then: Callable[[Any], None], **task: Any) -> Any:
        """Resolve the panels' recipe off the GUI thread, ask about its code, then
        ``then(recipe)`` (the Curvature tab's way in); the task (``task``: its
        ``on_error``, ``on_finish``, ``parent``)."""
        snap, resolve = self.state.snapshot(), self.resolve

        def work() -> tuple[Any, list[str]]:
            from lossviz_core.resolve import user_code_files

            recipe = resolve(snap)
            return recipe, user_code_files(recipe)

        def done(pair: tuple[Any, list[str]]) -> None:
            if self.ask.may_run(pair[1]):
                then(pair[0])
            else:
                self.say("Not computed: the code was not trusted.")

        return self.tasks.call(work, done, **task)

    # ---- showing ------------------------------------------------------------------------
    def show(self, result: Any, reveal: bool = False) -> None:
        """Show ``result`` (None: nothing); ``reveal``: on its tab, whichever is in front."""
        self.result = result
        self.events.shown.emit(result, reveal)

    def restore(self, shown: Shown) -> None:
        """Put back what was shown (a compute that made no point)."""
        self.entry, self.opened = shown.entry, shown.opened
        self.show(shown.result)

    def open_file(self, path: str) -> Any:
        """Read a result file in the background and show it; the task."""
        return self._read(path, lambda read: self.show_read(read, None))

    def show_entry(self, entry_id: str, note: str | None = None, computing: bool = False,
                   remember: bool = True, reveal: bool = True) -> None:
        """Show a library entry (read in the background). Its file gone: the entry goes
        (and a compute that found it computes anew). ``remember``: as a file the user
        opened (Compute finishes it); ``reveal``: on its tab, whichever is in front."""
        entry = self.library.get(entry_id)
        if entry is None:
            return

        def shown(read: Read | None) -> None:
            if read is not None:
                self.show_read(read, note or entry.name, remember, reveal)
                return
            self.library.forget(entry.id)
            if computing:
                self.compute()
            else:
                self.ask.error(f"The file of “{entry.name}” is gone ({entry.path}): it is "
                               "no longer listed.")

        self._read(entry.path, shown, missing_ok=True)

    def _read(self, path: str, then: Callable[[Any], None], missing_ok: bool = False) -> Any:
        self._showing += 1

        def finish() -> None:
            self._showing -= 1

        panels_of = self.panels_of
        return self.tasks.call(lambda: read_for_showing(path, missing_ok, panels_of), then,
                               on_finish=finish)

    def show_read(self, read: Read, note: str | None = None, remember: bool = True,
                  reveal: bool = True) -> None:
        """Show a result read from a file and put its recipe into the panels."""
        result, path = read.result, read.path
        self.job = None  # an opened file has no loaded model to zoom with
        recipe = result.recipe
        self.opened = (path, recipe) if remember else None
        entry = self.library.by_path(path)
        if entry is None:
            entry = self.library.add_opened(path, result, created=read.modified)
        self.entry = entry
        if read.values is not None:
            try:
                self.state.update(**read.values)
            except Exception:  # noqa: BLE001 - values the panels cannot show stay as they were
                pass
        self.show(result, reveal)
        self.check_stale()
        done, total = int(result.done.sum()), int(result.done.size)
        if done < total and read.writing:
            self.say(f"Watching {path}: another LossViz is computing it")
            self.events.watch.emit(path)
            return
        tail = "" if done == total else f" ({done}/{total} points: Compute finishes it)"
        self.say(f"Shown {note}{tail}" if note else f"Opened {path}{tail}")

    def watched(self, path: str, result: Any, writing: bool) -> None:
        """A watched file was read again: draw the points it gained."""
        if self.result is not None and int(result.done.sum()) > int(self.result.done.sum()):
            self.result.values, self.result.done = result.values, result.done
            self.events.redraw.emit()
        done, total = int(result.done.sum()), int(result.done.size)
        if done == total or not writing:
            self.events.watch.emit(None)
            state = "complete" if done == total else f"stopped at {done}/{total} points"
            self.say(f"{path}: {state}")
        else:
            self.say(f"Watching {path}: {done}/{total} points")

    def delete_entry(self, entry_id: str) -> None:
        """Delete a library entry once the user confirms (never the one being computed)."""
        entry = self.library.get(entry_id)
        if entry is None:
            return
        if self.computation is not None and self.computation.entry is entry:
            self.ask.error(f"“{entry.name}” is being computed: Cancel it first.")
            return
        if self.ask.delete(entry.name, entry.path, entry.owned):
            self.library.delete(entry_id)

    # ---- the panels against what is shown --------------------------------------------------
    def check_stale(self) -> None:
        """Resolve the panels off the GUI thread; then mark the view stale while they
        describe another landscape than the one shown (the newest check counts)."""
        from lossviz_core.resolve import explain

        if self.closed:
            return
        self._stale_asked += 1
        asked, snap, resolve = self._stale_asked, self.state.snapshot(), self.resolve

        def wanted() -> Any:
            try:
                return resolve(snap)
            except LossVizError:
                return None  # the panels hold something that is not a recipe yet

        def answer(recipe: Any) -> None:
            if asked != self._stale_asked:
                return
            # why the recipe is as it is (states or weights for an interpolation)
            self.events.note.emit(" ".join(explain(recipe)) if recipe is not None else "")
            self.events.recipe.emit(recipe)
            self.set_stale(self.is_stale(recipe))

        self.tasks.call(wanted, answer, quiet=True)

    def is_stale(self, wanted: Any) -> bool:
        """Whether ``wanted`` (None: no recipe) is another landscape than the one shown."""
        if self.result is None or self.computation is not None:
            return False
        shown = self.entry.recipes() if self.entry is not None else []
        if not shown and self.result.recipe is not None:
            shown = [self.result.recipe]
        if wanted is None:
            return True
        key = wanted.landscape_key()
        return bool(shown) and all(r.landscape_key() != key for r in shown)

    def set_stale(self, stale: bool) -> None:
        self.stale = stale
        self.events.stale.emit(stale)

    # ---- zoom -----------------------------------------------------------------------------
    def zoom_to(self, xmin: float, xmax: float, ymin: float, ymax: float) -> None:
        """Recompute at full resolution inside the rectangle, its sides on grid points."""

        if self.state.is_line or not (xmax > xmin and ymax > ymin):
            return
        try:
            current = self.state.ranges()
        except LossVizError as exc:  # the range boxes hold an invalid range
            self.ask.error(str(exc))
            return
        self.zoom_history.append(current)
        x, y = current
        self.state.set_ranges(snapped(xmin, xmax, x), snapped(ymin, ymax, y))
        self.events.zoom.emit(len(self.zoom_history))
        self.compute()

    def zoom_back(self) -> None:
        if self.zoom_history:
            self.state.set_ranges(*self.zoom_history.pop())
            self.events.zoom.emit(len(self.zoom_history))
            self.compute()

    def zoom_reset(self) -> None:
        if self.zoom_history:
            self.state.set_ranges(*self.zoom_history[0])
            self.zoom_history.clear()
            self.events.zoom.emit(0)
            self.compute()
