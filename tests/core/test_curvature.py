"""Curvature against ground truth: closed forms (linear regression, a deep linear saddle) and the
full Hessian of a tiny MLP from ``torch.autograd.functional.hessian``.

Tolerances: fp64 work is exact to rounding (1e-8 and tighter). An eigensolver with tolerance
``tol`` returns Ritz values whose residual is at most ``tol``·|θ| (ARPACK's test), and for a
symmetric matrix some eigenvalue then lies within that residual (Bauer-Fike), so λmax is
asserted to ``tol``·λmax and λmin (found as λmin − λmax on H − λmax·I) to
``tol``·(λmax − λmin). Randomized estimates (Hutchinson, SLQ's first moment, average
sharpness) are asserted within 4 standard errors, the standard error itself checked
against its closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fakes import Data, Dirs, Split
from torch import nn
from torch.func import functional_call

from lossviz_core.curvature import (
    CurvatureOptions,
    HessianOperator,
    average_sharpness,
    curvature_report,
    epsilon_sharpness,
    examples_of,
    hutchinson,
    hutchpp,
    lambda_min,
    per_layer_top,
    sam_sharpness,
    slq,
    top_eigenpairs,
    write_report,
)
from lossviz_core.directions import make_directions, names_of, weights_of
from lossviz_core.export.curvature import plot_report
from lossviz_core.measures import MeasureContext, measure_kind
from lossviz_core.plane import Plane
from lossviz_core.recipe.spec import DirectionSpec

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny products gain nothing from a second thread, and on a shared 2-core machine two
    OpenMP threads contend (a gradient pass measured 12× slower): one, restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def regression(n: int = 240, d: int = 16, seed: int = 0, orthogonal: bool = False,
               decay: float | None = None):
    """y = Xw + noise, a bias-free linear model and L = mean (xᵀw − y)²: H = (2/n)·XᵀX.

    Column scales rise linearly (a flat spectrum), or fall as ``decay``^k (a few dominate)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    if orthogonal:  # XᵀX diagonal: the box maximum of Keskar's sharpness is a known vertex
        q, _ = torch.linalg.qr(x)
        x = q * torch.linspace(0.5, 3.0, d, dtype=torch.float64) * math.sqrt(n)
    elif decay is not None:
        x = x * 3.0 * decay ** torch.arange(d, dtype=torch.float64)
    else:
        x = x * torch.linspace(0.3, 3.0, d, dtype=torch.float64)
    y = x @ torch.randn(d, 1, generator=g, dtype=torch.float64) + 0.1 * torch.randn(
        n, 1, generator=g, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    hess = (2.0 / n) * (x.T @ x).numpy()
    return model, x, y, hess


def least_squares(model: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> None:
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x, y).solution.T)


def mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))


def mlp_data(n: int = 64, seed: int = 1) -> Data:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return Data(Split(x, torch.randint(0, 3, (n,), generator=g)))


def full_hessian(model: nn.Module, data: Data, names: list[str], point=None) -> np.ndarray:
    """The Hessian of the mean cross-entropy in ``names`` (fp64), by autograd, no LossViz."""
    state = {k: v.detach().double() for k, v in model.state_dict().items()}
    state.update({k: v.detach().double() for k, v in (point or {}).items()})
    shapes = [state[n].shape for n in names]
    flat0 = torch.cat([state[n].reshape(-1) for n in names])

    def loss(flat):
        parts, i = {}, 0
        for n, s in zip(names, shapes, strict=True):
            k = int(np.prod(s))
            parts[n] = flat[i:i + k].view(s)
            i += k
        out = functional_call(model, {**state, **parts}, (data.train.x.double(),))
        return F.cross_entropy(out, data.train.y)

    return torch.autograd.functional.hessian(loss, flat0).numpy()


# --------------------------------------------------------------------------- (a) regression


def test_linear_regression_hessian_is_two_over_n_xtx_exactly():
    model, x, y, hess = regression()
    op = HessianOperator.from_model(model, examples_of(Split(x, y)), "mse", params="all",
                                    dtype="fp64", batch_size=50)  # 240 = 4 full + 1 short
    vals, vecs = np.linalg.eigh(hess)
    for solver in ("scipy", "torch"):
        top = top_eigenpairs(op, 3, tol=1e-12, solver=solver, residuals=True)
        np.testing.assert_allclose(top.values, vals[::-1][:3], rtol=1e-9)
        assert all(top.converged) and max(top.residuals) < 1e-8 * vals[-1]
        for v, u in zip(top.vectors.numpy(), vecs[:, ::-1].T, strict=False):
            assert abs(abs(v @ u) - 1.0) < 1e-8  # the same eigenvector up to sign
        low = lambda_min(op, float(top.values[0]), tol=1e-12, solver=solver)
        assert low.converged[0]
        assert low.values[0] == pytest.approx(vals[0], rel=1e-7)
    # well conditioned (λmin/λmax ≈ 0.3): the whole-λmax shift still finds λmin, where the
    # reference's 0.51·λmax shift would return λmax again
    good_x = x / torch.linspace(0.3, 3.0, x.shape[1], dtype=torch.float64) * torch.linspace(
        1.0, 1.6, x.shape[1], dtype=torch.float64)
    good = HessianOperator.from_model(model, examples_of(Split(good_x, y)), "mse", params="all",
                                      dtype="fp64")
    g_vals = np.linalg.eigvalsh((2.0 / len(y)) * (good_x.T @ good_x).numpy())
    assert g_vals[0] > 0.1 * g_vals[-1]
    assert lambda_min(good, tol=1e-10).values[0] == pytest.approx(g_vals[0], rel=1e-7)
    exact = hutchpp(op, hvps=3 * x.shape[1])  # the sketch spans R^d: tr(H) exactly
    assert exact.value == pytest.approx(np.trace(hess), rel=1e-9) and exact.stderr == 0.0
    assert op.hvps > 0 and op.info["examples"] == 240


def test_hutchinson_is_unbiased_with_the_closed_form_standard_error():
    model, x, y, hess = regression(d=12)
    op = HessianOperator.from_model(model, examples_of(Split(x, y)), "mse", params="all",
                                    dtype="fp64")
    est = hutchinson(op, samples=300, seed=3)
    # Rademacher probes: Var(vᵀHv) = 2(‖H‖_F² − Σ H_ii²)
    sd = math.sqrt(2 * ((hess**2).sum() - (np.diag(hess) ** 2).sum()) / 300)
    assert abs(est.value - np.trace(hess)) < 4 * sd
    assert est.stderr == pytest.approx(sd, rel=0.25)
    # a few dominant eigenvalues: at equal cost Hutch++ deflates them and wins
    model, x, y, hess = regression(d=12, decay=0.5)
    op = HessianOperator.from_model(model, examples_of(Split(x, y)), "mse", params="all",
                                    dtype="fp64")
    pp, plain = hutchpp(op, hvps=24, seed=3), hutchinson(op, samples=24, seed=3)
    assert pp.hvps == plain.hvps == 24
    assert abs(pp.value - np.trace(hess)) < 4 * pp.stderr
    assert pp.stderr < 0.1 * plain.stderr


def test_sharpness_at_the_least_squares_minimum_matches_closed_forms():
    model, x, y, hess = regression(d=8, orthogonal=True)
    least_squares(model, x, y)
    op = HessianOperator.from_model(model, examples_of(Split(x, y)), "mse", params="all",
                                    dtype="fp64")
    f0 = op.loss()
    lam = np.linalg.eigvalsh(hess)
    rho = 0.1
    # L(w* + ε) − L(w*) = ½ εᵀHε exactly: the ρ-ball's maximum is ½ρ²λmax
    sam = sam_sharpness(op, rho, steps=40)
    assert 0.99 * 0.5 * rho**2 * lam[-1] <= sam["value"] <= 0.5 * rho**2 * lam[-1] * (1 + 1e-9)
    avg = average_sharpness(op, rho, samples=200, seed=1)  # E = ½ρ²·tr(H)/P
    assert abs(avg["value"] - 0.5 * rho**2 * np.trace(hess) / 8) < 4 * avg["stderr"]
    # H diagonal: every vertex of Keskar's box is a maximum, ½ Σ H_ii (ε(|w_i| + 1))²
    eps = 1e-2
    w = model.weight.detach().numpy().ravel()
    best = 0.5 * np.sum(np.diag(hess) * (eps * (np.abs(w) + 1)) ** 2)
    ks = epsilon_sharpness(op, eps, steps=20)
    assert ks["value"] == pytest.approx(100 * best / (1 + f0), rel=1e-6)


def test_one_sam_step_is_the_normalized_gradient_step():
    model, x, y, hess = regression(d=6)
    op = HessianOperator.from_model(model, examples_of(Split(x, y)), "mse", params="all",
                                    dtype="fp64")
    w = model.weight.detach().reshape(-1)
    res = (x @ w[:, None] - y).reshape(-1)
    g = (2.0 / len(y)) * (x.T @ res)
    eps = 0.05 * g / g.norm()
    expect = float(((x @ (w + eps)[:, None] - y) ** 2).mean() - (res**2).mean())
    assert sam_sharpness(op, 0.05, steps=1)["value"] == pytest.approx(expect, rel=1e-10)


# --------------------------------------------------------------------------- (b) tiny MLP


def test_tiny_mlp_matches_the_full_autograd_hessian():
    model, data = mlp(), mlp_data()
    names = [n for n, _ in model.named_parameters()]
    h = full_hessian(model, data, names)
    vals = np.linalg.eigvalsh(h)
    op = HessianOperator.from_model(model, examples_of(data), "ce", params="all", dtype="fp64")
    assert op.size == h.shape[0] == 43
    top = top_eigenpairs(op, 4, tol=1e-10)
    np.testing.assert_allclose(top.values, vals[::-1][:4], rtol=1e-7)
    assert lambda_min(op, float(top.values[0]), tol=1e-10).values[0] == pytest.approx(
        vals[0], abs=1e-7 * (vals[-1] - vals[0]))
    assert hutchpp(op, hvps=3 * 43).value == pytest.approx(np.trace(h), rel=1e-8)
    # per layer: λmax of each diagonal block (a Linear's weight and bias together)
    layers = per_layer_top(op, tol=1e-10)
    assert list(layers) == ["0", "2"]
    for layer, sl in (("0", slice(0, 25)), ("2", slice(25, 43))):
        assert layers[layer]["value"] == pytest.approx(np.linalg.eigvalsh(h[sl, sl])[-1],
                                                       rel=1e-7)
        assert layers[layer]["params"] == sl.stop - sl.start
    # forward-over-reverse and reverse-over-reverse give the same products
    v = op.random_vector(torch.Generator().manual_seed(1))
    fwd = HessianOperator.from_model(model, examples_of(data), "ce", params="all", dtype="fp64",
                                     mode="fwd-rev")
    torch.testing.assert_close(fwd.hvp(v), op.hvp(v), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(op.hvp(v), torch.from_numpy(h @ v.numpy()), rtol=1e-10,
                               atol=1e-12)
    # fp32 agrees with fp64 to fp32 accuracy
    op32 = HessianOperator.from_model(model, examples_of(data), "ce", params="all")
    assert top_eigenpairs(op32, 1, tol=1e-6).values[0] == pytest.approx(vals[-1], rel=1e-4)


def test_density_moments_are_gauss_quadrature_and_estimate_the_trace():
    model, data = mlp(), mlp_data()
    h = full_hessian(model, data, [n for n, _ in model.named_parameters()])
    p = h.shape[0]
    op = HessianOperator.from_model(model, examples_of(data), "ce", params="all", dtype="fp64")
    g = torch.Generator().manual_seed(5)
    probes = [op.random_vector(g, "rademacher") for _ in range(3)]
    dens = slq(op, steps=8, probes=probes)
    # 8 Lanczos steps integrate polynomials of degree < 16 exactly: Σ τθ^k = vᵀH^k v / vᵀv
    for k in (1, 2, 3):
        hk = np.linalg.matrix_power(h, k)
        expect = np.mean([v.numpy() @ hk @ v.numpy() / p for v in probes])
        assert dens.moment(k) == pytest.approx(expect, rel=1e-8)
    assert np.trapezoid(dens.values, dens.grid) == pytest.approx(1.0, abs=1e-3)
    runs = 40
    est = slq(op, steps=12, runs=runs, seed=2)
    sd = math.sqrt(2 * ((h**2).sum() - (np.diag(h) ** 2).sum())) / p / math.sqrt(runs)
    assert abs(est.moment(1) - np.trace(h) / p) < 4 * sd
    full = slq(op, steps=p, runs=1, seed=0)  # a whole Krylov space: its nodes are eigenvalues
    vals = np.linalg.eigvalsh(h)
    assert full.nodes.max() == pytest.approx(vals[-1], rel=1e-8)
    assert full.nodes.min() == pytest.approx(vals[0], abs=1e-8 * vals[-1])


def test_perturbed_parameters_are_the_ones_the_directions_move():
    model, data = mlp(), mlp_data()
    op = HessianOperator.from_model(model, examples_of(data), "ce", dtype="fp64")
    assert op.names == ["0.weight", "2.weight"] and op.size == 35  # biasbn: biases fixed
    h = full_hessian(model, data, op.names)
    assert top_eigenpairs(op, 1, tol=1e-10).values[0] == pytest.approx(
        np.linalg.eigvalsh(h)[-1], rel=1e-8)
    sub = examples_of(data, subsample=20, seed=4)
    assert sub.n == 20 and sub.describe()["subsample_seed"] == 4
    again = examples_of(data, subsample=20, seed=4)
    np.testing.assert_array_equal(sub.parts[0].index, again.parts[0].index)


# --------------------------------------------------------------------------- (c) saddle


class DeepLinear(nn.Module):
    """y = w₂·(W₁ x): at W₁ = 0, w₂ = 0 the MSE loss has a saddle with eigenvalues ±2‖E[xy]‖."""

    def __init__(self, d: int = 3, h: int = 2) -> None:
        super().__init__()
        self.first = nn.Linear(d, h, bias=False)
        self.second = nn.Linear(h, 1, bias=False)
        nn.init.zeros_(self.first.weight)
        nn.init.zeros_(self.second.weight)

    def forward(self, x):
        return self.second(self.first(x))


def test_a_saddle_has_negative_curvature_and_a_convexity_ratio_of_one():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64)
    model = DeepLinear().double()
    op = HessianOperator.from_model(model, examples_of(Split(x, y)), "mse", dtype="fp64")
    c = 2 * float((x * y).mean(0).norm())
    top = top_eigenpairs(op, 1, tol=1e-10)
    low = lambda_min(op, float(top.values[0]), tol=1e-10)
    assert top.values[0] == pytest.approx(c, rel=1e-8)
    assert low.values[0] == pytest.approx(-c, rel=1e-8)
    # the convexity map sees the saddle at the centre and a convex valley at a minimum
    sol = torch.linalg.lstsq(x, y).solution.T  # w₂·W₁ must equal it at a minimum
    d1 = [torch.zeros(2, 3, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64)]
    d1[0][0] = sol[0]
    d1[1][0, 0] = 1.0
    plane = Plane(model, Dirs(d1, None))
    m = measure_kind("curvature").build(context(model, plane, Data(Split(x, y)), "mse"))
    out = m.evaluate(np.array([[0.0], [1.0]]))
    assert out["min_eig"][0] < 0 and out["eig_ratio"][0] == pytest.approx(1.0, rel=2e-2)
    assert out["min_eig"][1] > -1e-3 * out["max_eig"][1]  # a minimum: no negative direction
    assert out["eig_ratio"][1] < 1e-2


# --------------------------------------------------------------------------- (d) directions


def test_hessian_directions_are_orthonormal_eigenvectors_and_leave_the_model():
    model, data = mlp(), mlp_data()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    spec = DirectionSpec(method="hessian", xnorm="none", ynorm="none")
    dirs = make_directions(model, spec, True, data=data, loss="ce", splits=("train",))
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    names = names_of(model)
    perturbed = ["0.weight", "2.weight"]
    d1 = torch.cat([t.reshape(-1) for t, n in zip(dirs.x, names, strict=True) if n in perturbed])
    d2 = torch.cat([t.reshape(-1) for t, n in zip(dirs.y, names, strict=True) if n in perturbed])
    assert all(not t.any() for t, n in zip(dirs.x, names, strict=True) if n not in perturbed)
    assert float(d1.norm()) == pytest.approx(1, abs=1e-5)
    assert float(d2.norm()) == pytest.approx(1, abs=1e-5) and abs(float(d1 @ d2)) < 1e-4
    h = full_hessian(model, data, perturbed)
    lam = np.linalg.eigvalsh(h)[::-1]
    np.testing.assert_allclose(dirs.info["eigenvalues"], lam[:2], rtol=1e-4)
    for d, value in ((d1, lam[0]), (d2, lam[1])):
        v = d.double().numpy()
        assert np.linalg.norm(h @ v - value * v) < 1e-3 * lam[0]
    line = make_directions(model, DirectionSpec(method="hessian", xnorm="none"), False,
                           data=data, loss="ce")
    assert line.y is None and torch.allclose(line.x[0], dirs.x[0], atol=1e-5)


def test_filter_normalized_hessian_and_hessian_random_directions():
    model, data = mlp(), mlp_data()
    dirs = make_directions(model, DirectionSpec(method="hessian-random", seed=3), True,
                           data=data, loss="ce")
    for d, w in zip(dirs.x, weights_of(model), strict=True):
        if w.dim() > 1:  # filter normalization: each row has its weight row's norm
            torch.testing.assert_close(d.norm(dim=1), w.norm(dim=1), rtol=1e-5, atol=1e-6)
        else:
            assert not d.any()
    random = make_directions(model, DirectionSpec(method="random", seed=3), True)
    assert all(torch.equal(a, b) for a, b in zip(dirs.y, random.x, strict=True))  # seeded d
    assert 0 < dirs.info["cosine_to_eigenvector"][0] <= 1
    assert dirs.info["eigenvector"] == [False]


def test_centre_of_a_hessian_plane_surface_is_the_checkpoints_loss():
    from lossviz_core import demo
    from lossviz_core.data import load_dataset
    from lossviz_core.models import build_model
    from lossviz_core.progress import drain
    from lossviz_core.recipe.spec import DatasetSpec, GridSpec, Range
    from lossviz_core.run.job import prepare
    from lossviz_core.sources.checkpoints import load_into

    r = demo.recipe("surface")
    r = r.replace(dataset=DatasetSpec("digits", subsample=200),
                  directions=DirectionSpec(method="hessian"),
                  grid=GridSpec(Range(-0.5, 0.5, 3), Range(-0.5, 0.5, 3)))
    job = prepare(r)
    result = drain(job.iter())
    model = build_model(demo.DEMO_MODEL)
    load_into(model, r.model.checkpoint)
    model.eval()
    split = load_dataset(r.dataset).train
    with torch.no_grad():
        expect = F.cross_entropy(model(split.x), split.y).item()
    assert result.values["train_loss"][1, 1] == pytest.approx(expect, rel=1e-4)
    ev = job.directions.info["eigenvalues"]
    assert ev[0] >= ev[1] > 0 and all(job.directions.info["eigen_converged"])


# --------------------------------------------------------------------------- (e) the measure


def context(model, plane, data, loss="ce"):
    from lossviz_core.recipe.spec import LossSpec, Recipe

    recipe = Recipe(loss=LossSpec(name=loss))
    return MeasureContext(model, plane, data, loss, recipe, torch.device("cpu"), None, 4)


def test_curvature_measure_over_a_grid_equals_a_direct_eigendecomposition():
    from lossviz_core.progress import drain
    from lossviz_core.recipe.spec import GridSpec, Range
    from lossviz_core.run.grid import iter_surface, make_result

    model, data = mlp(), mlp_data()
    g = torch.Generator().manual_seed(7)
    dirs = Dirs([torch.randn(p.shape, generator=g) * 0.5 for p in model.parameters()],
                [torch.randn(p.shape, generator=g) * 0.5 for p in model.parameters()])
    plane = Plane(model, dirs)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    m = measure_kind("curvature").build(context(model, plane, data))
    assert m.quantities == ("max_eig", "min_eig", "eig_ratio") and m.chunk_size == 1
    assert m.info["tol"] == 1e-2 and m.info["hvps_per_point_estimate"] > 10
    grid = GridSpec(Range(-1, 1, 2), Range(0, 1, 2))
    result = drain(iter_surface(m, make_result(grid, quantities=m.quantities)))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    xs, ys = grid.x.values(), grid.y.values()
    for j, b in enumerate(ys):
        for i, a in enumerate(xs):
            point = {n: t + a * d1 + b * d2 for n, t, d1, d2 in
                     zip(plane.names, plane.theta, plane.d1, plane.d2, strict=True)}
            vals = np.linalg.eigvalsh(full_hessian(model, data, plane.names, point))
            span = vals[-1] - vals[0]
            assert result.values["max_eig"][j, i] == pytest.approx(vals[-1], abs=1e-2 * vals[-1])
            assert result.values["min_eig"][j, i] == pytest.approx(vals[0], abs=1e-2 * span)
            assert result.values["eig_ratio"][j, i] == pytest.approx(
                abs(result.values["min_eig"][j, i] / result.values["max_eig"][j, i]))
    assert m.info["hvps_per_point"] > 2
    report = curvature_report(HessianOperator.from_plane(plane, examples_of(data), "ce"),
                              CurvatureOptions(k=2, trace_hvps=30, density_steps=10,
                                               epsilon_steps=3, sam_steps=2, average_samples=4))
    for key in ("eigenvalues", "lambda_min", "trace", "trace_stderr", "per_layer", "sharpness",
                "density", "converged", "examples"):
        assert key in report
    assert report["examples"] == 64 and set(report["density"]) >= {"grid", "values"}
    assert report["unit"] == report["plan"]["unit"] == "examples"  # images, not sequences


def test_convexity_map_is_stored_beside_the_loss_and_resumes(tmp_path):
    from lossviz_core import demo
    from lossviz_core.progress import drain
    from lossviz_core.recipe.spec import DatasetSpec, GridSpec, Range
    from lossviz_core.results.store import read_result
    from lossviz_core.run.job import prepare

    r = demo.recipe("surface").replace(dataset=DatasetSpec("digits", subsample=64),
                                       grid=GridSpec(Range(-0.5, 0.5, 3), None),
                                       measures=("loss", "curvature"))
    out = tmp_path / "eig.h5"
    gen = prepare(r).iter(out=out)
    first = next(gen)  # coarse to fine, a point per chunk: an end of the line first
    assert first.indices.tolist() == [0] and first.done == 1
    gen.close()
    job = prepare(r)
    result = drain(job.iter(out=out, resume=True))
    back = read_result(out)
    assert back.done.all() and {"train_loss", "max_eig", "min_eig", "eig_ratio"} <= set(
        back.values)
    np.testing.assert_array_equal(back.values["max_eig"], result.values["max_eig"])
    op = HessianOperator.from_plane(job.workspace.plane, examples_of(job.data), "ce")
    top = top_eigenpairs(op, 1, tol=1e-6)
    assert back.values["max_eig"][1] == pytest.approx(top.values[0], rel=1e-2)
    assert (back.values["min_eig"] <= back.values["max_eig"]).all()


def test_report_is_written_and_drawn(tmp_path):
    model, data = mlp(), mlp_data()
    op = HessianOperator.from_model(model, examples_of(data), "ce", params="all", dtype="fp64")
    report = curvature_report(op, CurvatureOptions(k=3, tol=1e-8, trace_hvps=3 * 43,
                                                   density_steps=43, epsilon_steps=3,
                                                   sam_steps=2, average_samples=4))
    h = full_hessian(model, data, op.names)
    vals = np.linalg.eigvalsh(h)
    np.testing.assert_allclose(report["eigenvalues"], vals[::-1][:3], rtol=1e-6)
    assert report["eigenvalues"] == sorted(report["eigenvalues"], reverse=True)
    assert report["lambda_min"] == pytest.approx(vals[0], abs=1e-6 * vals[-1])
    assert report["trace"] == pytest.approx(np.trace(h), rel=1e-8)
    assert all(report["converged"]["eigenvalues"]) and report["converged"]["lambda_min"]
    # the torch default: one Krylov space (at most 43 steps: it is invariant by then) for
    # eigenvalues, λmin, density and trace; ARPACK and Hutch++ spend theirs part by part
    assert report["details"]["eigenvalues"]["krylov_steps"] <= 43
    assert report["hvps"] >= 43 and report["plan"]["hvps"] > 43
    arpack = curvature_report(op, CurvatureOptions(k=3, tol=1e-8, trace_hvps=3 * 43,
                                                   density_steps=43, epsilon_steps=3,
                                                   sam_steps=2, average_samples=4,
                                                   solver="scipy", trace="hutchpp"))
    assert arpack["hvps"] >= 3 * 43 and arpack["plan"]["hvps"] > 100
    np.testing.assert_allclose(arpack["eigenvalues"], report["eigenvalues"], rtol=1e-6)
    assert arpack["trace"] == pytest.approx(report["trace"], rel=1e-8)
    np.testing.assert_allclose(arpack["density"]["values"], report["density"]["values"],
                               rtol=1e-6, atol=1e-9)
    path = write_report(report, tmp_path / "curv.json")
    assert path.read_text().startswith("{")
    png = plot_report(report, tmp_path / "curv.png")
    assert png.stat().st_size > 5000
