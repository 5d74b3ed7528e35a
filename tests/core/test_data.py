"""Datasets: digits split and normalization, CIFAR-10 on-disk format, .npz tensors, subsample."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from lossviz_core import data
from lossviz_core.data import CIFAR_MEAN, CIFAR_STD, load_dataset
from lossviz_core.errors import DataError, InputError
from lossviz_core.recipe.spec import DatasetSpec


def test_digits_split_and_normalization():
    ds = load_dataset(DatasetSpec("digits"))
    assert (len(ds.train), len(ds.test)) == (1797 - 360, 360)
    assert ds.train.x.shape == (1437, 1, 8, 8) and ds.test.x.shape == (360, 1, 8, 8)
    assert ds.train.x.dtype == torch.float32 and ds.train.y.dtype == torch.int64
    assert (ds.num_classes, ds.input_shape) == (10, (1, 8, 8))
    # One scalar mean/std from the train split: it is standardized exactly.
    assert abs(ds.train.x.mean().item()) < 1e-5
    assert abs(ds.train.x.std(unbiased=False).item() - 1) < 1e-4
    # Stratified: 36 test images per class (give or take one).
    counts = torch.bincount(ds.test.y, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    # Undoing the affine map gives the raw 0..16 pixel counts of sklearn's digits.
    x = torch.cat([ds.train.x, ds.test.x]).flatten()
    lo, hi = x.min(), x.max()
    raw = (x - lo) / (hi - lo) * 16
    assert torch.allclose(raw, raw.round(), atol=1e-3)
    assert raw.round().max() == 16 and raw.round().min() == 0


def test_digits_is_deterministic_and_not_shared():
    a, b = load_dataset(DatasetSpec("digits")), load_dataset(DatasetSpec("digits"))
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    a.train.x.add_(1.0)  # a caller's in-place change must not leak into the next load
    assert torch.equal(load_dataset(DatasetSpec("digits")).train.x, b.train.x)


def test_subsample_is_seeded_subset():
    full = load_dataset(DatasetSpec("digits"))
    s1 = load_dataset(DatasetSpec("digits", subsample=100, subsample_seed=1))
    s1b = load_dataset(DatasetSpec("digits", subsample=100, subsample_seed=1))
    s2 = load_dataset(DatasetSpec("digits", subsample=100, subsample_seed=2))
    assert (len(s1.train), len(s1.test)) == (100, 100)
    assert torch.equal(s1.train.x, s1b.train.x)
    assert not torch.equal(s1.train.x, s2.train.x)
    # Every kept row is a row of the full split, label included.
    rows = {
        (tuple(x.flatten().tolist()), int(y))
        for x, y in zip(full.train.x, full.train.y, strict=True)
    }
    kept = zip(s1.train.x, s1.train.y, strict=True)
    assert all((tuple(x.flatten().tolist()), int(y)) in rows for x, y in kept)
    big = load_dataset(DatasetSpec("digits", subsample=10_000))
    assert torch.equal(big.test.x, full.test.x)
    with pytest.raises(InputError):
        load_dataset(DatasetSpec("digits", subsample=0))


def test_unknown_dataset():
    with pytest.raises(InputError, match="unknown dataset 'mnist'"):
        load_dataset(DatasetSpec("mnist"))


def _write_fake_cifar(root, n_train=4, n_test=3, byte_keys=False):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    pattern = (np.arange(3072) % 256).astype(np.uint8)  # distinct value per (c, h, w)
    key = (lambda s: s.encode()) if byte_keys else (lambda s: s)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for j, name in enumerate(names):
        n = n_test if name == "test_batch" else n_train
        rows = np.stack([np.roll(pattern, 10 * j + i) for i in range(n)])
        labels = [(j + i) % 10 for i in range(n)]
        with open(folder / name, "wb") as f:
            pickle.dump(
                {
                    key("batch_label"): name,
                    key("data"): rows,
                    key("labels"): labels,
                    key("filenames"): [f"{i}.png" for i in range(n)],
                },
                f,
            )
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({key("label_names"): [f"c{i}" for i in range(10)]}, f)
    return pattern


@pytest.mark.parametrize("byte_keys", [False, True])
def test_cifar10_reads_the_batch_files(tmp_path, byte_keys):
    pattern = _write_fake_cifar(tmp_path, byte_keys=byte_keys)
    ds = load_dataset(DatasetSpec("cifar10", root=str(tmp_path)))
    assert ds.train.x.shape == (20, 3, 32, 32) and ds.test.x.shape == (3, 3, 32, 32)
    assert ds.train.y.tolist()[:5] == [0, 1, 2, 3, 1]
    assert ds.test.y.tolist() == [5, 6, 7]
    # Image 1 of data_batch_1 is the pattern rolled by 1; rows are channel-major (NCHW).
    raw = np.roll(pattern, 1).reshape(3, 32, 32).astype(np.float64)
    mean = np.array(CIFAR_MEAN).reshape(3, 1, 1)
    std = np.array(CIFAR_STD).reshape(3, 1, 1)
    expected = (raw / 255 - mean) / std
    assert np.allclose(ds.train.x[1].numpy(), expected, atol=1e-5)
    assert ds.train.x.dtype == torch.float32 and ds.train.y.dtype == torch.int64
    # Pointing at the batches folder itself works too.
    ds2 = load_dataset(
        DatasetSpec("cifar10", root=str(tmp_path / "cifar-10-batches-py"), subsample=2)
    )
    assert len(ds2.train) == 2 and len(ds2.test) == 2


def test_cifar10_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSpec("cifar10", root=str(tmp_path)))
    msg = str(err.value)
    assert str(tmp_path) in msg and "--download" in msg and "--data-root" in msg


def test_cifar10_malformed_batch(tmp_path):
    _write_fake_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset(DatasetSpec("cifar10", root=str(tmp_path)))


def test_cifar10_refuses_code_in_a_batch(tmp_path):
    _write_fake_cifar(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": print}, f)  # a global outside the CIFAR format
    with pytest.raises(DataError, match="builtins.print"):
        load_dataset(DatasetSpec("cifar10", root=str(tmp_path)))


def test_cifar10_download_goes_through_torchvision(tmp_path, monkeypatch):
    import torchvision

    calls = []

    def fake_cifar10(root, train=True, download=False):
        calls.append((root, train, download))
        _write_fake_cifar(tmp_path / "dl")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", fake_cifar10)
    ds = load_dataset(DatasetSpec("cifar10", root=str(tmp_path / "dl"), download=True))
    assert calls == [(str(tmp_path / "dl"), False, True)]
    assert len(ds.train) == 20

    def offline(root, train=True, download=False):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError, match="network unreachable"):
        load_dataset(DatasetSpec("cifar10", root=str(tmp_path / "other"), download=True))


def test_default_cifar_root(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.default_cifar_root() == tmp_path / ".cache" / "lossviz" / "cifar10"


def test_tensors_file(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2, 3)).astype(np.float64), np.array([0, 1, 4, 1, 0, 2])
    xt, yt = rng.normal(size=(2, 2, 3)), np.array([5, 0], dtype=np.int32)
    path = tmp_path / "t.npz"
    np.savez(path, x=x, y=y, x_test=xt, y_test=yt)
    ds = load_dataset(DatasetSpec(f"tensors:{path}"))
    assert torch.equal(ds.train.x, torch.tensor(x, dtype=torch.float32))  # used as given
    assert ds.test.y.tolist() == [5, 0] and ds.test.y.dtype == torch.int64
    assert ds.num_classes == 6 and ds.input_shape == (2, 3)
    np.savez(tmp_path / "train_only.npz", x=x, y=y)
    only = load_dataset(DatasetSpec(f"tensors:{tmp_path / 'train_only.npz'}"))
    assert only.test is None and only.num_classes == 5
    with pytest.raises(DataError, match="no test split"):
        only.split("test")


def test_tensors_file_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_dataset(DatasetSpec(f"tensors:{tmp_path / 'missing.npz'}"))
    np.savez(tmp_path / "nox.npz", y=np.arange(3))
    with pytest.raises(DataError, match="lacks array"):
        load_dataset(DatasetSpec(f"tensors:{tmp_path / 'nox.npz'}"))
    np.savez(tmp_path / "half.npz", x=np.zeros((3, 2)), y=np.arange(3), x_test=np.zeros((1, 2)))
    with pytest.raises(DataError, match="together"):
        load_dataset(DatasetSpec(f"tensors:{tmp_path / 'half.npz'}"))
    np.savez(tmp_path / "len.npz", x=np.zeros((3, 2)), y=np.arange(4))
    with pytest.raises(DataError):
        load_dataset(DatasetSpec(f"tensors:{tmp_path / 'len.npz'}"))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(DatasetSpec(f"tensors:{tmp_path / 'junk.npz'}"))


def test_data_too_large_for_the_gpu_stays_on_the_host(monkeypatch):
    """A split larger than 30 % of free GPU memory is kept (pinned) on the host to stream."""
    import lossviz_core.data as data_mod
    import lossviz_core.device as device_mod

    monkeypatch.setattr(device_mod.torch.cuda, "mem_get_info", lambda dev=None: (1000, 10_000))
    monkeypatch.setattr(data_mod.torch.Tensor, "pin_memory", lambda self: self)
    assert device_mod.fits_on_device(300, torch.device("cuda"))
    assert not device_mod.fits_on_device(301, torch.device("cuda"))
    assert device_mod.fits_on_device(10**12, torch.device("cpu"))
    split = data_mod.Split(torch.zeros(100, 1, 8, 8), torch.zeros(100, dtype=torch.long))
    kept = data_mod._to_device(split, torch.device("cuda"), "digits")  # 25,600 bytes > 300
    assert kept.x.device.type == "cpu" and kept.y.device.type == "cpu"
