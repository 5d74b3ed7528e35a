"""Plain-PyTorch references for the geometry tests: the digits data, a state's loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lossviz_core.data import load_dataset
from lossviz_core.recipe.spec import DatasetSpec


def digits_train() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset(DatasetSpec("digits"), torch.device("cpu"))
    return data.train.x, data.train.y


def plain_loss(model: torch.nn.Module, state: dict, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean cross-entropy of ``model`` holding ``state`` in eval mode, in float64."""
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        return float(F.cross_entropy(model(x).double(), y))


def state_of(path) -> dict:
    obj = torch.load(path, weights_only=True)
    return obj.get("state_dict", obj)
