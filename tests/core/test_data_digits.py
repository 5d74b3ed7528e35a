"""The bundled digits read without scikit-learn equal scikit-learn's own load and split."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from lossviz_core.data import digits


def test_the_digits_equal_scikit_learns_load_and_stratified_split():
    digits._digits_arrays.cache_clear()
    x_tr, y_tr, x_te, y_te = digits._digits_arrays()
    bunch = load_digits()
    x = bunch.data.astype(np.float32) / 16.0
    ex_tr, ex_te, ey_tr, ey_te = train_test_split(
        x, bunch.target.astype(np.int64), test_size=digits.DIGITS_TEST_SIZE, random_state=0,
        stratify=bunch.target)
    mean, std = float(ex_tr.mean()), float(ex_tr.std())
    np.testing.assert_array_equal(x_tr, ((ex_tr - mean) / std).reshape(-1, 1, 8, 8))
    np.testing.assert_array_equal(x_te, ((ex_te - mean) / std).reshape(-1, 1, 8, 8))
    np.testing.assert_array_equal(y_tr, ey_tr)
    np.testing.assert_array_equal(y_te, ey_te)
    assert (len(y_tr), len(y_te)) == (1437, 360)
    # stratified: each class's share of the test split is its share of all 1,797
    assert np.abs(np.bincount(y_te) / 360 - np.bincount(bunch.target) / 1797).max() < 0.01


def test_without_the_csv_scikit_learns_loader_is_used(monkeypatch):
    assert digits._csv_path() is not None  # scikit-learn ships it here
    monkeypatch.setattr(digits, "_csv_path", lambda: None)
    data, target = digits._digits_raw()
    bunch = load_digits()
    np.testing.assert_array_equal(data, bunch.data)
    np.testing.assert_array_equal(target, bunch.target)


def test_without_the_split_file_the_split_is_made_alike(monkeypatch, tmp_path):
    digits._digits_arrays.cache_clear()
    bundled = digits._digits_arrays()
    monkeypatch.setattr(digits, "SPLIT_FILE", tmp_path / "missing.npz")
    digits._digits_arrays.cache_clear()
    try:
        for a, b in zip(digits._digits_arrays(), bundled, strict=True):
            np.testing.assert_array_equal(a, b)
    finally:
        digits._digits_arrays.cache_clear()
