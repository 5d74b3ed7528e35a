"""Directions: normalization measured on the result, seeds, target, cosine, HDF5 files."""

import math

import h5py
import numpy as np
import pytest
import torch
from fakes import TinyNet

from lossviz_core.directions import (
    Directions,
    cosine_similarity,
    load_directions,
    make_directions,
    names_of,
    normalize_direction,
    random_direction,
    save_directions,
    target_direction,
    weights_of,
)
from lossviz_core.errors import CheckpointError, InputError, StoreError
from lossviz_core.recipe.spec import DirectionSpec
from lossviz_core.sources.checkpoints import save_checkpoint


def make_net(seed: int = 0, classes: int = 10) -> TinyNet:
    torch.manual_seed(seed)
    net = TinyNet(classes)
    with torch.no_grad():  # non-trivial BN state, so copies of θ are visible
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.normal_()
        net.bn.running_mean.normal_()
        net.bn.running_var.uniform_(0.5, 2.0)
        net.bn.num_batches_tracked.fill_(7)
    return net


def rows_norm(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).norm(dim=1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_weights_and_names_alignment():
    net = make_net()
    w, n = weights_of(net, "weights"), names_of(net, "weights")
    assert n == ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "fc.weight", "fc.bias"]
    assert w[0].data_ptr() == net.conv.weight.data_ptr()  # shares storage, not a copy
    s, sn = weights_of(net, "states"), names_of(net, "states")
    assert len(s) == len(sn) == 9 and sn[6] == "bn.num_batches_tracked"
    with pytest.raises(InputError):
        weights_of(net, "bogus")


def test_filter_normalization_matches_per_filter_norms():
    net = make_net()
    d = random_direction(net, "weights", "filter", "biasbn", gen(1))
    for name, di, wi in zip(names_of(net), d, weights_of(net), strict=True):
        assert di.shape == wi.shape
        if wi.dim() > 1:  # conv filters (8 of 1x3x3) and Linear rows (10 of 288)
            torch.testing.assert_close(rows_norm(di), rows_norm(wi), rtol=1e-5, atol=0)
        else:
            assert torch.count_nonzero(di) == 0, name
    d_none = random_direction(net, "weights", "filter", "none", gen(1))
    for di, dn, wi in zip(d, d_none, weights_of(net), strict=True):
        # the draw does not depend on ignore; 1-D entries are a copy of θ
        assert torch.equal(dn, wi) if wi.dim() <= 1 else torch.equal(dn, di)


def test_other_normalizations():
    net = make_net()
    w = weights_of(net)
    raw = random_direction(net, norm="none", generator=gen(3))
    # 'none' is the generator's stream itself, tensor by tensor in parameters() order
    g = gen(3)
    expect = [torch.randn(t.shape, generator=g) for t in w]
    torch.testing.assert_close(raw[0], expect[0], rtol=0, atol=0)
    torch.testing.assert_close(raw[4], expect[4], rtol=0, atol=0)

    layer = random_direction(net, norm="layer", generator=gen(3))
    weight = random_direction(net, norm="weight", generator=gen(3))
    dfilter = random_direction(net, norm="dfilter", generator=gen(3))
    dlayer = random_direction(net, norm="dlayer", generator=gen(3))
    for i in (0, 4):
        torch.testing.assert_close(layer[i].norm(), w[i].norm(), rtol=1e-5, atol=0)
        torch.testing.assert_close(weight[i], raw[i] * w[i], rtol=0, atol=0)
        torch.testing.assert_close(
            rows_norm(dfilter[i]), torch.ones(w[i].shape[0]), rtol=1e-5, atol=0
        )
        torch.testing.assert_close(dlayer[i].norm(), torch.tensor(1.0), rtol=1e-5, atol=0)
        # direction only rescaled, never rotated
        assert cosine_similarity([layer[i]], [raw[i]]) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(InputError):
        normalize_direction(torch.ones(2, 2), torch.ones(2, 2), "bogus")


def test_seed_reproducible_and_states_leave_int_buffers():
    net = make_net()
    spec = DirectionSpec(method="random", seed=5)
    a, b = make_directions(net, spec, True), make_directions(net, spec, True)
    assert all(torch.equal(p, q) for p, q in zip(a.x + a.y, b.x + b.y, strict=True))
    c = make_directions(net, spec.replace(seed=6), True)
    assert not torch.equal(a.x[0], c.x[0])
    assert not torch.equal(a.x[0], a.y[0])  # y continues the stream, it is not x again
    # x is the stream's start: a 1-D run with the same seed gives the same d1
    assert torch.equal(make_directions(net, spec, False).x[4], a.x[4])

    st = make_directions(net, spec.replace(dir_type="states", xignore="none"), True)
    sw = dict(zip(names_of(net, "states"), weights_of(net, "states"), strict=True))
    for name, d in zip(st.names, st.x, strict=True):
        assert d.shape == sw[name].shape and d.dtype == sw[name].dtype
    nbt = st.names.index("bn.num_batches_tracked")
    assert st.x[nbt].dtype == torch.int64 and int(st.x[nbt]) == 0
    assert int(st.y[nbt]) == 0
    assert torch.equal(st.x[st.names.index("bn.running_var")], net.bn.running_var)
    assert st.y[st.names.index("bn.running_var")].abs().sum() == 0  # yignore biasbn


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_seed_same_direction_on_cuda():
    net = make_net()
    spec = DirectionSpec(method="random", seed=11)
    cpu = make_directions(net, spec, True)
    gpu = make_directions(net.cuda(), spec, True)
    assert gpu.x[0].device.type == "cuda"
    assert all(torch.equal(p, q.cpu()) for p, q in zip(cpu.x + cpu.y, gpu.x + gpu.y, strict=True))


def test_target_direction_is_exact_difference(tmp_path):
    net_a, net_b = make_net(0), make_net(1)
    d = target_direction(net_a, net_b.state_dict())
    for di, a, b in zip(d, weights_of(net_a), weights_of(net_b), strict=True):
        assert torch.equal(di, b - a)
    ds = target_direction(net_a, net_b.state_dict(), "states", state_a=make_net(2).state_dict())
    s2 = make_net(2).state_dict()
    for name, di in zip(names_of(net_a, "states"), ds, strict=True):
        b = net_b.state_dict()[name]
        assert torch.equal(di, torch.zeros_like(b) if name.endswith("tracked") else b - s2[name])

    path = tmp_path / "b.pt"
    save_checkpoint(net_b, path, epoch=3)
    spec = DirectionSpec(method="target", params={"checkpoint": str(path)}, seed=4)
    dirs = make_directions(net_a, spec, True)
    assert all(torch.equal(p, q) for p, q in zip(dirs.x, d, strict=True))
    assert dirs.info["method"] == "target"
    dist = math.sqrt(
        sum(
            float(((b - a) ** 2).sum())
            for a, b in zip(weights_of(net_a), weights_of(net_b), strict=True)
        )
    )
    assert dirs.info["x_norm"] == pytest.approx(dist, rel=1e-9)
    torch.testing.assert_close(rows_norm(dirs.y[4]), rows_norm(net_a.fc.weight), rtol=1e-5, atol=0)

    with pytest.raises(CheckpointError, match="fc.weight"):
        target_direction(net_a, make_net(0, classes=5).state_dict())
    with pytest.raises(InputError, match="target checkpoint"):
        make_directions(net_a, DirectionSpec(method="target"), False)


def test_cosine_of_random_directions_small_and_reported():
    net = make_net()
    dirs = make_directions(net, DirectionSpec(seed=0, xignore="none", yignore="none"), True)
    x = torch.cat([t.flatten() for t in dirs.x]).double().numpy()
    y = torch.cat([t.flatten() for t in dirs.y]).double().numpy()
    # bias/BN entries copy θ in both directions, so the cosine is not ~0 with ignore=none
    expect = x @ y / (np.linalg.norm(x) * np.linalg.norm(y))
    assert dirs.info["cosine"] == pytest.approx(expect, abs=1e-12)
    assert dirs.info["x_norm"] == pytest.approx(np.linalg.norm(x), rel=1e-12)

    dirs = make_directions(net, DirectionSpec(seed=0), True)
    assert abs(dirs.info["cosine"]) < 0.2
    assert dirs.info["cosine"] == pytest.approx(cosine_similarity(dirs.x, dirs.y), abs=0)
    assert cosine_similarity(dirs.x, dirs.x) == pytest.approx(1.0, abs=1e-12)
    assert cosine_similarity(dirs.x, [-t for t in dirs.x]) == pytest.approx(-1.0, abs=1e-12)
    assert dirs.two_d and dirs.to("cpu").x[0].device.type == "cpu"


def test_reference_file_imports(tmp_path):
    net = make_net()
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(tuple(w.shape)).astype(np.float32) for w in weights_of(net)]
    path = tmp_path / "ref.h5"
    with h5py.File(path, "w") as f:  # exactly h5_util.write_list
        grp = f.create_group("xdirection")
        for i, a in enumerate(xs):
            grp.create_dataset(str(i), data=a)
    dirs = load_directions(path, net, "weights")
    assert dirs.y is None and dirs.info["method"] == "file"
    assert all(np.array_equal(t.numpy(), a) for t, a in zip(dirs.x, xs, strict=True))
    with pytest.raises(InputError, match="ydirection"):
        make_directions(net, DirectionSpec(method="file", params={"file": str(path)}), True)
    assert make_directions(net, DirectionSpec(method="file", params={"file": str(path)}), False).x[0].shape == (
        8,
        1,
        3,
        3,
    )


def test_export_round_trip_and_reference_layout(tmp_path):
    net = make_net()
    dirs = make_directions(net, DirectionSpec(seed=2), True)
    path = tmp_path / "dirs.h5"
    save_directions(path, dirs)
    assert [p.name for p in tmp_path.iterdir()] == ["dirs.h5"]  # no temp file left
    with h5py.File(path, "r") as f:
        assert set(f.keys()) == {"xdirection", "ydirection", "lossviz"}
        n = len(weights_of(net))
        for g in ("xdirection", "ydirection"):
            assert set(f[g].keys()) == {str(i) for i in range(n)}
            # the reference's read_list
            ref = [f[g][str(i)][()] for i in range(len(f[g]))]
            assert [a.dtype for a in ref] == [np.float32] * n
    back = load_directions(path, net, "weights")
    assert all(torch.equal(p, q) for p, q in zip(dirs.x + dirs.y, back.x + back.y, strict=True))
    assert back.names == dirs.names and back.info["source_method"] == "random"
    assert back.info["cosine"] == dirs.info["cosine"]


def test_file_mismatch_and_corruption(tmp_path):
    net = make_net()
    other = make_directions(make_net(classes=5), DirectionSpec(), True)
    path = tmp_path / "other.h5"
    save_directions(path, other)
    with pytest.raises(
        InputError, match=r"xdirection/4: file \(5, 288\), model fc.weight \(10, 288\)"
    ):
        load_directions(path, net, "weights")

    states = make_directions(net, DirectionSpec(dir_type="states"), False)
    save_directions(path, states)
    with pytest.raises(InputError, match="states"):
        load_directions(path, net, "weights")
    with h5py.File(path, "a") as f:  # a reference-style file: no lossviz group to tell
        del f["lossviz"]
    with pytest.raises(
        InputError, match=r"9 tensors but the model has 6 weights \(it fits dir_type states\)"
    ):
        load_directions(path, net, "weights")

    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(StoreError):
        load_directions(bad, net, "weights")
    with pytest.raises(StoreError):
        load_directions(tmp_path / "missing.h5", net, "weights")
    with h5py.File(bad, "w") as f:
        f.create_group("something_else")
    with pytest.raises(StoreError, match="xdirection"):
        load_directions(bad, net, "weights")


def test_directions_dataclass_one_d():
    net = make_net()
    d = Directions(random_direction(net, generator=gen()), None, "weights", names_of(net), {})
    d.fill_info(method="random")
    assert not d.two_d and "cosine" not in d.info and d.info["y_norm"] is None
