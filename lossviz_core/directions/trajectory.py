"""Trajectory math for the PCA plane: flatten directions, PCA of θ_e − θ_final, projections.

After Li et al. (NeurIPS 2018), section 7, and the reference's ``projection.py``: rows
θ_e − θ_final over the saved checkpoints, scikit-learn PCA, the top two components as
d1, d2; each checkpoint's coordinates by cosine projection (the reference's
``project_1D``) and by least squares, and its distance off the plane. Several runs on one
plane (:func:`joint_pca_plane`): the rows of every run, centred on the first run's end, with
the plane made to hold every run's final point when there are two or three runs. Pure math:
the ``pca`` method (:mod:`lossviz_core.directions.pca`) reads the runs and calls this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from lossviz_core.directions.weights import is_perturbable
from lossviz_core.errors import InputError

MIN_CHECKPOINTS = 3


def flatten(tensors: list[Tensor], dtype: type = np.float64) -> np.ndarray:
    """One flat numpy vector of a direction's float entries (integer buffers left out)."""
    parts = [t.detach().cpu().reshape(-1).double().numpy() for t in tensors if is_perturbable(t)]
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def unflatten(vec: np.ndarray, like: list[Tensor]) -> list[Tensor]:
    """Reshape a flat vector (as :func:`flatten` made it) to tensors shaped like ``like``."""
    out, i = [], 0
    for w in like:
        if not is_perturbable(w):
            out.append(torch.zeros_like(w))
            continue
        n = w.numel()
        piece = torch.from_numpy(np.ascontiguousarray(vec[i : i + n])).reshape(w.shape)
        out.append(piece.to(device=w.device, dtype=w.dtype))
        i += n
    if i != len(vec):
        raise InputError(f"flat vector has {len(vec)} entries but the model has {i}")
    return out


def biasbn_mask(like: list[Tensor]) -> np.ndarray:
    """A flat boolean mask (in :func:`flatten` order): True on entries of tensors with dim <= 1."""
    return np.concatenate(
        [np.full(t.numel(), t.dim() <= 1) for t in like if is_perturbable(t)] or [np.zeros(0, bool)]
    )


def unchosen_mask(like: list[Tensor], chosen: list[bool]) -> np.ndarray:
    """A flat boolean mask (in :func:`flatten` order): True on entries of the tensors
    ``chosen`` leaves out."""
    return np.concatenate(
        [np.full(t.numel(), not keep) for t, keep in zip(like, chosen, strict=True)
         if is_perturbable(t)] or [np.zeros(0, bool)]
    )


def project(
    deltas: np.ndarray, d1: np.ndarray, d2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates of each row of ``deltas`` (k, P) on the plane spanned by d1, d2.

    Returns ``(x, y, x_lstsq, y_lstsq, off_plane)``: the cosine projection
    dot(Δ, d)/‖d‖ (exact when d1 ⟂ d2), the least-squares coefficients (a, b) minimizing
    ‖Δ − a·d1 − b·d2‖, and that minimum, the distance of Δ from the plane.
    """
    a = np.stack([d1, d2], axis=1).astype(np.float64)  # (P, 2)
    x = np.empty(len(deltas))
    y, xl, yl, off = np.empty_like(x), np.empty_like(x), np.empty_like(x), np.empty_like(x)
    n1, n2 = np.linalg.norm(a[:, 0]), np.linalg.norm(a[:, 1])
    for k, row in enumerate(deltas):
        row = np.asarray(row, dtype=np.float64)
        x[k], y[k] = row @ a[:, 0] / n1, row @ a[:, 1] / n2
        coef = np.linalg.lstsq(a, row, rcond=None)[0]
        xl[k], yl[k] = coef
        off[k] = np.linalg.norm(row - a @ coef)
    return x, y, xl, yl, off


@dataclass
class PcaPlane:
    """The top two principal directions of a trajectory and each checkpoint on their plane."""

    pc1: np.ndarray
    pc2: np.ndarray
    explained_variance: tuple[float, float]
    singular_values: tuple[float, ...]
    x: np.ndarray
    y: np.ndarray
    x_lstsq: np.ndarray
    y_lstsq: np.ndarray
    off_plane: np.ndarray

    @property
    def pc_angle(self) -> float:
        """cos(pc1, pc2): zero up to rounding."""
        return float(self.pc1 @ self.pc2 / (np.linalg.norm(self.pc1) * np.linalg.norm(self.pc2)))


FITS = ("joint", "first")


def joint_pca_plane(thetas: list[np.ndarray], run: np.ndarray,
                    ignore_mask: np.ndarray | None = None, fit: str = "joint") -> PcaPlane:
    """One plane for several runs' trajectories; ``thetas`` in run order (``run[i]``: the
    run of row i, each run's checkpoints in epoch order), centred on the first run's final.

    ``fit="first"``: the first run's PCA plane, the others projected onto it. ``joint``:
    the best plane (most variance of all rows) among those through every run's final point
    — the span of the finals' differences, completed by the top principal component of what
    is left — when those differences span one or two dimensions (two or three runs); with
    more runs, the PCA plane of every row. Coordinates and off-plane distances as
    :func:`pca_plane`.
    """
    if fit not in FITS:
        raise InputError(f"unknown PCA fit {fit!r}; choose one of {', '.join(FITS)}")
    run = np.asarray(run)
    finals = [int(np.flatnonzero(run == r)[-1]) for r in np.unique(run)]
    center = thetas[finals[0]]
    deltas = np.stack([t - center for t in thetas])
    if fit == "first":
        first = pca_plane([thetas[i] for i in np.flatnonzero(run == run[finals[0]])],
                          ignore_mask)
        d1, d2 = first.pc1, first.pc2
    else:
        rows = deltas.copy()
        if ignore_mask is not None:
            rows[:, ignore_mask] = 0.0
        d1, d2 = _plane_through_finals(rows, rows[finals[1:]])
    centred = deltas - deltas.mean(axis=0)
    if ignore_mask is not None:
        centred[:, ignore_mask] = 0.0
    spread = np.array([np.sum((centred @ d) ** 2) for d in (d1, d2)])
    total = float(np.sum(centred ** 2)) or 1.0
    x, y, xl, yl, off = project(deltas, d1, d2)
    return PcaPlane(d1, d2, (float(spread[0] / total), float(spread[1] / total)),
                    tuple(float(v) for v in np.sqrt(spread)), x, y, xl, yl, off)


def _plane_through_finals(rows: np.ndarray, finals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal d1, d2 (d1 the direction of most variance of ``rows`` in the plane)
    spanning the finals' differences when they span 1 or 2 dimensions."""
    from sklearn.decomposition import PCA

    q, r = np.linalg.qr(finals.T) if len(finals) else (np.zeros((rows.shape[1], 0)), None)
    rank = 0 if r is None else int(np.sum(np.abs(np.diag(r)) > 1e-12 * max(1.0, np.abs(r).max())))
    if rank == 2 and len(finals) == 2:
        basis = q[:, :2]
    elif rank == 1 and len(finals) == 1:
        q1 = q[:, 0]
        rest = rows - np.outer(rows @ q1, q1)
        rest_c = rest - rest.mean(axis=0)
        if np.allclose(rest_c, 0):  # every row on the line: any second direction will do
            other = np.zeros_like(q1)
            other[int(np.argmin(np.abs(q1)))] = 1.0
            other -= (other @ q1) * q1
        else:
            other = PCA(n_components=1, svd_solver="full").fit(rest).components_[0]
            other -= (other @ q1) * q1  # orthogonal to rounding
        basis = np.stack([q1, other / np.linalg.norm(other)], axis=1)
    else:
        pca = PCA(n_components=2, svd_solver="full").fit(rows)
        return pca.components_[0], pca.components_[1]
    coords = (rows - rows.mean(axis=0)) @ basis
    _, u = np.linalg.eigh(coords.T @ coords)
    d = basis @ u[:, ::-1]  # principal axes of the rows within the plane, largest first
    for k in range(2):  # a reproducible sign: the largest-magnitude entry positive
        if d[np.argmax(np.abs(d[:, k])), k] < 0:
            d[:, k] = -d[:, k]
    return d[:, 0], d[:, 1]


def pca_plane(thetas: list[np.ndarray], ignore_mask: np.ndarray | None = None) -> PcaPlane:
    """PCA of the rows θ_e − θ_final (``thetas``: flat vectors in epoch order, last = final).

    ``ignore_mask`` entries (bias/BN with ``ignore='biasbn'``) are zeroed in the rows, and so
    in the components; coordinates and off-plane distances use every entry.
    """
    from sklearn.decomposition import PCA

    deltas = np.stack([t - thetas[-1] for t in thetas])  # (k, P) float64, last row zero
    rows = deltas.copy()
    if ignore_mask is not None:
        rows[:, ignore_mask] = 0.0
    pca = PCA(n_components=2, svd_solver="full").fit(rows)
    pc1, pc2 = pca.components_[0].copy(), pca.components_[1].copy()
    if ignore_mask is not None:  # exactly zero there, not the SVD's 1e-16: those stay θ
        pc1[ignore_mask] = pc2[ignore_mask] = 0.0
    x, y, xl, yl, off = project(deltas, pc1, pc2)
    return PcaPlane(pc1, pc2, tuple(float(v) for v in pca.explained_variance_ratio_),
                    tuple(float(v) for v in pca.singular_values_), x, y, xl, yl, off)
