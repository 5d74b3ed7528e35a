"""The evaluator against ground truth: closed-form surfaces, plain PyTorch evaluations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fakes import Data, Dirs, Split, small_cnn
from torch import nn

from lossviz_core.errors import CheckpointError, InputError, LossVizError
from lossviz_core.evaluation.evaluate import Evaluator


def linear_problem(n=60, d_in=4, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(d_in, classes)
    x = torch.randn(n, d_in, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    d1 = [torch.randn(p.shape, generator=g) for p in model.parameters()]
    d2 = [torch.randn(p.shape, generator=g) for p in model.parameters()]
    return model, Data(Split(x, y)), Dirs(d1, d2)


def closed_form(model, data, dirs, a, b, loss="ce"):
    """Loss and accuracy of the linear model at θ + a·d1 + b·d2, in float64 numpy."""
    (w, c), (w1, c1), (w2, c2) = (
        [t.detach().double().numpy() for t in ts]
        for ts in (list(model.parameters()), dirs.x, dirs.y)
    )
    x, y = data.train.x.double().numpy(), data.train.y.numpy()
    logits = x @ (w + a * w1 + b * w2).T + (c + a * c1 + b * c2)
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    if loss == "ce":
        value = -logp[np.arange(len(y)), y].mean()
    else:
        onehot = np.eye(logits.shape[1])[y]
        value = ((np.exp(logp) - onehot) ** 2).mean()
    return value, 100.0 * (logits.argmax(1) == y).mean()


def image_data(n=96, classes=5, seed=0, test=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    t = Split(x[: n // 2] + 0.1, y[: n // 2]) if test else None
    return Data(Split(x, y), t)


def random_dirs(model, two_d=True, seed=1, biasbn=True):
    g = torch.Generator().manual_seed(seed)

    def one():
        return [
            torch.zeros_like(p)
            if (biasbn and p.dim() <= 1)
            else 0.3 * torch.randn(p.shape, generator=g)
            for p in model.parameters()
        ]

    return Dirs(one(), one() if two_d else None)


def plain_eval(model, data):
    model.eval()
    with torch.no_grad():
        out = model(data.train.x)
    loss = F.cross_entropy(out, data.train.y).item()
    acc = 100.0 * (out.argmax(1) == data.train.y).float().mean().item()
    return loss, acc


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_non_square_grid_matches_closed_form(loss):
    model, data, dirs = linear_problem()
    xs, ys = np.linspace(-1.0, 2.0, 5), np.linspace(-0.5, 0.5, 3)
    gx, gy = np.meshgrid(xs, ys)  # Z[j, i] = f(x_i, y_j)
    coords = np.stack([gx.ravel(), gy.ravel()], axis=1)
    ev = Evaluator(model, dirs, data, loss=loss, device="cpu", batch_size=16)
    got = ev.evaluate(coords)
    want = np.array([closed_form(model, data, dirs, a, b, loss) for a, b in coords])
    np.testing.assert_allclose(got["train_loss"].reshape(3, 5), want[:, 0].reshape(3, 5), rtol=1e-5)
    np.testing.assert_allclose(got["train_acc"], want[:, 1], rtol=1e-12)
    assert got["train_loss"].shape == (15,)


def test_centre_equals_plain_loss_and_weights_restored():
    model, data = small_cnn(), image_data()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss0, acc0 = plain_eval(model, data)
    model.train()
    ev = Evaluator(model, random_dirs(model), data, device="cpu", batch_size=40)
    got = ev.evaluate(np.array([[0.0, 0.0], [0.5, -0.5]]))
    assert got["train_loss"][0] == pytest.approx(loss0, rel=1e-5)
    assert got["train_acc"][0] == pytest.approx(acc0)
    assert 0.0 <= got["train_acc"][1] <= 100.0 and abs(got["train_loss"][1] - loss0) > 1e-3
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training  # the caller's mode is restored too


def test_accuracy_in_percent_and_test_split():
    model, data = small_cnn(), image_data(test=True)
    ev = Evaluator(model, random_dirs(model), data, splits=("train", "test"), device="cpu")
    got = ev.evaluate(np.zeros((1, 2)))
    assert set(got) == {"train_loss", "train_acc", "test_loss", "test_acc"}
    model.eval()
    with torch.no_grad():
        out = model(data.test.x)
    assert got["test_acc"][0] == pytest.approx(
        100.0 * (out.argmax(1) == data.test.y).float().mean().item()
    )
    assert got["test_loss"][0] == pytest.approx(F.cross_entropy(out, data.test.y).item(), rel=1e-5)
    assert got["test_acc"][0] > 1.0  # percent, not a fraction


def test_one_d_coords():
    model, data, dirs = linear_problem()
    line = Evaluator(model, Dirs(dirs.x, None), data, device="cpu")
    alphas = np.array([[-1.0], [0.0], [0.7]])
    got = line.evaluate(alphas)
    want = [closed_form(model, data, dirs, a, 0.0)[0] for a in alphas[:, 0]]
    np.testing.assert_allclose(got["train_loss"], want, rtol=1e-5)
    plane = Evaluator(model, dirs, data, device="cpu")
    np.testing.assert_allclose(plane.evaluate(alphas)["train_loss"], want, rtol=1e-5)
    with pytest.raises(InputError, match="y direction"):
        line.evaluate(np.zeros((2, 2)))


def test_evaluate_state_matches_plain_evaluation():
    model, data = small_cnn(seed=0), image_data()
    other = small_cnn(seed=5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ev = Evaluator(model, random_dirs(model), data, device="cpu")
    got = ev.evaluate_state(other.state_dict())
    loss, acc = plain_eval(other, data)
    assert got["train_loss"] == pytest.approx(loss, rel=1e-5)
    assert got["train_acc"] == pytest.approx(acc)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # the surface is unaffected by the excursion
    assert ev.evaluate(np.zeros((1, 2)))["train_loss"][0] == pytest.approx(
        plain_eval(model, data)[0], rel=1e-5
    )
    with pytest.raises(CheckpointError, match="misses"):
        ev.evaluate_state({"0.weight": other[0].weight})


def test_bf16_close_to_fp32():
    model, data = small_cnn(), image_data()
    dirs = random_dirs(model)
    coords = np.array([[0.0, 0.0], [0.3, -0.2], [-0.4, 0.6]])
    fp32 = Evaluator(model, dirs, data, device="cpu", precision="fp32").evaluate(coords)
    ev = Evaluator(model, dirs, data, device="cpu", precision="bf16")
    bf16 = ev.evaluate(coords)
    assert ev.info["precision"] == "bf16"
    np.testing.assert_allclose(bf16["train_loss"], fp32["train_loss"], rtol=1e-2)
    assert not np.allclose(bf16["train_loss"], fp32["train_loss"], rtol=1e-7, atol=0)


def test_huge_coordinates_give_non_finite_without_raising():
    model, data, dirs = linear_problem()
    got = Evaluator(model, dirs, data, device="cpu").evaluate(np.array([[1e38, 1e38], [0.0, 0.0]]))
    assert not np.isfinite(got["train_loss"][0])
    assert np.isfinite(got["train_loss"][1])
    assert np.isnan(got["train_acc"][0]) and np.isfinite(got["train_acc"][1])  # no fake 33 %


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_multi_point_equals_single_point(kind):
    if kind == "mlp":
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 5))
        dirs = random_dirs(model, biasbn=False)
    else:
        model = small_cnn()
        dirs = random_dirs(model, biasbn=False)  # BN perturbed too: the stacked refold
    data = image_data()
    coords = np.random.default_rng(0).uniform(-1, 1, (7, 2))
    single = Evaluator(model, dirs, data, device="cpu", multi=False, precision="fp32")
    multi = Evaluator(model, dirs, data, device="cpu", multi=True, precision="fp32")
    a, b = single.evaluate(coords), multi.evaluate(coords)
    assert single.info["mode"] == "single" and multi.info["mode"] == "multi"
    assert multi.info["multi_k"] >= 2
    np.testing.assert_allclose(b["train_loss"], a["train_loss"], rtol=1e-5)
    np.testing.assert_array_equal(b["train_acc"], a["train_acc"])


def test_info_and_chunk_size():
    model, data = small_cnn(), image_data()
    ev = Evaluator(model, random_dirs(model), data, device="cpu", n_points=25)
    info = ev.info
    assert info["mode"] in ("single", "multi") and info["device"] == "cpu"
    assert info["precision"] == "fp32" and info["compile"] == "off"
    assert info["fold_bn"] is True and info["seconds_per_point"] > 0
    assert ev.chunk_size >= 1 and 1 <= info["batch_size"] <= 96


def test_bad_input_raises_input_error():
    model, data, dirs = linear_problem()
    with pytest.raises(InputError, match="test split"):
        Evaluator(model, dirs, data, splits=("train", "test"), device="cpu")
    with pytest.raises(InputError, match="loss"):
        Evaluator(model, dirs, data, loss="hinge", device="cpu")
    with pytest.raises(InputError, match="another model"):
        Evaluator(model, Dirs(dirs.x[:1], None), data, device="cpu")
    with pytest.raises(InputError, match="shape"):
        Evaluator(model, dirs, data, device="cpu").evaluate(np.zeros((2, 3)))


def test_out_of_memory_halves_the_batch_and_retries(monkeypatch):
    model, data = small_cnn(), image_data()
    dirs = random_dirs(model)
    ev = Evaluator(model, dirs, data, device="cpu", batch_size=32, multi=False)
    want = ev.evaluate(np.array([[0.2, 0.1], [0.0, 0.0]]))["train_loss"]
    real, failures = ev._group, [2]

    def flaky(a, b):
        if failures[0]:
            failures[0] -= 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(a, b)

    monkeypatch.setattr(ev, "_group", flaky)
    got = ev.evaluate(np.array([[0.2, 0.1], [0.0, 0.0]]))["train_loss"]
    assert ev.batch_size == 8 and ev.info["batch_size"] == 8
    np.testing.assert_allclose(got, want, rtol=1e-5)
    ev.batch_size = 1
    failures[0] = 1
    with pytest.raises(LossVizError, match="out of GPU memory"):
        ev.evaluate(np.zeros((1, 2)))
    assert all(
        torch.equal(a, b) for a, b in zip(ev.folded.state_live, ev.folded.state_theta, strict=True)
    )


def test_model_moved_between_calls_is_reattached():
    model, data = small_cnn(), image_data()
    ev = Evaluator(model, random_dirs(model), data, device="cpu", multi=False, fold_bn=False)
    pts = np.array([[0.4, -0.3], [0.0, 0.0]])
    want = ev.evaluate(pts)["train_loss"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    # another user changes the memory format: the parameters get new storage
    other = torch.contiguous_format if ev.channels_last else torch.channels_last
    model.to(memory_format=other)
    np.testing.assert_allclose(ev.evaluate(pts)["train_loss"], want, rtol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_packaged_app_never_compiles(monkeypatch):
    """A frozen bundle has no compiler for inductor: auto stays eager, a request is refused."""
    import sys

    from lossviz_core.errors import InputError
    from lossviz_core.evaluation.multipoint import choose_compile

    cuda = torch.device("cuda")
    assert choose_compile("auto", cuda, False, 10_000, 1.0) == "max-autotune-no-cudagraphs"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert choose_compile("auto", cuda, False, 10_000, 1.0) == "off"
    with pytest.raises(InputError, match="packaged"):
        choose_compile("default", cuda, False, 10_000, 1.0)


def _broken_compile(module, mode):
    def fails(x):
        raise RuntimeError("no C compiler found for the inductor backend")

    return fails


def test_failed_auto_compile_falls_back_to_eager(monkeypatch):
    import lossviz_core.evaluation.multipoint as mp

    model, data, dirs = linear_problem()
    monkeypatch.setattr(mp, "choose_compile", lambda *a, **k: "default")
    monkeypatch.setattr(mp, "compile_module", _broken_compile)
    ev = Evaluator(model, dirs, data, multi=False)
    out = ev.evaluate(np.array([[0.3, -0.2]]))
    loss, _ = closed_form(model, data, dirs, 0.3, -0.2)
    assert out["train_loss"][0] == pytest.approx(loss, rel=1e-5)
    assert ev.info["compile"].startswith("off")


def test_failed_requested_compile_is_a_clear_error(monkeypatch):
    import lossviz_core.evaluation.multipoint as mp

    model, data, dirs = linear_problem()
    before = [p.detach().clone() for p in model.parameters()]
    monkeypatch.setattr(mp, "choose_compile", lambda *a, **k: "default")
    monkeypatch.setattr(mp, "compile_module", _broken_compile)
    ev = Evaluator(model, dirs, data, multi=False, compile="default")
    with pytest.raises(LossVizError, match="torch.compile failed.*no C compiler"):
        ev.evaluate(np.array([[0.3, -0.2]]))
    for p, b in zip(model.parameters(), before, strict=True):
        assert torch.equal(p.detach(), b)  # θ restored


def test_the_data_lives_once_shared_with_the_dataset():
    """The evaluator converts the dataset's own tensors (memory format, device): no copy."""
    model = small_cnn()
    data = image_data()
    ev = Evaluator(model, random_dirs(model), data, device="cpu")
    ev.evaluate(np.zeros((1, 2)))
    assert ev.splits[0].x.data_ptr() == data.train.x.data_ptr()
    assert ev.splits[0].x is data.train.x


def test_a_scripted_model_is_evaluated_one_point_at_a_time():
    from lossviz_core.evaluation.capabilities import detect

    model = small_cnn()
    model.eval()
    scripted = torch.jit.script(model)
    caps = detect(scripted, image_data().train.x[:2])
    assert not caps.fx and not caps.functional and caps.scripted
    assert detect(model, image_data().train.x[:2]).functional
    dirs = random_dirs(model)
    coords = np.array([[0.0, 0.0], [0.3, -0.2], [-0.5, 0.4]])
    plain = Evaluator(model, dirs, image_data(), device="cpu", multi=False).evaluate(coords)
    script = Evaluator(scripted, dirs, image_data(), device="cpu").evaluate(coords)  # multi auto
    np.testing.assert_allclose(script["train_loss"], plain["train_loss"], rtol=1e-5)
    with pytest.raises(InputError, match="multi-point"):
        Evaluator(scripted, dirs, image_data(), device="cpu", multi=True).evaluate(coords)


def test_plane_params_are_the_written_point_and_differentiable():
    from torch.func import functional_call

    from lossviz_core.plane import Plane

    model = small_cnn().eval()
    dirs = random_dirs(model)
    plane = Plane(model, dirs)
    x = image_data().train.x[:8]
    a = torch.tensor(0.3, requires_grad=True)
    out_f = functional_call(model, plane.params(a, -0.2), (x,))
    out_f.sum().backward()
    assert a.grad is not None and torch.isfinite(a.grad)
    plane.write(0.3, -0.2)
    with torch.no_grad():
        out_w = model(x)
    plane.restore()
    torch.testing.assert_close(out_f.detach(), out_w, rtol=1e-5, atol=1e-6)
    assert all(torch.equal(t, s) for t, s in zip(plane.state_live, plane.state_theta, strict=True))
