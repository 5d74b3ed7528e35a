"""Image transforms for data decoded from files: ``cifar``, ``imagenet``, ``none``, or explicit.

``none``: to a tensor in [0, 1], nothing else. ``cifar``: the CIFAR-10 normalization.
``imagenet``: resize to 256, centre crop 224, the ImageNet normalization. ``size`` (resize
the short side to ``size``·256/224 and centre crop ``size`` for ``imagenet``, else resize
and centre crop ``size``), ``mean`` and ``std`` override a preset.
"""

from __future__ import annotations

from dataclasses import dataclass

from lossviz_core.data.cifar10 import CIFAR_MEAN, CIFAR_STD
from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import DatasetSpec

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRESETS = {
    "cifar": (None, CIFAR_MEAN, CIFAR_STD),
    "imagenet": (224, IMAGENET_MEAN, IMAGENET_STD),
    "none": (None, None, None),
}


@dataclass(frozen=True)
class ImageTransform:
    """A resolved transform: an optional size, an optional (mean, std)."""

    preset: str
    size: int | None
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None

    @property
    def resizes(self) -> bool:
        return self.size is not None

    def describe(self) -> str:
        parts = [self.preset]
        if self.size:
            parts.append(f"{self.size}px")
        if self.mean is not None:
            parts.append("normalized")
        return " ".join(parts)

    def torchvision(self, channels: int | None = None):
        """The torchvision transform: (to grayscale or RGB,) (resize, centre crop,) to tensor
        (, normalize). With one channel, a three-channel preset's mean and std are averaged."""
        from torchvision import transforms as T

        steps = []
        if channels == 1:
            steps.append(T.Grayscale(num_output_channels=1))
        elif channels == 3:
            steps.append(T.Lambda(_rgb))
        if self.size is not None:
            resize = round(self.size * 256 / 224) if self.preset == "imagenet" else self.size
            steps += [T.Resize(resize), T.CenterCrop(self.size)]
        steps.append(T.ToTensor())
        if self.mean is not None:
            mean, std = self.mean, self.std
            if channels is not None and len(mean) != channels:
                mean, std = (sum(mean) / len(mean),) * channels, (sum(std) / len(std),) * channels
            steps.append(T.Normalize(mean, std))
        return T.Compose(steps)


def _rgb(image):  # a module-level function: DataLoader workers pickle the transform
    return image.convert("RGB")


def resolve_transform(spec: DatasetSpec, default: str) -> ImageTransform:
    """The transform ``spec`` asks for (``auto``: ``default``), with its overrides applied."""
    preset = default if spec.transform == "auto" else spec.transform
    if preset not in PRESETS:
        raise InputError(f"unknown transform {preset!r}; choose one of {', '.join(PRESETS)}")
    size, mean, std = PRESETS[preset]
    size = spec.size if spec.size is not None else size
    if (spec.mean is None) != (spec.std is None):
        raise InputError("give both a mean and a std (one number per channel), or neither")
    if spec.mean is not None:
        if len(spec.mean) != len(spec.std):
            raise InputError(f"mean {spec.mean} and std {spec.std} need one number per channel each")
        mean, std = spec.mean, spec.std
    return ImageTransform(preset, size, mean, std)
