"""Grid order, orientation, the surface file and resuming, with a closed-form evaluator."""

import h5py
import numpy as np
import pytest

from lossviz_core.errors import StoreError
from lossviz_core.progress import drain
from lossviz_core.recipe.spec import GridSpec, Range, Recipe
from lossviz_core.results.store import SurfaceStore, read_result, save_result
from lossviz_core.run.grid import (
    bisection_depth,
    fill_missing,
    iter_surface,
    make_result,
    point_order,
)


def bowl(a, b):
    """A tilted bowl: distinct along α and β, so a transposed grid is caught."""
    return (a - 0.3) ** 2 + 3 * (b + 0.2) ** 2 + 0.5 * a * b


class ClosedForm:
    chunk_size = 5

    def __init__(self):
        self.calls = 0

    def evaluate(self, coords):
        self.calls += len(coords)
        a = coords[:, 0]
        b = coords[:, 1] if coords.shape[1] > 1 else np.zeros_like(a)
        loss = bowl(a, b)
        return {"train_loss": loss, "train_acc": 100 - loss}


def test_plan_order_visits_every_point_once_coarse_first():
    order = point_order((5, 9))
    assert sorted(order) == list(range(45))
    # The first four points are the corners: the whole range is visible at once.
    assert set(order[:4]) == {0, 8, 36, 44}
    np.testing.assert_array_equal(bisection_depth(9), [0, 3, 2, 3, 1, 3, 2, 3, 0])


def test_non_square_surface_matches_closed_form_in_memory_and_on_disk(tmp_path):
    spec = GridSpec(x=Range(-1, 1, 7), y=Range(-0.5, 1.0, 4))
    result = make_result(spec, specs={"recipe": Recipe(grid=spec).to_dict()})
    out = tmp_path / "s.h5"
    store = SurfaceStore.open(out, result)
    chunks = list(iter_surface(ClosedForm(), result, store))
    assert chunks[-1].done == chunks[-1].total == 28
    X, Y = np.meshgrid(spec.x.values(), spec.y.values())
    assert result.values["train_loss"].shape == (4, 7)
    np.testing.assert_allclose(result.values["train_loss"], bowl(X, Y))
    back = read_result(out)
    np.testing.assert_allclose(back.values["train_loss"], bowl(X, Y))
    np.testing.assert_allclose(back.x, spec.x.values())
    np.testing.assert_allclose(back.y, spec.y.values())
    assert back.done.all() and back.recipe.grid.x.num == 7
    with h5py.File(out) as f:  # the reference's dataset names at the top level
        assert {"xcoordinates", "ycoordinates", "train_loss", "train_acc"} <= set(f)


def test_line_matches_closed_form():
    spec = GridSpec(x=Range(-1, 2, 13), y=None)
    result = drain(iter_surface(ClosedForm(), make_result(spec)))
    assert result.shape == (13,)
    np.testing.assert_allclose(result.values["train_loss"], bowl(spec.x.values(), 0.0))


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    spec = GridSpec(x=Range(-1, 1, 9), y=Range(-1, 1, 6))
    full = drain(iter_surface(ClosedForm(), make_result(spec)))

    out = tmp_path / "r.h5"
    first = make_result(spec)
    gen = iter_surface(ClosedForm(), first, SurfaceStore.open(out, first))
    for _ in range(3):
        next(gen)
    gen.close()  # cancel: stop iterating
    partial = read_result(out)
    n_done = int(partial.done.sum())
    assert 0 < n_done < 54
    assert np.isnan(partial.values["train_loss"][~partial.done]).all()

    again = make_result(spec)
    ev = ClosedForm()
    resumed = drain(iter_surface(ev, again, SurfaceStore.open(out, again, resume=True)))
    assert ev.calls == 54 - n_done  # only the missing points were computed
    np.testing.assert_array_equal(resumed.values["train_loss"], full.values["train_loss"])
    np.testing.assert_array_equal(read_result(out).values["train_loss"], full.values["train_loss"])


def test_existing_file_is_not_overwritten_and_resume_checks_grid(tmp_path):
    spec = GridSpec(x=Range(-1, 1, 5), y=Range(-1, 1, 5))
    out = tmp_path / "s.h5"
    SurfaceStore.open(out, make_result(spec))
    with pytest.raises(StoreError, match="already exists"):
        SurfaceStore.open(out, make_result(spec))
    other = GridSpec(x=Range(-2, 2, 5), y=Range(-1, 1, 5))
    with pytest.raises(StoreError, match="different grid"):
        SurfaceStore.open(out, make_result(other), resume=True)


def test_reads_reference_layout_non_square(tmp_path):
    # The reference declares (nx, ny) arrays but fills them in meshgrid(x, y) flat order,
    # with -1 for points not computed yet.
    x, y = np.linspace(-1, 1, 5), np.linspace(0, 1, 3)
    X, Y = np.meshgrid(x, y)
    flat = bowl(X, Y).ravel()
    flat[7] = -1
    path = tmp_path / "ref.h5"
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = x
        f["ycoordinates"] = y
        f["train_loss"] = flat.reshape(len(x), len(y))
        f["train_acc"] = (100 - flat).reshape(len(x), len(y))
    r = read_result(path)
    expect = bowl(X, Y)
    expect.ravel()[7] = np.nan
    np.testing.assert_allclose(r.values["train_loss"], expect)
    assert r.done.sum() == 14 and not r.done.ravel()[7]


def test_corrupted_file_gives_store_error(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(StoreError, match="cannot open"):
        read_result(bad)
    with pytest.raises(StoreError, match="no such file"):
        read_result(tmp_path / "missing.h5")


def test_save_result_round_trip_and_fill_missing(tmp_path):
    spec = GridSpec(x=Range(0, 1, 3), y=Range(0, 1, 2))
    r = make_result(spec)
    r.apply_chunk(np.array([0, 5]), {"train_loss": np.array([1.0, 2.0])})
    save_result(r, tmp_path / "p.h5")
    back = read_result(tmp_path / "p.h5")
    assert back.done.sum() == 2
    filled = fill_missing(back.values["train_loss"])
    np.testing.assert_allclose(filled, [[1, 1, 2], [1, 2, 2]])  # no complete corners: nearest


def test_fill_missing_interpolates_a_coarse_preview_of_a_plane():
    # After the coarse levels of a plane f = 2x + 3y, the preview is the plane itself.
    y, x = np.mgrid[0:5, 0:9].astype(float)
    plane = 2 * x + 3 * y
    order = point_order(plane.shape)
    partial = np.full(plane.shape, np.nan)
    partial.ravel()[order[:9]] = plane.ravel()[order[:9]]  # corners, centre lines' ends
    np.testing.assert_allclose(fill_missing(partial), plane, atol=1e-9)
    line = np.array([0.0, np.nan, np.nan, 3.0, np.inf])
    np.testing.assert_allclose(fill_missing(line), [0, 1, 2, 3, 3])
    # A computed point that diverged (NaN, done) is not painted over; pending ones are.
    done = np.array([True, False, True, True, True])
    np.testing.assert_allclose(fill_missing(line, done), [0, 1, np.nan, 3, np.inf])
