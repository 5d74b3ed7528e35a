"""The ways of computing H·v agree: the kept gradient graph, the three torch.func modes,
BatchNorm folded or not, and the fallback when the graph would not fit, against the dense
Hessian of plain autograd on a small CNN with BatchNorm (fp64, exact to rounding)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from fakes import Split
from torch import nn
from torch.func import functional_call

from lossviz_core.curvature import HessianOperator, examples_of, products, top_eigenpairs
from lossviz_core.models import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def cnn_with_bn() -> tuple[nn.Module, Split]:
    """The digits CNN (two conv → BN pairs) with non-trivial BN statistics and affine."""
    torch.manual_seed(0)
    model = build_model("digits_cnn").double()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 1, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (40,), generator=g)
    return model, Split(x, y)


def dense_hessian_vector(model: nn.Module, data: Split, names: list[str], v: torch.Tensor):
    """H·v from ``torch.autograd.functional.hvp`` on the unfolded model (the ground truth)."""
    state = {k: t.detach() for k, t in model.state_dict().items()}
    shapes = [state[n].shape for n in names]
    sizes = [state[n].numel() for n in names]

    def loss(*flat):
        parts = dict(zip(names, flat, strict=True))
        return F.cross_entropy(functional_call(model, {**state, **parts}, (data.x,)), data.y)

    tangent = [t.view(s) for t, s in zip(torch.split(v, sizes), shapes, strict=True)]
    _, hv = torch.autograd.functional.hvp(loss, tuple(state[n] for n in names), tuple(tangent))
    return torch.cat([t.reshape(-1) for t in hv])


@pytest.mark.parametrize("params", ["all", "perturbed"])
def test_every_product_mode_folded_or_not_equals_autograd(params):
    model, data = cnn_with_bn()
    ops = {(mode, fold): HessianOperator.from_model(model, examples_of(data), "ce",
                                                   params=params, dtype="fp64", mode=mode,
                                                   fold_bn=fold, batch_size=16)
           for mode in ("graph", "fwd-rev", "rev-rev", "rev-fwd") for fold in (True, False)}
    some = next(iter(ops.values()))
    assert some._fold is not None and len(some._fold.pairs) == 2  # both pairs fold
    v = some.random_vector(torch.Generator().manual_seed(2))
    truth = dense_hessian_vector(model, data, some.names, v)
    for (mode, fold), op in ops.items():
        assert op.mode == mode and (op._fold is not None) == fold
        torch.testing.assert_close(op.hvp(v), truth, rtol=1e-10, atol=1e-12,
                                   msg=f"{mode}, fold {fold}")
    graph = ops[("graph", True)]
    for _ in range(2):  # the graph is reused: the same product again, nothing rebuilt
        torch.testing.assert_close(graph.hvp(v), truth, rtol=1e-10, atol=1e-12)
    assert graph.hvps == 3 and graph._graph is not None
    assert graph.info["bn_folded"] and graph.info["mode"] == "graph"


def test_the_graph_falls_back_per_batch_when_it_does_not_fit(monkeypatch):
    model, data = cnn_with_bn()
    monkeypatch.setattr(products, "GRAPH_MEMORY_FRACTION", 0.0)
    op = HessianOperator.from_model(model, examples_of(data), "ce", params="all", dtype="fp64")
    v = op.random_vector(torch.Generator().manual_seed(3))
    out = op.hvp(v)
    assert op.mode == products.FALLBACK_MODE["cpu"] and "does not fit" in op.info["graph_note"]
    torch.testing.assert_close(out, dense_hessian_vector(model, data, op.names, v),
                               rtol=1e-10, atol=1e-12)


def test_graph_mode_under_no_grad_and_the_top_eigenvalue_agree():
    """A GUI worker runs under torch.no_grad(): the kept graph is still built."""
    model, data = cnn_with_bn()
    a = HessianOperator.from_model(model, examples_of(data), "ce", dtype="fp64", mode="graph")
    b = HessianOperator.from_model(model, examples_of(data), "ce", dtype="fp64",
                                   mode="fwd-rev", fold_bn=False)
    with torch.no_grad():
        la = top_eigenpairs(a, 1, tol=1e-10, solver="torch").values[0]
    lb = top_eigenpairs(b, 1, tol=1e-10, solver="torch").values[0]
    assert la == pytest.approx(lb, rel=1e-9)
    assert model.training is False and a.mode == "graph"


def test_the_krylov_deflated_trace_is_unbiased_and_exact_on_a_whole_basis():
    """L = mean (xᵢ·w − yᵢ)²: H = (2/n)·XᵀX, its trace known exactly."""
    from lossviz_core.curvature import estimate_trace

    g = torch.Generator().manual_seed(4)
    x = torch.randn(200, 30, generator=g, dtype=torch.float64) * torch.linspace(
        0.2, 3.0, 30, dtype=torch.float64)
    y = torch.randn(200, generator=g, dtype=torch.float64)
    model = nn.Linear(30, 1, bias=False).double()
    op = HessianOperator.from_model(model, examples_of(Split(x, y)), "mse", params="all",
                                    dtype="fp64")
    exact = float(torch.trace(2.0 / 200 * x.T @ x))
    part = estimate_trace(op, "krylov", hvps=24, seed=1)  # 16 Lanczos steps, 8 probes
    assert part.method == "krylov" and part.samples == 8 and part.stderr > 0
    assert abs(part.value - exact) < 4 * part.stderr
    whole = estimate_trace(op, "krylov", hvps=60, seed=1)  # 40 steps: the basis spans R³⁰
    assert whole.value == pytest.approx(exact, rel=1e-10) and whole.stderr == 0.0
