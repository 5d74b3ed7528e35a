"""The bundled demo: files present and loadable, accurate, consistent with demo.json."""

import numpy as np
import pytest
import torch

from lossviz_core import demo
from lossviz_core.data import load_dataset
from lossviz_core.errors import DataError, InputError
from lossviz_core.models import build_model
from lossviz_core.recipe.spec import DatasetSpec, DirectionSpec, GridSpec, ModelSpec
from lossviz_core.runs import read_run
from lossviz_core.sources.checkpoints import load_into, load_state_dict
from lossviz_core.train import TrainSpec, evaluate_split, iter_training


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DatasetSpec("digits"), "cpu")


def loaded(path):
    model = build_model(demo.DEMO_MODEL)
    load_into(model, path)
    return model


def test_demo_files_load_into_the_demo_model():
    run = read_run(demo.run_dir())
    assert run.model_name == demo.DEMO_MODEL == demo.describe()["model"]
    assert [e for e, _ in run.checkpoints] == list(range(run.train["epochs"] + 1))
    assert len(run.metrics) == run.train["epochs"]
    assert demo.final_checkpoint() == run.final_checkpoint
    for _, path in run.checkpoints:
        loaded(path)
    small, large = demo.pair()
    for path in (small, large, demo.init_checkpoint()):
        loaded(path)
    size = sum(f.stat().st_size for f in demo.demo_dir().rglob("*") if f.is_file())
    assert size < 3e6


def test_final_demo_model_is_accurate(digits):
    loss, acc = evaluate_split(loaded(demo.final_checkpoint()), digits.test)
    assert acc > 90.0
    assert acc == pytest.approx(demo.describe()["trajectory"]["final"]["test_acc"], abs=0.5)
    small, large = demo.pair()
    for path, key in ((small, "small_batch"), (large, "large_batch")):
        _, acc = evaluate_split(loaded(path), digits.test)
        assert acc > 90.0
        assert acc == pytest.approx(demo.describe()["pair"][key]["test_acc"], abs=0.5)


def test_large_batch_model_retrains_from_the_shared_init(tmp_path):
    """Retraining from init.pt with the recorded recipe reproduces large_batch.pt."""
    meta = demo.describe()["pair"]
    assert meta["small_batch"]["batch_size"] < 64 <= 1000 <= meta["large_batch"]["batch_size"]
    spec = TrainSpec(
        model=demo.DEMO_MODEL, init_checkpoint=str(demo.init_checkpoint()), device="cpu",
        precision="fp32", batch_size=meta["large_batch"]["batch_size"], save_every=1000,
        **{k: meta[k] for k in ("optimizer", "lr", "momentum", "weight_decay", "schedule",
                                 "epochs", "seed")},
    )
    for _ in iter_training(spec, tmp_path / "large"):
        pass
    ours = load_state_dict(read_run(tmp_path / "large").final_checkpoint)
    bundled = load_state_dict(demo.pair()[1])
    init = load_state_dict(demo.init_checkpoint())
    for k in ("conv1.weight", "conv2.weight", "linear.weight"):
        # Thread counts change float sums, and SGD amplifies that a little over 40 steps;
        # another initialization would be as far away as the training moved (~100 %).
        moved = float((bundled[k] - init[k]).norm())
        assert float((ours[k] - bundled[k]).norm()) < 0.05 * moved
    small = load_state_dict(demo.pair()[0])
    assert not torch.equal(small["conv1.weight"], init["conv1.weight"])  # really trained


def test_recipes_for_each_view():
    r = demo.recipe("surface")
    model, data, dirs, surf = r.model, r.dataset, r.directions, r.grid
    assert isinstance(model, ModelSpec) and isinstance(data, DatasetSpec)
    assert model.checkpoint == str(demo.final_checkpoint())
    assert (dirs.method, dirs.xnorm, surf.shape, r.loss.split) == ("random", "filter", (21, 21),
                                                                 "train")
    r = demo.recipe("line")
    model, dirs, surf = r.model, r.directions, r.grid
    small, large = demo.pair()
    assert (model.checkpoint, dirs.param("checkpoint")) == (str(small), str(large))
    assert isinstance(dirs, DirectionSpec) and dirs.method == "target" and surf.y is None
    assert r.loss.split == "both"
    x = surf.x.values()
    assert np.isclose(x, 0).any() and np.isclose(x, 1).any() and x[0] < 0 and x[-1] > 1.2
    assert isinstance(surf, GridSpec)
    with pytest.raises(InputError):
        demo.recipe("hessian")


def test_pca_ranges_contain_the_trajectory():
    from lossviz_core.directions.pca import pca_directions

    r = demo.recipe("pca")
    dirs, surf = r.directions, r.grid
    assert dirs.method == "pca" and dirs.param("run") == str(demo.run_dir())
    t = pca_directions(build_model(demo.DEMO_MODEL), dirs.param("run")).trajectory
    assert surf.x.min < t.x.min() and t.x.max() < surf.x.max
    assert surf.y.min < t.y.min() and t.y.max() < surf.y.max
    assert t.explained_variance[0] > 0.5  # a real, mostly one-dimensional path


def test_line_view_is_finite_and_ends_at_the_pair(digits):
    """The interpolation range stays where BN variances are positive: every point finite."""
    from lossviz_core.run.job import prepare

    job = prepare(demo.recipe("line"))
    gen = job.iter()
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            result = stop.value
            break
    assert all(np.isfinite(v).all() for v in result.values.values())
    x = result.x
    small, large = demo.pair()
    for alpha, path in ((0.0, small), (1.0, large)):
        i = int(np.argmin(abs(x - alpha)))
        loss, _ = evaluate_split(loaded(path), digits.train)
        assert result.values["train_loss"][i] == pytest.approx(loss, rel=1e-3)
    # Sharp vs flat: the loss rises faster just past the large-batch end than before the small.
    step = x[1] - x[0]
    tl = result.values["train_loss"]
    i0, i1 = int(np.argmin(abs(x))), int(np.argmin(abs(x - 1)))
    k = 3
    assert (tl[i1 + k] - tl[i1]) / (k * step) > 5 * abs(tl[i0] - tl[i0 - k]) / (k * step)


def test_missing_demo_folder_says_how_to_make_it(tmp_path, monkeypatch):
    import lossviz_resources

    monkeypatch.setattr(lossviz_resources, "DEMO", tmp_path / "nothing")
    with pytest.raises(DataError, match="make_demo_assets"):
        demo.demo_dir()
    with pytest.raises(DataError, match="make_demo_assets"):
        demo.recipe("surface")
