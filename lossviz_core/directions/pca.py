"""PCA directions from a training run, and the run's checkpoints projected onto that plane.

After Li et al. (NeurIPS 2018), section 7, and the reference's ``projection.py``: rows
θ_e − θ_final over the saved checkpoints, scikit-learn PCA, the top two components as
d1, d2; each checkpoint's coordinates by cosine projection (the reference's
``project_1D``) and by least squares, and its distance off the plane.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import Tensor, nn

from lossviz_core.directions import (
    Directions,
    check_dir_type,
    is_perturbable,
    names_of,
    tensors_from_state,
    weights_of,
)
from lossviz_core.errors import CheckpointError, InputError
from lossviz_core.results.result import Trajectory
from lossviz_core.sources.checkpoints import load_into
from lossviz_core.train.runs import read_run

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


def pca_directions(
    model: nn.Module,
    run_dir: str | os.PathLike,
    dir_type: str = "weights",
    ignore: str = "biasbn",
) -> Directions:
    """d1, d2 = the top two principal components of a run's trajectory, centred on its end.

    Loads the run's final (last saved) checkpoint into ``model``, so the plane is centred
    on θ_final: the surface job evaluates θ_final + α·d1 + β·d2. Rows are
    flatten(θ_e − θ_final) for every saved checkpoint; ``ignore='biasbn'`` zeroes the
    entries of tensors with dim <= 1 in the rows (and so in d1, d2). ``info`` gets
    ``explained_variance`` (two ratios) and ``pc_angle`` (cos(pc1, pc2)); ``trajectory``
    gets each checkpoint's cosine and least-squares coordinates and its distance off the
    plane (measured on all float entries) with ``loss`` NaN (the surface job fills it).
    A run with fewer than 3 checkpoints, or made for another model, raises InputError.
    """
    check_dir_type(dir_type)
    if ignore not in ("biasbn", "none"):
        raise InputError(f"unknown ignore {ignore!r}; choose one of biasbn, none")
    run = read_run(run_dir)
    if len(run.checkpoints) < MIN_CHECKPOINTS:
        raise InputError(
            f"run folder {run.path} has {len(run.checkpoints)} checkpoint(s); PCA directions "
            f"need at least {MIN_CHECKPOINTS} saved epochs"
        )
    epochs = np.array([e for e, _ in run.checkpoints])
    try:
        thetas = [flatten(tensors_from_state(model, p, dir_type)) for _, p in run.checkpoints]
        load_into(model, run.final_checkpoint)  # the plane is centred on θ_final
    except CheckpointError as exc:
        raise InputError(
            f"run {run.path} (model {run.model_name!r}) cannot be used: {exc}"
        ) from None
    like = weights_of(model, dir_type)
    deltas = np.stack([t - thetas[-1] for t in thetas])  # (k, P) float64, last row zero
    rows = deltas.copy()
    if ignore == "biasbn":
        rows[:, biasbn_mask(like)] = 0.0
    pca = PCA(n_components=2, svd_solver="full").fit(rows)
    pc1, pc2 = pca.components_[0], pca.components_[1]
    ev = tuple(float(v) for v in pca.explained_variance_ratio_)
    x, y, xl, yl, off = project(deltas, pc1, pc2)
    trajectory = Trajectory(
        epochs=epochs,
        x=x,
        y=y,
        off_plane=off,
        loss=np.full(len(epochs), np.nan),
        explained_variance=ev,
        x_lstsq=xl,
        y_lstsq=yl,
    )
    info = {
        "method": "pca",
        "run": str(run.path),
        "ignore": ignore,
        "epochs": [int(e) for e in epochs],
        "explained_variance": list(ev),
        "singular_values": [float(v) for v in pca.singular_values_],
        "pc_angle": float(pc1 @ pc2 / (np.linalg.norm(pc1) * np.linalg.norm(pc2))),
    }
    dirs = Directions(
        unflatten(pc1, like), unflatten(pc2, like), dir_type, names_of(model, dir_type), info
    )
    dirs.trajectory = trajectory
    return dirs.fill_info()
