"""``digits``: scikit-learn's 8x8 handwritten digits, bundled (offline), as (N, 1, 8, 8)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from lossviz_core.data.base import RawDataset, Split
from lossviz_core.data.registry import DataSource
from lossviz_core.params import NameParts
from lossviz_core.recipe.spec import DatasetSpec

DIGITS_TEST_SIZE = 360


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.data.astype(np.float32) / 16.0
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, random_state=0, stratify=y
    )
    # One scalar mean and std, from the training split only.
    mean, std = float(x_tr.mean()), float(x_tr.std())
    x_tr = ((x_tr - mean) / std).reshape(-1, 1, 8, 8)
    x_te = ((x_te - mean) / std).reshape(-1, 1, 8, 8)
    for a in (x_tr, x_te, y_tr, y_te):
        a.setflags(write=False)
    return x_tr, y_tr, x_te, y_te


def load(spec: DatasetSpec) -> RawDataset:
    x_tr, y_tr, x_te, y_te = _digits_arrays()
    # Copies: the cached arrays are read-only and shared between calls.
    train = Split(torch.tensor(x_tr), torch.tensor(y_tr))
    test = Split(torch.tensor(x_te), torch.tensor(y_te))
    return RawDataset("digits", train, test, 10)


SOURCE = DataSource(name="digits", label="Digits (8×8, bundled)",
                    matches=lambda n: n == "digits", load=load, example="digits",
                    name_parts=NameParts(prefix="digits"))
