"""Shared GUI-test fixtures: closed-form results (non-square grids, a line, a trajectory).

The closed forms let tests check what is drawn against what must be drawn:
``bowl(x, y) = x² + 3 y²`` on a 7 × 5 grid whose y range is not symmetric, so a flipped or
transposed image is caught.
"""

from __future__ import annotations

from collections.abc import Callable

import lossviz.views  # noqa: F401  (before the QApplication exists: shared GL contexts)
import numpy as np
import pytest
from lossviz import dialogs, settings_store
from lossviz.main_window import MainWindow, preload_engine
from lossviz.state import ComputeState
from lossviz.worker import running_threads
from PySide6.QtCore import QSettings

from lossviz_core.results.result import SurfaceResult, Trajectory

GRID = {"xmin": -1.0, "xmax": 1.0, "xnum": 7, "ymin": -1.0, "ymax": 1.0, "ynum": 5}
COMPUTE_MS = 60_000

# triton must load before any GL context (llvmpipe): see preload_engine
preload_engine()

BOWL_X = np.linspace(-1.0, 1.0, 7)
BOWL_Y = np.linspace(-0.5, 1.0, 5)


def bowl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The closed-form landscape used by the GUI tests."""
    return x**2 + 3.0 * y**2


def _surface(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray] = bowl,
    x: np.ndarray = BOWL_X,
    y: np.ndarray = BOWL_Y,
    done_fraction: float = 1.0,
    trajectory: Trajectory | None = None,
    specs: dict | None = None,
) -> SurfaceResult:
    x, y = np.asarray(x, float), np.asarray(y, float)
    xx, yy = np.meshgrid(x, y)  # Z[j, i] = f(x[i], y[j])
    z = f(xx, yy)
    r = SurfaceResult.empty(
        x,
        y,
        ("train_loss", "train_acc", "test_loss", "test_acc"),
        specs=specs or {"directions": {"method": "random"}},
    )
    n_done = int(round(done_fraction * z.size))
    idx = np.arange(z.size)[:n_done]
    zf = z.reshape(-1)
    top = float(z.max()) or 1.0
    r.apply_chunk(
        idx,
        {
            "train_loss": zf[idx],
            "test_loss": zf[idx] + 0.1,
            "train_acc": 100 * (1 - zf[idx] / (2 * top)),  # percent, as the engine
            "test_acc": 100 * (0.9 - zf[idx] / (2 * top)),
        },
    )
    r.trajectory = trajectory
    return r


@pytest.fixture
def make_surface() -> Callable[..., SurfaceResult]:
    """Factory: ``make_surface(f=bowl, x=BOWL_X, y=BOWL_Y, done_fraction=1.0,
    trajectory=None, specs=None)`` -> SurfaceResult with train/test loss and accuracy
    (test_loss = f + 0.1); the first ``done_fraction`` of points (C order) are filled."""
    return _surface


@pytest.fixture
def closed_form_surface() -> SurfaceResult:
    """``train_loss = x² + 3 y²`` on x = linspace(-1, 1, 7), y = linspace(-0.5, 1, 5)."""
    return _surface()


@pytest.fixture
def bumpy_surface() -> SurfaceResult:
    """A 41 × 31 landscape with a few minima: for screenshots and rendering checks."""

    def bumps(x, y):
        return (
            0.6 * (x**2 + y**2)
            + 0.4 * np.sin(3 * x) * np.cos(2 * y)
            + 1.0
            + 0.5 * np.exp(-((x - 0.6) ** 2 + (y + 0.5) ** 2) / 0.1)
        )

    return _surface(bumps, np.linspace(-1.5, 1.5, 41), np.linspace(-1.0, 1.2, 31))


@pytest.fixture
def trajectory_result() -> SurfaceResult:
    """A PCA-plane result (explained variance 0.8 / 0.15) with a 6-epoch trajectory ending at 0."""
    epochs = np.array([0, 2, 4, 6, 8, 10])
    tx = np.array([0.9, 0.6, 0.35, 0.15, 0.05, 0.0])
    ty = np.array([0.8, 0.55, 0.3, 0.1, 0.02, 0.0])
    traj = Trajectory(
        epochs=epochs,
        x=tx,
        y=ty,
        off_plane=np.zeros(6),
        loss=bowl(tx, ty),
        explained_variance=(0.8, 0.15),
    )
    return _surface(trajectory=traj, specs={"directions": {"method": "pca"}})


@pytest.fixture
def line_result() -> SurfaceResult:
    """A 1-D interpolation (method 'target') between a.pt (α = 0) and b.pt (α = 1):
    train_loss = (α - 1)² (α + 0.5)² + 0.05, test = train + 0.2 at 31 points on [-0.5, 1.5];
    accuracies 1 - loss / max and 0.9 - loss / max."""
    return _line()


def _line() -> SurfaceResult:
    x = np.linspace(-0.5, 1.5, 31)
    loss = (x - 1) ** 2 * (x + 0.5) ** 2 + 0.05
    specs = {
        "model": {"name": "digits_cnn", "checkpoint": "/runs/a.pt"},
        "directions": {"method": "target", "target_checkpoint": "/runs/b.pt"},
    }
    r = SurfaceResult.empty(
        x, None, ("train_loss", "train_acc", "test_loss", "test_acc"), specs=specs
    )
    r.apply_chunk(
        np.arange(len(x)),
        {
            "train_loss": loss,
            "test_loss": loss + 0.2,
            "train_acc": 100 * (1 - loss / loss.max()),  # percent, as the engine
            "test_acc": 100 * (0.9 - loss / loss.max()),
        },
    )
    return r


# ---- main-window fixtures: a temporary settings location, errors captured ----------


@pytest.fixture
def settings_dir(tmp_path, monkeypatch):
    """Settings in tmp_path, pre-filled with the demo on a 7 × 5 grid."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    monkeypatch.setattr(settings_store, "ORGANIZATION", "LossVizTest")
    settings_store.save_state(ComputeState(**GRID))
    s = settings_store.open_settings()  # the results library in tmp_path too
    s.setValue("library/folder", str(tmp_path / "results"))
    s.sync()
    return tmp_path


@pytest.fixture
def errors(monkeypatch):
    """Error messages shown to the user (instead of a modal box); each must be shown from
    the GUI thread (a dialog opened from a worker thread crashes or hangs the window)."""
    import threading

    shown: list[tuple[str, str]] = []
    off_thread: list[str] = []

    def show(parent, m, d=""):
        if threading.current_thread() is not threading.main_thread():
            off_thread.append(m)
        shown.append((m, d))

    monkeypatch.setattr(dialogs, "show_error", show)
    yield shown
    assert off_thread == [], f"error dialogs opened off the GUI thread: {off_thread}"


@pytest.fixture
def make_window(qtbot, settings_dir, errors):
    windows = []

    def make(**kwargs) -> MainWindow:
        w = MainWindow(**kwargs)
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()
    assert running_threads() == []
