"""The Session's decisions, without a window: where a compute goes, when the view is stale,
the zoom history (plain objects stand in for the panels, the library and the runner)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from lossviz.session import Session

from lossviz_core import demo
from lossviz_core.recipe.spec import ComputeSpec, GridSpec, Range


class Ranges:
    """The few things the session asks of the panels' state."""

    def __init__(self) -> None:
        self.x, self.y = Range(-1, 1, 7), Range(-1, 1, 5)
        self.is_line = False

    def ranges(self):
        return self.x, self.y

    def set_ranges(self, x, y):
        self.x, self.y = x, y


def entry(recipe, done, total, path):
    return SimpleNamespace(id=path, path=path, done=done, total=total, complete=done >= total,
                           created="then", recipes=lambda: [recipe])


class Library:
    def __init__(self, *entries) -> None:
        self.entries = list(entries)

    def find(self, recipe):
        key = recipe.landscape_key()
        found = [e for e in self.entries if any(r.landscape_key() == key for r in e.recipes())]
        return sorted(found, key=lambda e: e.complete)[-1] if found else None

    def by_path(self, path):
        return next((e for e in self.entries if e.path == path), None)

    def new_path(self):
        return "new.h5"


def session(library=None, state=None) -> Session:
    return Session(state or Ranges(), library or Library(), tasks=None, ask=None,
                   resolve=None, panels_of=None)


def test_where_a_compute_goes():
    r = demo.recipe("surface")
    other = r.replace(grid=GridSpec(Range(-1, 1, 9), Range(-1, 1, 9)))
    done = entry(r, 441, 441, "done.h5")
    half = entry(other, 20, 81, "half.h5")
    s = session(Library(done, half))
    assert s.target(r.replace(compute=ComputeSpec(device="cpu"))).show is done  # shown
    t = s.target(other)
    assert (t.out, t.resume, t.entry) == ("half.h5", True, half)  # resumed
    t = s.target(r.replace(directions=r.directions.replace(seed=4)))
    assert (t.out, t.resume, t.entry, t.show) == ("new.h5", False, None, None)  # a new file
    # an opened incomplete file of that landscape is finished, not a library entry
    s.opened = ("cut.h5", other)
    s.result = SimpleNamespace(complete=False, path="cut.h5")
    t = s.target(other.replace(compute=ComputeSpec(precision="fp32")))
    assert (t.out, t.resume) == ("cut.h5", True)


def test_the_view_is_stale_while_the_panels_say_another_landscape():
    r = demo.recipe("surface")
    s = session()
    assert not s.is_stale(r)  # nothing shown: nothing stale
    s.result = SimpleNamespace(recipe=r)
    assert not s.is_stale(r.replace(compute=ComputeSpec(device="cpu", precision="fp32")))
    assert s.is_stale(r.replace(directions=r.directions.replace(seed=1)))
    assert s.is_stale(None)  # the panels hold no recipe
    # an entry asked with fitted ranges holds the fitted ones: either is what is shown
    pca = demo.recipe("pca")
    asked = pca.replace(grid=GridSpec(Range(-1, 1, 9), Range(-1, 1, 7), fit=True))
    held = pca.replace(grid=GridSpec(Range(-7.8, 0.4, 9), Range(-1.2, 2, 7)))
    s.entry = SimpleNamespace(recipes=lambda: [held, asked])
    s.result = SimpleNamespace(recipe=held)
    assert not s.is_stale(asked.replace(grid=GridSpec(Range(-7.8, 0.4, 9), Range(-1.2, 2, 7),
                                                      fit=True)))
    assert not s.is_stale(held)
    assert s.is_stale(asked.replace(grid=GridSpec(Range(-1, 1, 11), Range(-1, 1, 7), fit=True)))


def test_zoom_in_back_and_reset_restore_the_ranges():
    state = Ranges()
    s = session(state=state)
    computed = []
    s.compute = lambda: computed.append((state.x, state.y))
    depths = []
    s.events.zoom.connect(depths.append)
    # the rectangles' sides move to the nearest grid points (steps 1/3 and 1/2, then 1/9
    # and 1/4): the zoomed grids line up with the ones they were drawn on
    parent = np.linspace(-1, 1, 7)
    s.zoom_to(-0.3, 0.36, 0.1, 0.9)
    first = (Range(parent[2], parent[4], 7), Range(0.0, 1.0, 5))
    assert (state.x, state.y) == first
    s.zoom_to(-0.2, 0.02, 0.3, 0.45)
    inner = np.linspace(parent[2], parent[4], 7)
    assert (state.x, state.y) == (Range(inner[1], 0.0, 7), Range(0.25, 0.5, 5))
    s.zoom_back()
    assert (state.x, state.y) == first
    s.zoom_reset()
    assert (state.x, state.y) == (Range(-1, 1, 7), Range(-1, 1, 5))
    assert depths == [1, 2, 1, 0] and len(computed) == 4
    s.zoom_to(0.5, 0.5, 0.0, 1.0)  # an empty rectangle: nothing
    assert len(computed) == 4 and s.zoom_history == []
