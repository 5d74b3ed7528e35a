"""Any data: image folders, torchvision datasets, a user's dataset function, losses; data
decoded once, or streamed, gives the same numbers."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from lossviz_core.cli import main
from lossviz_core.data import StreamSplit, load_dataset
from lossviz_core.errors import DataError, InputError
from lossviz_core.evaluation.evaluate import Evaluator
from lossviz_core.losses import batch_stats, resolve_loss
from lossviz_core.recipe.spec import DatasetSpec, LossSpec
from lossviz_core.results.store import read_result

CLASSES = ("ant", "bee", "cat")


def write_image_folder(root, per_class=(5, 3), size=(12, 10), seed=0):
    """PNG files in class folders: root/train/<class>/*.png and root/val/<class>/*.png."""
    rng = np.random.default_rng(seed)
    for split, n in zip(("train", "val"), per_class, strict=True):
        for c, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
                pixels[..., c] = 255 - 20 * i  # each class brighter in its own channel
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def reference_tensors(folder, transform):
    from torchvision.datasets import ImageFolder

    ds = ImageFolder(str(folder), transform=transform)
    xs, ys = zip(*(ds[i] for i in range(len(ds))), strict=True)
    return torch.stack(xs), torch.tensor(ys)


def test_image_folder_equals_torchvision_imagefolder(tmp_path):
    from torchvision import transforms as T

    root = write_image_folder(tmp_path / "imgs")
    ds = load_dataset(DatasetSpec(f"imagefolder:{root}", transform="none"))
    x, y = reference_tensors(root / "train", T.ToTensor())
    assert torch.equal(ds.train.x, x) and torch.equal(ds.train.y, y)
    xt, yt = reference_tensors(root / "val", T.ToTensor())
    assert torch.equal(ds.test.x, xt) and torch.equal(ds.test.y, yt)
    assert ds.num_classes == 3 and ds.input_shape == (3, 12, 10)
    assert 0.0 <= float(ds.train.x.min()) and float(ds.train.x.max()) <= 1.0

    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    # imagenet's recipe scaled down (resize to 8·256/224 ≈ 9, crop 8), own mean and std
    spec = DatasetSpec(f"imagefolder:{root}", transform="imagenet", size=8, mean=mean, std=std)
    ds = load_dataset(spec)
    x, _ = reference_tensors(root / "train", T.Compose([T.Resize(9), T.CenterCrop(8),
                                                         T.ToTensor(), T.Normalize(mean, std)]))
    torch.testing.assert_close(ds.train.x, x, rtol=0, atol=1e-6)
    assert ds.input_shape == (3, 8, 8)
    spec = DatasetSpec(f"imagefolder:{root}", transform="none", size=6)
    x, _ = reference_tensors(root / "train", T.Compose([T.Resize(6), T.CenterCrop(6),
                                                         T.ToTensor()]))
    torch.testing.assert_close(load_dataset(spec).train.x, x, rtol=0, atol=0)


def test_one_folder_of_classes_is_the_train_split(tmp_path):
    root = write_image_folder(tmp_path / "imgs")
    ds = load_dataset(DatasetSpec(f"imagefolder:{root / 'val'}", transform="none"))
    assert len(ds.train) == 9 and ds.test is None and ds.num_classes == 3


def test_streamed_evaluation_equals_the_on_device_one(tmp_path):
    root = write_image_folder(tmp_path / "imgs", per_class=(7, 2))
    spec = DatasetSpec(f"imagefolder:{root}", transform="none")
    kept = load_dataset(spec)
    streamed = load_dataset(spec.replace(cache="stream", workers=1))
    assert isinstance(streamed.train, StreamSplit) and "streamed" in streamed.storage
    assert "decoded once" in kept.storage
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 10 * 8, 3))
    g = torch.Generator().manual_seed(1)
    dirs = type("D", (), {"x": [torch.randn(p.shape, generator=g) * 0.1
                                for p in model.parameters()], "y": None,
                          "dir_type": "weights"})()
    coords = np.array([[0.0], [0.5], [-1.0]])
    a = Evaluator(model, dirs, kept, splits=("train", "test"), device="cpu", batch_size=4)
    b = Evaluator(model, dirs, streamed, splits=("train", "test"), device="cpu", batch_size=4)
    va, vb = a.evaluate(coords), b.evaluate(coords)
    for q in va:
        np.testing.assert_allclose(va[q], vb[q], rtol=1e-6)
    model.eval()
    with torch.no_grad():
        want = F.cross_entropy(model(kept.train.x), kept.train.y).item()
    assert va["train_loss"][0] == pytest.approx(want, rel=1e-6)


def _write_idx(path, array):
    """An MNIST-format (idx) file, gzipped as torchvision ships it."""
    dims = array.shape
    header = struct.pack(">HBB", 0, 0x08, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    with open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_torchvision_mnist_from_files_in_its_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = {"train": rng.integers(0, 256, (20, 28, 28)), "t10k": rng.integers(0, 256, (6, 28, 28))}
    labels = {"train": np.arange(20) % 10, "t10k": np.arange(6)}
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", images[split])
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels[split])
    ds = load_dataset(DatasetSpec("torchvision:MNIST", root=str(tmp_path)))
    expect = (torch.tensor(images["train"], dtype=torch.float32)[:, None] / 255 - 0.1307) / 0.3081
    torch.testing.assert_close(ds.train.x, expect, rtol=0, atol=1e-5)
    assert ds.train.y.tolist() == labels["train"].tolist() and len(ds.test) == 6
    assert ds.num_classes == 10 and ds.input_shape == (1, 28, 28)
    with pytest.raises(DataError, match="--download"):
        load_dataset(DatasetSpec("torchvision:MNIST", root=str(tmp_path / "empty")))
    with pytest.raises(InputError, match="CIFAR10"):
        load_dataset(DatasetSpec("torchvision:NoSuchSet"))
    assert gzip  # the idx files are read uncompressed here, as after torchvision's extraction


DATASET_PY = '''
import torch
from torch.utils.data import Dataset


class Squares(Dataset):
    classes = ("small", "large")

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.rand(n, 1, 4, 4, generator=g)
        self.y = (self.x.mean((1, 2, 3)) > 0.5).long()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def squares(split):
    return Squares(30, 0) if split == "train" else None


def regression(split):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(40, 5, generator=g)
    return x, x @ torch.arange(5.0)


def my_loss(outputs, targets):
    return torch.nn.functional.smooth_l1_loss(outputs.squeeze(-1), targets)
'''


def test_dataset_function_returning_a_dataset_and_a_user_loss(tmp_path, capsys):
    (tmp_path / "d.py").write_text(DATASET_PY)
    ds = load_dataset(DatasetSpec(f"{tmp_path / 'd.py'}:squares"))
    assert len(ds.train) == 30 and ds.test is None and ds.num_classes == 2
    assert ds.input_shape == (1, 4, 4)
    # a regression on float targets with the user's loss (no accuracy to count)
    (tmp_path / "m.py").write_text(
        "import torch\ndef lin():\n    torch.manual_seed(0)\n    return torch.nn.Linear(5, 1)\n")
    out = tmp_path / "reg.h5"
    code = main(["line", "--model", f"{tmp_path / 'm.py'}:lin", "--dataset",
                 f"{tmp_path / 'd.py'}:regression", "--loss", f"{tmp_path / 'd.py'}:my_loss",
                 "--x=-1:1:3", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    r = read_result(out)
    assert set(r.values) == {"train_loss"}
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 1)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(40, 5, generator=g)
    with torch.no_grad():
        want = F.smooth_l1_loss(lin(x).squeeze(-1), x @ torch.arange(5.0)).item()
    assert r.values["train_loss"][1] == pytest.approx(want, rel=1e-5)


def test_builtin_losses_per_sample_sums():
    g = torch.Generator().manual_seed(0)
    out = torch.randn(6, 4, generator=g)
    y = torch.tensor([0, 1, 2, 3, 1, 0])
    s, c = batch_stats(out, y, resolve_loss(LossSpec("ce", label_smoothing=0.1)))
    assert float(s) == pytest.approx(6 * F.cross_entropy(out, y, label_smoothing=0.1).item(),
                                     rel=1e-6)
    assert float(c) == (out.argmax(1) == y).sum()
    s, _ = batch_stats(out.log_softmax(1), y, "nll")
    assert float(s) == pytest.approx(6 * F.nll_loss(out.log_softmax(1), y).item(), rel=1e-6)
    t = (torch.rand(6, generator=g) > 0.5).float()
    s, c = batch_stats(out[:, :1], t, "bce")
    assert float(s) == pytest.approx(
        6 * F.binary_cross_entropy_with_logits(out[:, 0], t).item(), rel=1e-6)
    assert float(c) == ((out[:, 0] > 0) == (t > 0.5)).sum()
    stacked = torch.stack([out, 2 * out])  # K = 2 points at once
    s, _ = batch_stats(stacked, y, "ce", lead=1)
    assert s.shape == (2,) and float(s[1]) == pytest.approx(
        6 * F.cross_entropy(2 * out, y).item(), rel=1e-6)
    with pytest.raises(InputError):
        LossSpec("hinge")


def test_data_placement_is_reported_by_the_cli(tmp_path, capsys):
    root = write_image_folder(tmp_path / "imgs", per_class=(4, 2), size=(8, 8))
    (tmp_path / "m.py").write_text(
        "import torch\ndef net(num_classes=3):\n    torch.manual_seed(0)\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, num_classes))\n")
    for cache, words in (("auto", "decoded once, on the device"),
                         ("stream", "streamed through a DataLoader")):
        out = tmp_path / f"{cache}.h5"
        code = main(["line", "--model", f"{tmp_path / 'm.py'}:net", "--dataset",
                     f"imagefolder:{root}", "--transform", "none", "--data-cache", cache,
                     "--data-workers", "0", "--x=-1:1:3", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 0, err
        assert words in err
    a = read_result(tmp_path / "auto.h5").values["train_loss"]
    b = read_result(tmp_path / "stream.h5").values["train_loss"]
    np.testing.assert_allclose(a, b, rtol=1e-6)


GRAY_MODEL = (
    "import torch\n"
    "def net(num_classes=3):\n"
    "    torch.manual_seed(0)\n"
    "    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(),\n"
    "                               torch.nn.Linear(2 * 10 * 8, num_classes))\n")


def test_a_grayscale_model_reads_an_image_folder_in_one_channel(tmp_path, capsys):
    """--channels auto reads the model's first layer (1 channel): the centre equals plain
    PyTorch's loss on the images converted to grayscale; --channels 3 is one line naming the
    control that fixes it."""
    from torchvision import transforms as T

    from lossviz_core.cli import main
    from lossviz_core.results.store import read_result

    root = write_image_folder(tmp_path / "imgs")
    (tmp_path / "m.py").write_text(GRAY_MODEL)
    args = ["surface", "--model", f"{tmp_path / 'm.py'}:net", "--dataset", f"imagefolder:{root}",
            "--transform", "none", "--x=-1:1:3", "--y=-1:1:3", "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "g.h5")]) == 0
    x, y = reference_tensors(root / "train", T.Compose([T.Grayscale(1), T.ToTensor()]))
    assert x.shape[1] == 1
    import importlib.util

    spec = importlib.util.spec_from_file_location("gray", tmp_path / "m.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with torch.no_grad():
        want = F.cross_entropy(mod.net(3)(x), y).item()
    r = read_result(tmp_path / "g.h5")
    assert r.values["train_loss"][1, 1] == pytest.approx(want, rel=1e-5)
    assert r.recipe.dataset.options == {}  # the recipe keeps "auto": the model decides
    capsys.readouterr()
    assert main([*args, "--channels", "3", "--out", str(tmp_path / "rgb.h5")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    assert len(err) == 1 and "takes 1 input channel" in err[0]
    assert "--channels auto|1|3 (the Dataset panel's Channels)" in err[0]
