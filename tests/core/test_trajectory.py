"""PCA directions from a run folder, checked against independent PCA and constructed planes."""

import h5py
import numpy as np
import pytest
import torch
from fakes import TinyNet
from sklearn.decomposition import PCA
from torch import nn

from lossviz_core.directions import load_directions, make_directions, save_directions, weights_of
from lossviz_core.directions.pca import flatten, pca_directions, project, unflatten
from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import DirectionSpec
from lossviz_core.runs import RunInfo, checkpoint_name, write_run
from lossviz_core.sources.checkpoints import save_checkpoint


def make_run(tmp_path, vectors: list[np.ndarray], like: nn.Module, epochs=None):
    """A run folder whose checkpoint e holds the flat parameter vector ``vectors[e]``."""
    epochs = list(range(len(vectors))) if epochs is None else epochs
    ckpts = []
    for e, v in zip(epochs, vectors, strict=True):
        net = TinyNet()
        net.load_state_dict(like.state_dict())
        with torch.no_grad():
            for p, t in zip(net.parameters(), unflatten(v, weights_of(net)), strict=True):
                p.copy_(t)
        path = tmp_path / checkpoint_name(e)
        save_checkpoint(net, path, epoch=e)
        ckpts.append((e, path))
    write_run(RunInfo(tmp_path, {"name": "tiny"}, {"name": "digits"}, {}, ckpts))
    return tmp_path


def base() -> tuple[TinyNet, np.ndarray]:
    torch.manual_seed(0)
    net = TinyNet()
    return net, flatten(weights_of(net))


def test_pca_matches_independent_sklearn_and_svd(tmp_path):
    net, theta = base()
    rng = np.random.default_rng(1)
    # an anisotropic random walk, so PC1 and PC2 are well separated
    steps = rng.standard_normal((6, theta.size)) * np.linspace(1.0, 0.2, theta.size)
    vectors = list((theta + np.cumsum(steps * 0.01, axis=0)).astype(np.float32))
    run = make_run(tmp_path, vectors, net)

    before = flatten(weights_of(net))
    dirs = pca_directions(net, run, "weights", ignore="none")
    # the plane is centred on the final checkpoint, which comes back as the centre; the model
    # passed in is left as it was (direction math never writes θ)
    names = [n for n, _ in net.named_parameters()]
    assert np.array_equal(flatten([dirs.center[n] for n in names]), vectors[-1].astype(np.float64))
    assert np.array_equal(flatten(weights_of(net)), before)
    rows = np.stack([v.astype(np.float64) - vectors[-1] for v in vectors])
    ref = PCA(n_components=2).fit(rows)
    _, s, vt = np.linalg.svd(rows - rows.mean(axis=0), full_matrices=False)
    d1, d2 = flatten(dirs.x), flatten(dirs.y)
    for ours, theirs, svd in ((d1, ref.components_[0], vt[0]), (d2, ref.components_[1], vt[1])):
        sign = np.sign(ours @ theirs)
        np.testing.assert_allclose(sign * ours, theirs, atol=1e-6)
        np.testing.assert_allclose(abs(ours @ svd), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        dirs.info["explained_variance"], ref.explained_variance_ratio_, rtol=1e-6
    )
    np.testing.assert_allclose(
        dirs.info["explained_variance"], s[:2] ** 2 / (s**2).sum(), rtol=1e-6
    )
    assert abs(dirs.info["pc_angle"]) < 1e-6
    assert dirs.info["cosine"] == pytest.approx(dirs.info["pc_angle"], abs=1e-6)

    t = dirs.trajectory
    assert list(t.epochs) == list(range(6)) and np.isnan(t.loss).all()
    np.testing.assert_allclose(t.x, rows @ d1, atol=1e-9)  # project_1D: dot(Δ, d)/‖d‖, ‖d‖ = 1
    np.testing.assert_allclose(t.y, rows @ d2, atol=1e-9)
    resid = rows - np.outer(rows @ d1, d1) - np.outer(rows @ d2, d2)
    np.testing.assert_allclose(t.off_plane, np.linalg.norm(resid, axis=1), atol=1e-9)
    assert t.off_plane[-1] == 0.0 and t.off_plane[:-1].max() > 1e-3  # 6 points in > 2 dims

    # ignore=biasbn: bias and BN rows are zero, and so are d1, d2 there
    dirs_b = pca_directions(TinyNet(), run, "weights", ignore="biasbn")
    for t1, w in zip(dirs_b.x, weights_of(net), strict=True):
        assert (t1.abs().sum() == 0) == (w.dim() <= 1)


def test_trajectory_in_a_known_plane(tmp_path):
    net, theta = base()
    rng = np.random.default_rng(2)
    u, v = rng.standard_normal(theta.size), rng.standard_normal(theta.size)
    v = 0.6 * u + v  # not orthogonal: the cosine and least-squares coordinates differ
    a, b = np.array([3.0, 2.0, 1.5, 0.7, 0.2, 0.0]), np.array([-1.0, 0.5, 1.0, 0.3, 0.1, 0.0])
    deltas = np.outer(a, u) + np.outer(b, v)
    x, y, xl, yl, off = project(deltas, u, v)
    np.testing.assert_allclose(xl, a, atol=1e-10)
    np.testing.assert_allclose(yl, b, atol=1e-10)
    np.testing.assert_allclose(off, 0.0, atol=1e-9)
    np.testing.assert_allclose(x, deltas @ u / np.linalg.norm(u), rtol=1e-12)
    assert abs(x[0] - a[0]) > 1.0  # the cosine projection is not the plane coordinate here

    # a point lifted off the plane by c·w, w ⟂ u, v: distance c‖w‖, same coordinates
    w = rng.standard_normal(theta.size)
    q, _ = np.linalg.qr(np.stack([u, v], axis=1))
    w -= q @ (q.T @ w)
    _, _, xl2, yl2, off2 = project(deltas[:1] + 0.25 * w, u, v)
    assert off2[0] == pytest.approx(0.25 * np.linalg.norm(w), rel=1e-9)
    assert (xl2[0], yl2[0]) == (pytest.approx(a[0]), pytest.approx(b[0]))

    # through a run folder: float32 checkpoints of θ + Δ, so tolerances are float32's
    scale = 1e-3
    vectors = [(theta + scale * dl).astype(np.float32) for dl in deltas]
    run = make_run(tmp_path, vectors, net, epochs=[0, 2, 4, 6, 8, 10])
    dirs = pca_directions(net, run, "weights", ignore="none")
    t = dirs.trajectory
    assert list(t.epochs) == [0, 2, 4, 6, 8, 10]
    assert sum(dirs.info["explained_variance"]) == pytest.approx(1.0, abs=1e-6)
    rows = np.stack([vec.astype(np.float64) - vectors[-1] for vec in vectors])
    assert t.off_plane.max() < 1e-5 * np.linalg.norm(rows, axis=1).max()
    d1, d2 = flatten(dirs.x), flatten(dirs.y)
    np.testing.assert_allclose(np.outer(t.x_lstsq, d1) + np.outer(t.y_lstsq, d2), rows, atol=1e-7)
    np.testing.assert_allclose(t.x_lstsq, t.x, atol=1e-9)  # orthonormal PCs: both agree
    # the constructed (a, b) are recovered in the u, v basis from the PCA plane coordinates
    pu, pv = scale * u, scale * v
    ab = np.linalg.lstsq(
        np.stack([pu, pv], 1), np.outer(t.x, d1).T + np.outer(t.y, d2).T, rcond=None
    )[0]
    np.testing.assert_allclose(ab[0], a - a[-1], atol=1e-3)
    np.testing.assert_allclose(ab[1], b - b[-1], atol=1e-3)


def test_pca_errors_and_one_d(tmp_path):
    net, theta = base()
    run = make_run(tmp_path / "short", [theta, theta + 0.1], net)
    with pytest.raises(InputError, match="at least 3"):
        pca_directions(net, run)
    rng = np.random.default_rng(3)
    vectors = [theta + 0.01 * rng.standard_normal(theta.size) for _ in range(4)]
    run = make_run(tmp_path / "ok", vectors, net)
    with pytest.raises(InputError, match="does not fit model TinyNet"):
        pca_directions(TinyNet(classes=5), run)
    with pytest.raises(InputError, match="run folder"):
        pca_directions(net, tmp_path / "nowhere")
    with pytest.raises(InputError, match="run folder"):
        make_directions(net, DirectionSpec(method="pca"), True)
    one = make_directions(net, DirectionSpec(method="pca", params={"run": str(run)}), False)
    assert one.y is None and one.trajectory is not None and "cosine" not in one.info


def test_pca_states_and_file_round_trip(tmp_path):
    net, theta = base()
    rng = np.random.default_rng(4)
    vectors = [theta + 0.01 * rng.standard_normal(theta.size) for _ in range(4)]
    run = make_run(tmp_path / "run", vectors, net)
    dirs = make_directions(
        net, DirectionSpec(method="pca", dir_type="states", params={"run": str(run)}), True
    )
    nbt = dirs.names.index("bn.num_batches_tracked")
    assert dirs.x[nbt].dtype == torch.int64 and int(dirs.x[nbt]) == 0
    path = tmp_path / "pca.h5"
    save_directions(path, dirs)
    with h5py.File(path, "r") as f:  # where the reference's PCA file keeps the ratios
        np.testing.assert_allclose(
            f["explained_variance_ratio_"][()], dirs.info["explained_variance"]
        )
    back = load_directions(path, net, "states")
    assert all(torch.equal(p, q) for p, q in zip(dirs.x + dirs.y, back.x + back.y, strict=True))
    np.testing.assert_array_equal(back.trajectory.off_plane, dirs.trajectory.off_plane)
    np.testing.assert_array_equal(back.trajectory.x_lstsq, dirs.trajectory.x_lstsq)
    assert back.info["explained_variance"] == dirs.info["explained_variance"]
