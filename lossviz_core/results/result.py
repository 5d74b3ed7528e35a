"""In-memory results: a surface (ny, nx) or a line (nx,), with NaN where not computed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossviz_core.results import quantities as qreg


@dataclass
class Trajectory:
    """Saved checkpoints projected onto a PCA plane (coordinates relative to the final model),
    or named models lying on their plane (``labels``: the three-model plane's A, B, C).

    Several runs on one plane: ``run`` holds each point's run (an index into ``runs``, their
    labels); a run's points are consecutive, in epoch order."""

    epochs: np.ndarray
    x: np.ndarray
    y: np.ndarray
    off_plane: np.ndarray
    loss: np.ndarray
    explained_variance: tuple[float, float] = (float("nan"), float("nan"))
    x_lstsq: np.ndarray | None = None
    y_lstsq: np.ndarray | None = None
    run: np.ndarray | None = None
    runs: tuple[str, ...] = ()
    labels: tuple[str, ...] | None = None  # names of the points (A, B, C); None: epochs
    unit: str = "epoch"  # what ``epochs`` count: "epoch", or "step" (a tracker's checkpoints)

    def paths(self) -> list[tuple[str, np.ndarray]]:
        """``(label, indices)`` of each run's points (one unlabelled path for a single run)."""
        if self.run is None or not len(self.runs):
            return [("", np.arange(len(self.x)))]
        run = np.asarray(self.run)
        return [(label, np.flatnonzero(run == k)) for k, label in enumerate(self.runs)]

    def point_label(self, k: int) -> str:
        """What point ``k`` is called: its label, else its epoch (or step)."""
        return self.labels[k] if self.labels else f"{self.unit} {int(self.epochs[k])}"

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {
            "epochs": np.asarray(self.epochs),
            "x": np.asarray(self.x, dtype=float),
            "y": np.asarray(self.y, dtype=float),
            "off_plane": np.asarray(self.off_plane, dtype=float),
            "loss": np.asarray(self.loss, dtype=float),
            "explained_variance": np.asarray(self.explained_variance, dtype=float),
        }
        if self.x_lstsq is not None and self.y_lstsq is not None:
            out["x_lstsq"] = np.asarray(self.x_lstsq, dtype=float)
            out["y_lstsq"] = np.asarray(self.y_lstsq, dtype=float)
        if self.run is not None:
            out["run"] = np.asarray(self.run, dtype=np.int32)
            out["runs"] = np.array([s.encode("utf-8") for s in self.runs], dtype=bytes)
        if self.labels:
            out["labels"] = np.array([s.encode() for s in self.labels], dtype="S")
        if self.unit != "epoch":
            out["unit"] = np.array([self.unit.encode()], dtype="S")
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> Trajectory:
        ev = a.get("explained_variance", np.array([np.nan, np.nan]))
        return cls(
            epochs=np.asarray(a["epochs"]),
            x=np.asarray(a["x"], dtype=float),
            y=np.asarray(a["y"], dtype=float),
            off_plane=np.asarray(a.get("off_plane", np.full(len(a["x"]), np.nan)), dtype=float),
            loss=np.asarray(a.get("loss", np.full(len(a["x"]), np.nan)), dtype=float),
            explained_variance=(float(ev[0]), float(ev[1])),
            x_lstsq=a.get("x_lstsq"),
            y_lstsq=a.get("y_lstsq"),
            run=None if a.get("run") is None else np.asarray(a["run"], dtype=int),
            runs=tuple(v.decode("utf-8") if isinstance(v, bytes) else str(v)
                       for v in a.get("runs", ())),
            labels=tuple(v.decode() if isinstance(v, bytes) else str(v) for v in a["labels"])
            if "labels" in a else None,
            unit=_text(a["unit"][0]) if "unit" in a and len(a["unit"]) else "epoch",
        )


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


@dataclass
class SurfaceResult:
    """A computed (or partly computed) surface or line.

    Grid orientation (design: Conventions): ``values[q][j, i] = f(x[i], y[j])``, shape
    (ny, nx), the ``numpy.meshgrid(x, y)`` convention. A line has ``y is None`` and
    arrays of shape (nx,). Missing points are NaN.
    """

    x: np.ndarray
    y: np.ndarray | None
    values: dict[str, np.ndarray]
    done: np.ndarray
    specs: dict[str, Any] = field(default_factory=dict)
    trajectory: Trajectory | None = None
    path: str | None = None

    @classmethod
    def empty(
        cls, x: np.ndarray, y: np.ndarray | None, quantities: tuple[str, ...], specs=None
    ) -> SurfaceResult:
        shape = (len(x),) if y is None else (len(y), len(x))
        return cls(
            x=np.asarray(x, dtype=float),
            y=None if y is None else np.asarray(y, dtype=float),
            values={q: np.full(shape, np.nan) for q in quantities},
            done=np.zeros(shape, dtype=bool),
            specs=dict(specs or {}),
        )

    @property
    def is_line(self) -> bool:
        return self.y is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.done.shape

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    @property
    def quantities(self) -> tuple[str, ...]:
        """Every quantity held, in display order (see :mod:`lossviz_core.results.quantities`)."""
        return qreg.ordered(self.values)

    def main_quantity(self) -> str:
        """The loss to show by default: train if present, else test."""
        return qreg.main_quantity(self.values)

    def stored(self, key: str) -> dict[str, Any]:
        """A table of the stored specs (the first version's ``model``, ``directions``):
        empty when absent or not a table (a file from elsewhere may hold anything)."""
        value = self.specs.get(key) if isinstance(self.specs, dict) else None
        return value if isinstance(value, dict) else {}

    @property
    def recipe(self) -> Any:
        """The :class:`~lossviz_core.recipe.spec.Recipe` that made this result, or None
        (a file from the reference implementation, or stored specs that no longer parse)."""
        from lossviz_core.errors import LossVizError
        from lossviz_core.recipe.spec import Recipe

        try:
            return Recipe.from_specs(self.specs)
        except (LossVizError, TypeError, ValueError):
            return None

    def apply_chunk(self, indices: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Write finished points (flat C-order indices) into the grids."""
        for q, v in values.items():
            if q in self.values:
                self.values[q].reshape(-1)[indices] = v
        self.done.reshape(-1)[indices] = True

    def axis_labels(self) -> tuple[str, str]:
        """Axis names: 'PC1: 77.2 %' on a PCA plane, else α / β."""
        if self.trajectory is not None and np.all(np.isfinite(self.trajectory.explained_variance)):
            ev = self.trajectory.explained_variance
            return (f"PC1: {100 * ev[0]:.1f} %", f"PC2: {100 * ev[1]:.1f} %")
        return ("α", "β")


def contour_levels(lo: float, hi: float, n: int, geometric: bool = False) -> np.ndarray:
    """``n`` isoline levels over [lo, hi], both ends included.

    With ``geometric`` and a positive range spanning over two decades (a trained model's
    loss: 0.003 at the minimum, 10 at the edge) the levels are evenly spaced in log, so the
    basin around the minimizer gets isolines instead of one empty region.
    """
    if geometric and lo > 0 and hi / lo > 100:
        return np.geomspace(lo, hi, n)
    return np.linspace(lo, hi, n)
