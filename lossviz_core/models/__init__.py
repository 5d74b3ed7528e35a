"""The model zoo: a registry of named architectures with their input shapes.

``build_model("resnet56")`` returns a fresh ``nn.Module``; ``model_info`` says which dataset
it expects. CIFAR ResNets and VGG-9 use the reference implementation's parameter names
(tomgoldstein/loss-landscape), so its checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn

from ..errors import InputError
from .cifar_resnet import cifar_resnet
from .digits import DIGITS_RESNET_DEPTHS, DigitsCNN, DigitsMLP, digits_resnet
from .gpt import CONTEXT, GPT_DEPTHS, VOCAB, tiny_gpt
from .vgg import vgg9

__all__ = ["ModelInfo", "build_model", "list_models", "model_info", "register_model"]

DATASETS = ("digits", "cifar10", "shakespeare")


@dataclass(frozen=True)
class ModelInfo:
    """What the zoo knows about a model: its family, dataset and input shape (C, H, W)."""

    name: str
    family: str
    dataset: str
    input_shape: tuple[int, ...]
    num_classes: int
    description: str


_REGISTRY: dict[str, tuple[ModelInfo, Callable[..., nn.Module]]] = {}


def register_model(
    name: str,
    factory: Callable[..., nn.Module],
    *,
    family: str,
    dataset: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    description: str,
) -> ModelInfo:
    """Add ``factory(num_classes=...) -> nn.Module`` to the zoo under ``name``."""
    info = ModelInfo(
        name, family, dataset, tuple(int(s) for s in input_shape), int(num_classes), description
    )
    _REGISTRY[name] = (info, factory)
    return info


def _lookup(name: str) -> tuple[ModelInfo, Callable[..., nn.Module]]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown model {name!r}; available: {', '.join(_REGISTRY)}") from None


def model_info(name: str) -> ModelInfo:
    """The zoo entry for ``name``; ``InputError`` listing the zoo if there is none."""
    return _lookup(name)[0]


def list_models() -> list[ModelInfo]:
    """Every registered model, in registration order."""
    return [info for info, _ in _REGISTRY.values()]


def build_model(name: str, num_classes: int | None = None) -> nn.Module:
    """A freshly initialized model ``name`` (``num_classes`` defaults to the zoo's)."""
    info, factory = _lookup(name)
    n = info.num_classes if num_classes is None else int(num_classes)
    if n < 1:
        raise InputError(f"number of classes must be >= 1, got {num_classes}")
    return factory(num_classes=n)


def _register_builtin() -> None:
    for depth in (20, 32, 44, 56, 110):
        for short in (True, False):
            register_model(
                f"resnet{depth}" + ("" if short else "_noshort"),
                partial(cifar_resnet, depth, short),
                family="resnet" if short else "resnet_noshort",
                dataset="cifar10",
                input_shape=(3, 32, 32),
                num_classes=10,
                description=f"ResNet-{depth} for CIFAR-10 (He et al.), "
                + ("with skip connections" if short else "without skip connections"),
            )
    register_model(
        "vgg9",
        vgg9,
        family="vgg",
        dataset="cifar10",
        input_shape=(3, 32, 32),
        num_classes=10,
        description="VGG-9 for CIFAR-10: 7 conv + 2 fully connected",
    )
    digits = dict(dataset="digits", input_shape=(1, 8, 8), num_classes=10)
    register_model(
        "digits_mlp",
        DigitsMLP,
        family="mlp",
        **digits,
        description="MLP for 8x8 digits: 64 -> 64 -> 10",
    )
    register_model(
        "digits_cnn",
        DigitsCNN,
        family="cnn",
        **digits,
        description="small CNN for 8x8 digits: 8/16 channels with BatchNorm",
    )
    register_model(
        "digits_resnet",
        partial(digits_resnet, True),
        family="resnet",
        **digits,
        description="small ResNet for 8x8 digits: 8/16 channels, 2 blocks per stage",
    )
    register_model(
        "digits_resnet_noshort",
        partial(digits_resnet, False),
        family="resnet_noshort",
        **digits,
        description="the small digits ResNet without skip connections",
    )
    for depth in DIGITS_RESNET_DEPTHS:  # the depth study on digits (docs/studies.md)
        for short in (True, False):
            register_model(
                f"digits_resnet{depth}" + ("" if short else "_noshort"),
                partial(digits_resnet, short, depth=depth),
                family="resnet" if short else "resnet_noshort",
                **digits,
                description=f"digits ResNet-{depth}: 8/16 channels, {(depth - 2) // 4} blocks "
                "per stage, " + ("with skip connections" if short else "without skip connections"),
            )

    text = dict(dataset="shakespeare", input_shape=(CONTEXT,), num_classes=VOCAB)
    register_model("tiny_gpt", tiny_gpt, family="gpt", **text,
                   description="tiny GPT for the bundled text: 2 blocks, width 64, bytes")
    for depth in GPT_DEPTHS:  # the depth study on text (with and without residuals)
        for residual in (True, False):
            register_model(
                f"tiny_gpt{depth}" + ("" if residual else "_nores"),
                partial(tiny_gpt, depth=depth, residual=residual),
                family="gpt" if residual else "gpt_nores", **text,
                description=f"tiny GPT, {depth} block{'s' * (depth > 1)} of width 64, "
                + ("with residual connections" if residual else "without residual connections"),
            )


_register_builtin()
