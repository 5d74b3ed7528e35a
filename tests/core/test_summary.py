"""Barriers, sharpness and convex share on closed-form landscapes."""

from __future__ import annotations

import numpy as np
import pytest

from lossviz_core.results.result import SurfaceResult
from lossviz_core.results.summary import barrier, convex_share, sharpness


def test_barrier_is_the_peak_above_the_mean_of_the_ends():
    t = np.linspace(-0.5, 1.5, 21)
    loss = 1.0 + 0.5 * t + 2.0 * np.sin(np.pi * np.clip(t, 0, 1))  # ends 1 and 1.5, peak ~3.2
    inside = (t >= 0) & (t <= 1)
    assert barrier(t, loss) == pytest.approx(loss[inside].max() - 1.25)
    assert barrier(t, 1.0 + t) == pytest.approx(0.5)  # a monotone path: max end − mean
    assert np.isnan(barrier(np.linspace(0.2, 1, 5), np.ones(5)))  # A is not on it


def test_convex_share_of_a_bowl_a_saddle_and_a_line():
    x = np.linspace(-1, 1, 9)
    xx, yy = np.meshgrid(x, x)
    assert convex_share(xx**2 + yy**2) == 1.0
    assert convex_share(xx**2 - yy**2) == 0.0
    assert convex_share(-(x**2)) == 0.0 and convex_share(x**2) == 1.0


def test_sharpness_is_keskars_over_the_grid():
    x = np.linspace(-1, 1, 5)
    z = 0.5 + x**2
    r = SurfaceResult(x, None, {"train_loss": z}, np.ones(5, bool))
    assert sharpness(r, z) == pytest.approx(100 * (1.5 - 0.5) / 1.5)
