"""Training-time augmentation on device-resident batches (no DataLoader, no PIL).

The reference trains CIFAR-10 with ``RandomCrop(32, padding=4)`` and
``RandomHorizontalFlip()``; here both act on a whole batch of tensors at once. The random
numbers come from a seeded CPU generator, so a run augments identically on every device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lossviz_core.errors import InputError

AUGMENTS = ("auto", "none", "crop", "flip", "crop_flip", "on", "off")


@dataclass(frozen=True)
class Augmentation:
    """What to do to each training batch: crop padding in pixels (0: none), flip or not."""

    pad: int = 0
    flip: bool = False

    @property
    def active(self) -> bool:
        return self.pad > 0 or self.flip


def resolve_augment(name: str, input_shape: tuple[int, ...]) -> Augmentation:
    """Turn an ``augment`` option into an :class:`Augmentation` for images of ``input_shape``.

    ``auto``: crop + flip for CIFAR-shaped colour images (3 channels, at least 16x16), none
    otherwise; 8x8 digits are too small to crop and flipping would change what they mean.
    ``on``: crop, plus flip for colour images (never mirror grey digits); ``off``: ``none``.
    The crop pads by ``H // 8`` pixels: 4 for 32x32 (the reference), 1 for 8x8.
    """
    if name not in AUGMENTS:
        raise InputError(f"unknown augment {name!r}; choose one of {', '.join(AUGMENTS)}")
    is_image = len(input_shape) == 3
    if name == "auto":
        cifar_like = is_image and input_shape[0] == 3 and min(input_shape[1:]) >= 16
        name = "crop_flip" if cifar_like else "none"
    elif name == "on":
        name = "crop_flip" if is_image and input_shape[0] == 3 else "crop"
    elif name == "off":
        name = "none"
    if name != "none" and not is_image:
        raise InputError(f"augment {name!r} needs image inputs (C, H, W), got shape {input_shape}")
    pad = max(1, int(input_shape[1]) // 8) if "crop" in name else 0
    return Augmentation(pad=pad, flip="flip" in name)


def augment_batch(
    x: torch.Tensor, aug: Augmentation, generator: torch.Generator, fill: torch.Tensor | None = None
) -> torch.Tensor:
    """Randomly crop (after padding with ``fill`` per channel, default 0) and flip a batch."""
    if aug.pad > 0:
        x = random_crop(x, aug.pad, generator, fill)
    if aug.flip:
        x = random_flip(x, generator)
    return x


def random_crop(
    x: torch.Tensor, pad: int, generator: torch.Generator, fill: torch.Tensor | None = None
) -> torch.Tensor:
    """Pad every image by ``pad`` and cut an (H, W) window at a random offset per image."""
    b, c, h, w = x.shape
    offsets = _to(torch.randint(0, 2 * pad + 1, (b, 2), generator=generator), x.device)
    xp = F.pad(x, (pad, pad, pad, pad))
    if fill is not None:
        # Padding with the data's own "black" (its normalized zero pixel), as torchvision does.
        border = torch.ones(1, 1, h, w, device=x.device, dtype=x.dtype)
        border = F.pad(border, (pad, pad, pad, pad)) == 0
        xp = torch.where(border, fill.view(1, c, 1, 1).to(x), xp)
    rows = offsets[:, 0:1] + torch.arange(h, device=x.device)  # (b, h)
    cols = offsets[:, 1:2] + torch.arange(w, device=x.device)  # (b, w)
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (b, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous(memory_format=_format_of(x))


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = _to(torch.rand(x.shape[0], generator=generator) < 0.5, x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def _to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The seeded CPU draws onto the device without a host sync (pinned, non-blocking)."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def _format_of(x: torch.Tensor) -> torch.memory_format:
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format
