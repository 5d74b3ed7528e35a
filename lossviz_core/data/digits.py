"""``digits``: scikit-learn's 8x8 handwritten digits, bundled (offline), as (N, 1, 8, 8)."""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from lossviz_core.data.base import RawDataset, Split
from lossviz_core.data.registry import DataSource
from lossviz_core.params import NameParts
from lossviz_core.recipe.spec import DatasetSpec

DIGITS_TEST_SIZE = 360
SPLIT_FILE = Path(__file__).with_name("splits") / "digits.npz"


def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits (pixels 0..16 as float64, labels), read from the CSV that ships
    with scikit-learn, as ``load_digits`` reads it, without importing scikit-learn (a
    second at every start); ``load_digits`` itself where that file is not found."""
    csv = _csv_path()
    if csv is not None:
        with gzip.open(csv) as f:
            data = np.loadtxt(f, delimiter=",")
        return data[:, :-1], data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data, bunch.target


def _csv_path() -> Path | None:
    """scikit-learn's ``digits.csv.gz``, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        csv = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if csv.is_file():
            return csv
    return None


def _split(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stratified split (test_size=360, random_state=0): made once with scikit-learn's
    train_test_split and bundled (scripts/make_digits_split.py), or made here when a copy of
    LossViz lacks the file."""
    if SPLIT_FILE.is_file():
        with np.load(SPLIT_FILE) as split:
            return split["train"].astype(np.int64), split["test"].astype(np.int64)
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(y)), test_size=DIGITS_TEST_SIZE, random_state=0,
                            stratify=y)


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    data, target = _digits_raw()
    x = data.astype(np.float32) / 16.0
    y = target.astype(np.int64)
    train, test = _split(y)
    x_tr, x_te, y_tr, y_te = x[train], x[test], y[train], y[test]
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
