"""The model zoo: reference parameter names and shapes, counts, traceability, registry."""

from __future__ import annotations

import pytest
import torch
import torch.fx
from torch import nn

from lossviz_core.errors import InputError
from lossviz_core.models import build_model, list_models, model_info, register_model

ALL_NAMES = [
    "resnet20",
    "resnet20_noshort",
    "resnet32",
    "resnet32_noshort",
    "resnet44",
    "resnet44_noshort",
    "resnet56",
    "resnet56_noshort",
    "resnet110",
    "resnet110_noshort",
    "vgg9",
    "digits_mlp",
    "digits_cnn",
    "digits_resnet",
    "digits_resnet_noshort",
]
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{k}": (() if k == "num_batches_tracked" else (c,)) for k in BN_KEYS}


def reference_resnet_keys(n: int, shortcut: bool) -> dict[str, tuple[int, ...]]:
    """The state_dict of loss-landscape's ResNet_cifar, written out from its structure."""
    keys = {"conv1.weight": (16, 3, 3, 3), **_bn("bn1", 16)}
    in_planes = 16
    for stage, planes in enumerate((16, 32, 64), start=1):
        for b in range(n):
            p = f"layer{stage}.{b}"
            keys[f"{p}.conv1.weight"] = (planes, in_planes, 3, 3)
            keys.update(_bn(f"{p}.bn1", planes))
            keys[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            keys.update(_bn(f"{p}.bn2", planes))
            if shortcut and in_planes != planes:  # stride 2 at the first block of stages 2, 3
                keys[f"{p}.shortcut.0.weight"] = (planes, in_planes, 1, 1)
                keys.update(_bn(f"{p}.shortcut.1", planes))
            in_planes = planes
    keys["linear.weight"] = (10, 64)
    keys["linear.bias"] = (10,)
    return keys


@pytest.mark.parametrize(
    "name,n,shortcut",
    [
        ("resnet20", 3, True),
        ("resnet20_noshort", 3, False),
        ("resnet56", 9, True),
        ("resnet56_noshort", 9, False),
    ],
)
def test_cifar_resnet_state_dict_equals_reference(name, n, shortcut):
    got = {k: tuple(v.shape) for k, v in build_model(name).state_dict().items()}
    assert got == reference_resnet_keys(n, shortcut)
    assert list(got)[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]


def test_cifar_resnet_literal_keys():
    sd = build_model("resnet20").state_dict()
    assert tuple(sd["layer2.0.shortcut.0.weight"].shape) == (32, 16, 1, 1)
    assert tuple(sd["layer3.0.shortcut.1.running_mean"].shape) == (64,)
    assert tuple(sd["layer1.0.bn1.running_mean"].shape) == (16,)
    assert "layer1.0.shortcut.0.weight" not in sd  # identity shortcut: no parameters
    assert not any("shortcut" in k for k in build_model("resnet110_noshort").state_dict())
    assert not any(k.endswith("conv1.bias") or k.endswith("conv2.bias") for k in sd)


@pytest.mark.parametrize(
    "name,count",
    [
        ("resnet20", 272_474),
        ("resnet20_noshort", 269_722),
        ("resnet56", 855_770),
        ("resnet110", 1_730_714),
    ],
)
def test_parameter_counts(name, count):
    # He et al.: ResNet-20 0.27M, ResNet-56 0.85M, ResNet-110 1.7M.
    assert sum(p.numel() for p in build_model(name).parameters()) == count


def test_vgg9_matches_reference_layout():
    sd = build_model("vgg9").state_dict()
    convs = [
        k for k in sd if k.startswith("features.") and k.endswith(".weight") and sd[k].dim() == 4
    ]
    assert len(convs) == 7
    assert tuple(sd["features.0.weight"].shape) == (64, 3, 3, 3)
    assert tuple(sd["features.0.bias"].shape) == (64,)  # reference VGG convs keep their bias
    assert tuple(sd["features.1.running_mean"].shape) == (64,)
    assert tuple(sd["features.3.weight"].shape) == (64, 64, 3, 3)
    assert tuple(sd["features.7.weight"].shape) == (128, 64, 3, 3)  # after the first pool
    assert tuple(sd["fc.0.weight"].shape) == (256, 256 * 4 * 4)
    assert tuple(sd["fc.1.running_var"].shape) == (256,)
    assert tuple(sd["classifier.weight"].shape) == (10, 256)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_model_runs_and_traces(name):
    info = model_info(name)
    torch.manual_seed(0)
    model = build_model(name).eval()
    x = torch.randn(2, *info.input_shape)
    with torch.no_grad():
        out = model(x)
        traced = torch.fx.symbolic_trace(model)
        assert torch.allclose(traced(x), out, atol=1e-6)
    assert out.shape == (2, info.num_classes)
    assert torch.isfinite(out).all()
    for m in model.modules():
        if "BatchNorm" in type(m).__name__:
            assert type(m) in (nn.BatchNorm2d, nn.BatchNorm1d)


def test_skip_connection_is_real():
    # With bn2 zeroed the residual branch is 0: a block returns relu(x), or 0 without the skip.
    x = torch.randn(3, 8, 8, 8)
    for name, expected in (
        ("digits_resnet", torch.relu(x)),
        ("digits_resnet_noshort", torch.zeros_like(x)),
    ):
        block = build_model(name).eval().layer1[0]
        with torch.no_grad():
            block.bn2.weight.zero_()
            block.bn2.bias.zero_()
            assert torch.allclose(block(x), expected)


def test_digits_resnet_shares_block_naming():
    short = build_model("digits_resnet").state_dict()
    noshort = build_model("digits_resnet_noshort").state_dict()
    assert tuple(short["conv1.weight"].shape) == (8, 1, 3, 3)
    assert tuple(short["layer2.0.shortcut.0.weight"].shape) == (16, 8, 1, 1)
    assert set(noshort) == {k for k in short if "shortcut" not in k}


def test_registry_info_and_overrides():
    names = [i.name for i in list_models()]
    assert set(ALL_NAMES) <= set(names)
    info = model_info("resnet56")
    assert (info.family, info.dataset, info.input_shape, info.num_classes) == (
        "resnet",
        "cifar10",
        (3, 32, 32),
        10,
    )
    assert model_info("digits_cnn").input_shape == (1, 8, 8)
    assert model_info("digits_cnn").dataset == "digits"
    assert build_model("resnet20", num_classes=100).linear.out_features == 100
    with pytest.raises(InputError, match="number of classes"):
        build_model("digits_mlp", num_classes=0)
    with pytest.raises(AttributeError):
        info.name = "x"  # frozen


def test_unknown_model_lists_the_zoo():
    with pytest.raises(InputError) as err:
        build_model("resnet18")
    assert "resnet18" in str(err.value) and "resnet56_noshort" in str(err.value)
    assert "digits_cnn" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError):
        model_info("nope")


def test_register_model_adds_an_entry():
    register_model(
        "test_linear",
        lambda num_classes: nn.Linear(4, num_classes),
        family="linear",
        dataset="digits",
        input_shape=[4],
        num_classes=3,
        description="test",
    )
    try:
        assert model_info("test_linear").input_shape == (4,)
        assert build_model("test_linear").out_features == 3
    finally:
        from lossviz_core import models

        models._REGISTRY.pop("test_linear")
