"""BatchNorm folding: the surface must not change, whatever the directions perturb."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fakes import Data, Dirs, Split, randomize_bn, small_cnn
from torch import nn

from lossviz_core.evaluation.bnfold import find_conv_bn_pairs, fold_conv_bn
from lossviz_core.evaluation.evaluate import Evaluator


def image_data(n=96, classes=5):
    g = torch.Generator().manual_seed(0)
    return Data(
        Split(torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, classes, (n,), generator=g))
    )


class Branchy(nn.Module):
    """conv1->bn1 foldable; conv2 feeds bn2 AND a residual add: not foldable."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        c = self.conv2(h)
        return self.fc((self.bn2(c) + c).flatten(1))


class Untraceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3 * 64, 5)

    def forward(self, x):
        if x.sum() > 1e9:  # data-dependent control flow: fx cannot trace it
            x = x * 0
        return self.fc(self.bn(self.conv(x)).flatten(1))


def test_fold_formula_matches_conv_then_bn():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 5, 3, bias=True), randomize_bn(nn.BatchNorm2d(5)).eval()
    x = torch.randn(4, 3, 7, 7)
    w, b = fold_conv_bn(
        conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.eps
    )
    with torch.no_grad():
        torch.testing.assert_close(F.conv2d(x, w, b), bn(conv(x)), rtol=1e-5, atol=1e-5)
        # stacked (K leading) values broadcast: K=2 scales of the same conv
        ws, bs = fold_conv_bn(
            torch.stack([conv.weight, 2 * conv.weight]),
            None,
            bn.weight,
            bn.bias,
            bn.running_mean,
            bn.running_var,
            bn.eps,
        )
        assert ws.shape == (2, 5, 3, 3, 3) and bs.shape == (5,)
        torch.testing.assert_close(ws[1], 2 * ws[0])


def test_pairs_found_only_where_conv_feeds_only_bn():
    _, pairs = find_conv_bn_pairs(Branchy())
    assert [(p.conv, p.bn) for p in pairs] == [("conv1", "bn1")]
    _, pairs = find_conv_bn_pairs(small_cnn())
    assert [(p.conv, p.bn) for p in pairs] == [("0", "1"), ("3", "4")]
    assert find_conv_bn_pairs(Untraceable()) is None


def surfaces(model, dirs, data, coords):
    out = {}
    for fold in (False, True):
        ev = Evaluator(model, dirs, data, device="cpu", precision="fp32", fold_bn=fold, multi=False)
        out[fold] = ev.evaluate(coords)["train_loss"]
        out[f"plan{fold}"] = ev.folded
    return out


COORDS = np.array([[0.0, 0.0], [0.6, -0.3], [-0.8, 0.9], [1.0, 1.0], [-0.2, -0.7]])


def bn_param_names(model):
    return {
        f"{n}.{k}"
        for n, m in model.named_modules()
        if isinstance(m, nn.BatchNorm2d)
        for k in ("weight", "bias", "running_mean", "running_var")
    }


@pytest.mark.parametrize("model_fn", [small_cnn, lambda: randomize_bn(Branchy())])
def test_biasbn_directions_precompute_the_fold(model_fn):
    model = model_fn()
    g = torch.Generator().manual_seed(3)
    dirs = Dirs(
        *[
            [
                torch.zeros_like(p) if p.dim() <= 1 else 0.3 * torch.randn(p.shape, generator=g)
                for p in model.parameters()
            ]
            for _ in range(2)
        ]
    )
    s = surfaces(model, dirs, image_data(), COORDS)
    assert s["planTrue"].pairs and not s["planTrue"].refold and not s["planFalse"].pairs
    np.testing.assert_allclose(s[True], s[False], rtol=1e-5)
    assert np.ptp(s[True]) > 0.05  # the directions do move the loss


def test_bn_weight_directions_refold_per_point():
    model = small_cnn()
    g = torch.Generator().manual_seed(4)
    dirs = Dirs(
        *[[0.3 * torch.randn(p.shape, generator=g) for p in model.parameters()] for _ in range(2)]
    )
    s = surfaces(model, dirs, image_data(), COORDS)
    assert s["planTrue"].refold
    np.testing.assert_allclose(s[True], s[False], rtol=1e-5)


def test_states_directions_perturbing_running_stats():
    model = small_cnn()
    g = torch.Generator().manual_seed(5)
    state = model.state_dict()
    bn_names = bn_param_names(model)

    def one():
        d = []
        for k, v in state.items():
            if not v.is_floating_point():
                d.append(torch.zeros_like(v))
            elif k.endswith("running_var"):
                d.append(0.4 * v * torch.rand(v.shape, generator=g))  # variance stays positive
            elif k in bn_names:
                d.append(0.3 * torch.randn(v.shape, generator=g))
            else:
                d.append(torch.zeros_like(v))  # only BN moves: the refold alone makes the surface
        return d

    dirs = Dirs(one(), one(), dir_type="states")
    s = surfaces(model, dirs, image_data(), COORDS)
    assert s["planTrue"].refold
    np.testing.assert_allclose(s[True], s[False], rtol=1e-5)
    assert np.ptp(s[True]) > 0.01


def test_untraceable_model_is_evaluated_unfolded():
    model = randomize_bn(Untraceable())
    g = torch.Generator().manual_seed(6)
    dirs = Dirs([0.2 * torch.randn(p.shape, generator=g) for p in model.parameters()], None)
    ev = Evaluator(model, dirs, image_data(), device="cpu")
    got = ev.evaluate(np.array([[0.0]]))
    assert ev.info["fold_bn"] is False
    model.eval()
    data = image_data()
    with torch.no_grad():
        want = F.cross_entropy(model(data.train.x), data.train.y).item()
    assert got["train_loss"][0] == pytest.approx(want, rel=1e-5)


def test_nested_resnet_folds_without_touching_the_model():
    from lossviz_core.models import build_model

    model = randomize_bn(build_model("digits_resnet")).eval()
    data = image_data(n=48, classes=10)
    with torch.no_grad():
        plain = model(data.train.x)
    modules_before = [(n, type(m)) for n, m in model.named_modules()]
    g = torch.Generator().manual_seed(7)
    dirs = Dirs(
        *[
            [
                torch.zeros_like(p) if p.dim() <= 1 else 0.2 * torch.randn(p.shape, generator=g)
                for p in model.parameters()
            ]
            for _ in range(2)
        ]
    )
    s = surfaces(model, dirs, data, COORDS[:3])
    assert len(s["planTrue"].pairs) >= 5 and not s["planTrue"].refold
    np.testing.assert_allclose(s[True], s[False], rtol=1e-5)
    assert [(n, type(m)) for n, m in model.named_modules()] == modules_before
    with torch.no_grad():
        torch.testing.assert_close(model(data.train.x), plain, rtol=1e-6, atol=1e-6)
