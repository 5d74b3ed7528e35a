"""A quantity nobody hard-coded flows through the store, `lossviz info` and `lossviz plot`."""

from __future__ import annotations

import numpy as np

from lossviz_core.cli import main
from lossviz_core.recipe.spec import GridSpec, Range
from lossviz_core.results.quantities import Quantity, ordered, quantity, register_quantity
from lossviz_core.results.store import SurfaceStore, read_result
from lossviz_core.run.grid import make_result


def test_an_extra_quantity_is_stored_read_listed_and_plotted(tmp_path, capsys):
    register_quantity(Quantity("train_sharpness", "train sharpness", unit="a.u.",
                               colormap="plasma", kind="curvature", order=50))
    grid = GridSpec(Range(-1, 1, 4), Range(0, 1, 3))
    r = make_result(grid, quantities=("train_loss", "train_sharpness", "mystery_metric"))
    X, Y = np.meshgrid(grid.x.values(), grid.y.values())
    out = tmp_path / "q.h5"
    store = SurfaceStore.open(out, r)
    idx = np.arange(12)
    values = {"train_loss": (X**2 + Y**2).ravel(), "train_sharpness": (X - Y).ravel(),
              "mystery_metric": np.full(12, 7.0)}
    r.apply_chunk(idx, values)
    store.write_chunk(idx, values)
    back = read_result(out)
    assert back.quantities == ("train_loss", "train_sharpness", "mystery_metric")
    np.testing.assert_allclose(back.values["train_sharpness"], X - Y)
    np.testing.assert_allclose(back.values["mystery_metric"], 7.0)
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "train_sharpness (train sharpness): -2 .. 1 a.u." in text
    assert "mystery_metric (mystery metric): 7 .. 7" in text
    assert main(["plot", str(out), "--quantity", "train_sharpness", "--out",
                 str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert quantity("unheard_of").label == "unheard of"
    assert ordered(["test_acc", "zeta", "train_loss"]) == ("train_loss", "test_acc", "zeta")
