"""The reference implementation's way of working, rebuilt faithfully so it can be timed.

tomgoldstein/loss-landscape, for every grid point (plot_surface.crunch):
``net_plotter.set_weights`` rebuilds each parameter on the CPU as
``p.data = w + torch.Tensor(d0*a + d1*b)`` from numpy directions, then
``evaluation.eval_loss`` moves the net to the device (``net.cuda()``), sets eval mode and
runs a ``DataLoader`` (batch 128, 2 workers, no shuffle) over a torchvision-style dataset
whose per-image transform is ``Compose([ToTensor(), Normalize(mean, std)])``, in fp32,
summing ``loss.item() * batch_size``. Its training script (cifar10/main.py) trains the
same way with ``RandomCrop(32, padding=4) + RandomHorizontalFlip`` on the CPU.

Nothing here is fast on purpose: it is the baseline the speed ratio is measured against.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

from lossviz_core.data import CIFAR_MEAN, CIFAR_STD, DIGITS_TEST_SIZE, Split

REFERENCE_BATCH = 128
REFERENCE_WORKERS = 2


# --------------------------------------------------------------------------- data


class ImageDataset(torch.utils.data.Dataset):
    """Raw HWC images (uint8 as torchvision's CIFAR10, or float) with a per-image transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        img = self.images[i]
        if img.dtype == np.uint8 and img.shape[-1] == 3:
            img = Image.fromarray(img)  # torchvision's CIFAR10 hands PIL images to ToTensor
        return self.transform(img), int(self.labels[i])


def eval_transform(mean, std) -> transforms.Compose:
    """The reference's evaluation transform: ToTensor + Normalize, one image at a time."""
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])


def train_transform(mean, std) -> transforms.Compose:
    """The reference's CIFAR-10 training transform (random crop with padding 4, flip)."""
    return transforms.Compose([
        transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
        transforms.ToTensor(), transforms.Normalize(mean, std),
    ])


def cifar_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random CIFAR-shaped images (uint8, N×32×32×3, as CIFAR-10 is stored) and labels."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.int64)
    return images, labels


def digits_raw() -> tuple[np.ndarray, np.ndarray, tuple[float], tuple[float]]:
    """sklearn digits' training split as raw float HWC images, labels, mean and std.

    The same split and scalar normalization as ``lossviz_core.data`` (checked by the tests),
    but left un-normalized so the reference path normalizes per image, as it would.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.data.astype(np.float32) / 16.0
    y = bunch.target.astype(np.int64)
    x_tr, _, y_tr, _ = train_test_split(x, y, test_size=DIGITS_TEST_SIZE, random_state=0,
                                        stratify=y)
    mean, std = float(x_tr.mean()), float(x_tr.std())
    return x_tr.reshape(-1, 8, 8, 1), y_tr, (mean,), (std,)


def normalized_split(images: np.ndarray, labels: np.ndarray, mean, std,
                     device: torch.device | str = "cpu") -> Split:
    """LossViz's side of the same data: one NCHW float tensor, normalized once."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float()
    if images.dtype == np.uint8:
        x = x / 255.0
    m = torch.tensor(mean, device=device, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device, dtype=torch.float32).view(1, -1, 1, 1)
    x = ((x - m) / s).contiguous()
    return Split(x, torch.from_numpy(labels).to(device=device, dtype=torch.int64))


CIFAR_NORM = (CIFAR_MEAN, CIFAR_STD)


# --------------------------------------------------------------------------- evaluation


def set_weights(net: nn.Module, weights: list[torch.Tensor], directions: list[list[np.ndarray]],
                step: tuple[float, ...]) -> None:
    """``net_plotter.set_weights``: every parameter rebuilt on the CPU from numpy directions."""
    if len(directions) == 2:
        changes = [d0 * step[0] + d1 * step[1] for d0, d1 in zip(*directions, strict=True)]
    else:
        changes = [d * step[0] for d in directions[0]]
    for p, w, d in zip(net.parameters(), weights, changes, strict=True):
        p.data = w + torch.Tensor(d).type(type(w))


def eval_loss(net: nn.Module, loader: DataLoader, device: torch.device) -> tuple[float, float]:
    """``evaluation.eval_loss`` with cross-entropy: move the net, eval mode, fp32, per batch."""
    correct, total_loss, total = 0, 0.0, 0
    net.to(device)
    net.eval()
    criterion = nn.CrossEntropyLoss()
    with torch.no_grad():
        for inputs, targets in loader:
            batch_size = inputs.size(0)
            total += batch_size
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = net(inputs)
            loss = criterion(outputs, targets)
            total_loss += loss.item() * batch_size
            _, predicted = outputs.max(1)
            correct += predicted.eq(targets).sum().item()
    return total_loss / total, 100.0 * correct / total


class ReferenceSurface:
    """The reference's per-point work on one model, data set and pair of directions.

    ``net`` must live on the CPU (the reference loads it there); θ is captured from it.
    """

    def __init__(self, net: nn.Module, d1: list[torch.Tensor], d2: list[torch.Tensor] | None,
                 images: np.ndarray, labels: np.ndarray, mean, std, device: torch.device,
                 batch_size: int = REFERENCE_BATCH, workers: int = REFERENCE_WORKERS) -> None:
        self.net = net.cpu().float()
        self.weights = [p.data.clone() for p in self.net.parameters()]
        # The reference reads its directions from HDF5: lists of float32 numpy arrays.
        self.directions = [[t.detach().cpu().float().numpy() for t in d] for d in (d1, d2)
                           if d is not None]
        self.device = torch.device(device)
        dataset = ImageDataset(images, labels, eval_transform(mean, std))
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                 num_workers=workers)

    def point(self, a: float, b: float = 0.0) -> tuple[float, float]:
        """Loss and accuracy (%) at (a, b), computed the reference's way."""
        step = (a, b) if len(self.directions) == 2 else (a,)
        set_weights(self.net, self.weights, self.directions, step)
        return eval_loss(self.net, self.loader, self.device)

    def timed_points(self, coords: np.ndarray) -> tuple[list[float], list[float]]:
        """Seconds and loss for each row of ``coords``; the device is synchronized per point."""
        seconds, losses = [], []
        for a, b in np.asarray(coords, dtype=float):
            synchronize(self.device)
            start = time.perf_counter()
            loss, _ = self.point(float(a), float(b))
            synchronize(self.device)
            seconds.append(time.perf_counter() - start)
            losses.append(loss)
        return seconds, losses


# --------------------------------------------------------------------------- training


def reference_train_epoch(net: nn.Module, images: np.ndarray, labels: np.ndarray, mean, std,
                          device: torch.device, lr: float = 0.1, seed: int = 0,
                          batch_size: int = REFERENCE_BATCH, workers: int = REFERENCE_WORKERS
                          ) -> dict[str, float]:
    """One epoch of the reference's CIFAR training loop; returns seconds, loss and accuracy.

    SGD (momentum 0.9, weight decay 5e-4), fp32, CPU augmentation in the DataLoader workers,
    ``loss.item()`` after every batch as the reference prints it. The clock includes the
    DataLoader's worker start, as every real epoch pays it.
    """
    torch.manual_seed(seed)
    net.to(device)
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    dataset = ImageDataset(images, labels, train_transform(mean, std))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)
    train_loss, correct, total = 0.0, 0, 0
    synchronize(device)
    start = time.perf_counter()
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = F.cross_entropy(outputs, targets)
        loss.backward()
        optimizer.step()
        train_loss += loss.item() * targets.size(0)
        correct += outputs.max(1)[1].eq(targets).sum().item()
        total += targets.size(0)
    synchronize(device)
    return {"seconds": time.perf_counter() - start, "loss": train_loss / total,
            "acc": 100.0 * correct / total, "images": total}


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work, so a wall clock measures it (no-op off CUDA)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
