"""``pca``: the plane of the top two principal directions of a training run's trajectory.

Reads the run folder (``run.json`` + one checkpoint per saved epoch), flattens every
checkpoint, and calls the math in :mod:`lossviz_core.directions.trajectory`. The plane is
centred on the run's final checkpoint: it comes back as :attr:`Directions.center`, and the
model passed in is left as it was.
"""

from __future__ import annotations

import os

import numpy as np
from torch import nn

from lossviz_core.directions.base import (
    DirectionContext,
    DirectionMethod,
    Directions,
)
from lossviz_core.directions.select import SELECTION_PARAMS, Selection
from lossviz_core.directions.trajectory import (  # noqa: F401 (re-exported for callers)
    biasbn_mask,
    flatten,
    pca_plane,
    project,
    unchosen_mask,
    unflatten,
)
from lossviz_core.directions.vectors import check_ignore
from lossviz_core.directions.weights import check_dir_type, names_of, tensors_from_state, weights_of
from lossviz_core.errors import CheckpointError, InputError
from lossviz_core.params import Param
from lossviz_core.results.result import Trajectory
from lossviz_core.runs import read_run
from lossviz_core.sources.checkpoints import load_state_dict

MIN_CHECKPOINTS = 3


def pca_directions(
    model: nn.Module,
    run_dir: str | os.PathLike,
    dir_type: str = "weights",
    ignore: str = "biasbn",
    chosen: list[bool] | None = None,
) -> Directions:
    """d1, d2 = the top two principal components of a run's trajectory, centred on its end.

    Rows are flatten(θ_e − θ_final) for every saved checkpoint; ``ignore='biasbn'`` zeroes
    the entries of tensors with dim <= 1 in the rows (and so in d1, d2), and so does
    ``chosen`` (one flag per tensor, :mod:`.select`) for the tensors it leaves out: the PCA is
    that of the chosen parameters' trajectory. ``info`` gets
    ``explained_variance`` (two ratios) and ``pc_angle`` (cos(pc1, pc2)); ``trajectory``
    gets each checkpoint's cosine and least-squares coordinates and its distance off the
    plane (measured on all float entries) with ``loss`` NaN (the surface job fills it);
    ``center`` is θ_final's state dict. A run with fewer than 3 checkpoints, or made for
    another model, raises InputError.
    """
    check_dir_type(dir_type)
    ignore = check_ignore(ignore)
    run = read_run(run_dir)
    if len(run.checkpoints) < MIN_CHECKPOINTS:
        raise InputError(
            f"run folder {run.path} has {len(run.checkpoints)} checkpoint(s); PCA directions "
            f"need at least {MIN_CHECKPOINTS} saved epochs"
        )
    epochs = np.array([e for e, _ in run.checkpoints])
    try:
        thetas = [flatten(tensors_from_state(model, p, dir_type)) for _, p in run.checkpoints]
        center = load_state_dict(run.final_checkpoint)
        tensors_from_state(model, center, "states")  # the centre must fit the whole model
    except CheckpointError as exc:
        raise InputError(
            f"run {run.path} (model {run.model_name!r}) cannot be used: {exc}"
        ) from None
    like = weights_of(model, dir_type)
    mask = biasbn_mask(like) if ignore == "biasbn" else None
    if chosen is not None and not all(chosen):
        left_out = unchosen_mask(like, chosen)
        mask = left_out if mask is None else mask | left_out
    plane = pca_plane(thetas, mask)
    trajectory = Trajectory(
        epochs=epochs,
        x=plane.x,
        y=plane.y,
        off_plane=plane.off_plane,
        loss=np.full(len(epochs), np.nan),
        explained_variance=plane.explained_variance,
        x_lstsq=plane.x_lstsq,
        y_lstsq=plane.y_lstsq,
    )
    info = {
        "method": "pca",
        "run": str(run.path),
        "ignore": ignore,
        "epochs": [int(e) for e in epochs],
        "explained_variance": list(plane.explained_variance),
        "singular_values": list(plane.singular_values),
        "pc_angle": plane.pc_angle,
    }
    dirs = Directions(
        unflatten(plane.pc1, like), unflatten(plane.pc2, like), dir_type,
        names_of(model, dir_type), info, trajectory, center,
        checkpoints=[(int(e), str(p)) for e, p in run.checkpoints],
    )
    return dirs.fill_info()


def build(ctx: DirectionContext) -> Directions:
    s = ctx.spec
    run = s.param("run")
    if not run:
        raise InputError("the pca method needs a run folder (a training run's checkpoints): --pca RUN_DIR")
    selection = Selection.of(s)
    dirs = pca_directions(ctx.model, run, s.dir_type, s.xignore,
                          selection.chosen(ctx.model, s.dir_type))
    dirs.info.update(selection.info())
    return dirs if ctx.two_d else dirs.line()


METHOD = DirectionMethod(
    name="pca", build=build, label="PCA plane (run folder)", lines=False, run_param="run",
    title="PCA directions", uses=("ignore",),
    params=(Param("run", "folder", flag="pca", label="Run folder", selects=True,
                  title="PCA of {}", metavar="RUN_DIR",
                  help="PCA plane through a training run's trajectory (its final "
                  "checkpoint is the centre)"),
            *SELECTION_PARAMS),
)
