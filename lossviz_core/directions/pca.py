"""``pca``: the plane of the top two principal directions of a training run's trajectory.

The trajectory is a run folder (``run.json`` + one checkpoint per saved epoch, which also
names the model and data), a glob of checkpoint files (``"ckpts/step_*.safetensors"``) or
a folder of checkpoints written by any trainer (files such as ``step_100.pt``, or
subfolders such as transformers' ``checkpoint-500/model.safetensors``), ordered by the
number in their names; the last is the final model. Every checkpoint is flattened and the
math is :mod:`lossviz_core.directions.trajectory`'s. The plane is centred on the final
checkpoint: it comes back as :attr:`Directions.center`, and the model passed in is left as
it was. With other runs (``--pca-with RUN2``, ``--pca-with2``, ``--pca-with3``) every run's
path lies on one plane, fitted to all of them (``--pca-fit joint``: through every
run's final point) or to the first alone (``first``), each path labelled by its
optimizer, learning rate and batch size.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import numpy as np
from torch import nn

from lossviz_core.directions.base import (
    DirectionContext,
    DirectionMethod,
    Directions,
)
from lossviz_core.directions.select import SELECTION_PARAMS, Selection
from lossviz_core.directions.trajectory import (  # noqa: F401 (re-exported for callers)
    FITS,
    biasbn_mask,
    flatten,
    joint_pca_plane,
    pca_plane,
    project,
    unchosen_mask,
    unflatten,
)
from lossviz_core.directions.vectors import check_ignore
from lossviz_core.directions.weights import (
    check_dir_type,
    names_of,
    tensors_from_state,
    weights_of,
    with_tied,
)
from lossviz_core.errors import CheckpointError, InputError
from lossviz_core.params import Param
from lossviz_core.results.result import Trajectory
from lossviz_core.runs import RUN_FILE, RunInfo, read_run
from lossviz_core.sources.checkpoints import load_state_dict

MIN_CHECKPOINTS = 3
OTHER_RUNS = ("with_run", "with_run2", "with_run3")
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".t7")
# a trainer's other files beside the model's weights
NOT_WEIGHTS = re.compile(r"optimizer|scheduler|rng_state|training_args|trainer_state|scaler")
MODEL_FILES = ("model.safetensors", "pytorch_model.bin")


def trajectory_of(source: str | os.PathLike) -> RunInfo:
    """The checkpoints of a trajectory, in order (:class:`RunInfo`; ``model`` and ``dataset``
    are empty unless a ``run.json`` names them): a run folder, a glob of checkpoint files or
    a folder of checkpoints. InputError when it names none."""
    text = os.path.expanduser(str(source))
    if glob.has_magic(text):
        found = [Path(p) for p in glob.glob(text)]
        where = f"{source!r} matches"
    else:
        folder = Path(text)
        if (folder / RUN_FILE).is_file():
            return read_run(folder)
        if not folder.is_dir():
            raise InputError(f"run folder or checkpoints not found: {source}")
        found = list(folder.iterdir())
        where = f"folder {folder} holds"
    files = [f for f in map(_weights_in, found) if f is not None]
    if not files:
        raise InputError(f"{where} no checkpoint ({', '.join(CHECKPOINT_SUFFIXES)} files, or "
                         f"folders holding {' or '.join(MODEL_FILES)})")
    ordered = sorted(files, key=lambda f: (_step(f), str(f)))
    steps = [_step(f) for f in ordered]
    epochs = steps if len(set(steps)) == len(steps) and -1 not in steps else range(len(files))
    path = Path(text).parent if glob.has_magic(text) else Path(text)
    train = {"source": str(source)}
    numbered = epochs is steps  # each name's own number orders and labels it
    if numbered and _counts_steps(ordered):
        train["unit"] = "step"  # labels and titles say "step N"
    return RunInfo(path=path, model={}, dataset={}, train=train,
                   checkpoints=[(int(e), f) for e, f in zip(epochs, ordered, strict=True)])


def _counts_steps(files: list[Path]) -> bool:
    """The number each name is ordered by (its last) is a step's: the word attached to it
    is ``step`` (``step_100.pt``, Lightning's ``epoch=0-step=100.ckpt``) or transformers'
    ``checkpoint`` (``checkpoint-500/``), in every name."""
    def word(p: Path) -> str:
        name = (p.parent.name if p.name in MODEL_FILES else p.stem).lower()
        found = re.search(r"([a-z]+)[=_-]?\d+\D*$", name)
        return found.group(1) if found else ""

    return all(word(p) in ("step", "steps", "checkpoint") for p in files)


def _weights_in(p: Path) -> Path | None:
    """``p`` itself when it is a checkpoint file, the model file in it when it is a
    trainer's checkpoint folder, else None."""
    if p.is_file():
        return p if p.suffix in CHECKPOINT_SUFFIXES and not NOT_WEIGHTS.search(p.name) else None
    if p.is_dir():
        return next((p / m for m in MODEL_FILES if (p / m).is_file()), None)
    return None


def _step(p: Path) -> int:
    """The step or epoch a checkpoint's name says (its last number; -1 when none)."""
    name = p.parent.name if p.name in MODEL_FILES else p.stem
    numbers = re.findall(r"\d+", name)
    return int(numbers[-1]) if numbers else -1


def pca_directions(
    model: nn.Module,
    run_dir: str | os.PathLike,
    dir_type: str = "weights",
    ignore: str = "biasbn",
    chosen: list[bool] | None = None,
) -> Directions:
    """d1, d2 = the top two principal components of a run's trajectory, centred on its end.

    ``run_dir``: what :func:`trajectory_of` reads. Rows are flatten(θ_e − θ_final) for every
    saved checkpoint; ``ignore='biasbn'`` zeroes
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
    run = trajectory_of(run_dir)
    if len(run.checkpoints) < MIN_CHECKPOINTS:
        raise InputError(
            f"{run_dir} has {len(run.checkpoints)} checkpoint(s); PCA directions "
            f"need at least {MIN_CHECKPOINTS} saved epochs"
        )
    epochs = np.array([e for e, _ in run.checkpoints])
    try:
        thetas = [flatten(tensors_from_state(model, p, dir_type)) for _, p in run.checkpoints]
        center = with_tied(model, load_state_dict(run.final_checkpoint))
        tensors_from_state(model, center, "states")  # the centre must fit the whole model
    except CheckpointError as exc:
        raise InputError(
            f"run {run_dir} (model {run.model.get('name') or type(model).__name__}) cannot be "
            f"used: {exc}"
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
        unit=run.unit,
    )
    info = {
        "method": "pca",
        "run": str(run_dir),
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


def joint_pca_directions(
    model: nn.Module,
    run_dirs: list[str | os.PathLike],
    dir_type: str = "weights",
    ignore: str = "biasbn",
    fit: str = "joint",
    chosen: list[bool] | None = None,
) -> Directions:
    """One PCA plane for several runs' trajectories, centred on the first run's end.

    As :func:`pca_directions`, with every run's checkpoints projected; ``trajectory.run``
    says which run a point belongs to and ``trajectory.runs`` labels them (optimizer,
    learning rate, batch size). ``fit``: ``joint`` (all runs; the plane holds every run's
    final point for two or three runs) or ``first`` (the first run's plane). Each run needs
    two checkpoints, and together at least three.
    """
    check_dir_type(dir_type)
    runs = [read_run(d) for d in run_dirs]
    short = [str(r.path) for r in runs if len(r.checkpoints) < 2]
    if short:
        raise InputError(f"run folder {short[0]} has one checkpoint; a path on a PCA plane "
                         "needs at least two")
    if fit == "first" and len(runs[0].checkpoints) < MIN_CHECKPOINTS:
        raise InputError(f"run folder {runs[0].path} has {len(runs[0].checkpoints)} "
                         f"checkpoints; its own PCA plane needs {MIN_CHECKPOINTS} (or --pca-fit "
                         "joint)")
    thetas, run_index, epochs, ckpts = [], [], [], []
    for k, run in enumerate(runs):
        for e, p in run.checkpoints:
            try:
                thetas.append(flatten(tensors_from_state(model, p, dir_type)))
            except CheckpointError as exc:
                raise InputError(f"run {run.path} (model {run.model_name!r}) cannot be used "
                                 f"with the model of {runs[0].path}: {exc}") from None
            run_index.append(k)
            epochs.append(int(e))
            ckpts.append((int(e), str(p)))
    center = load_state_dict(runs[0].final_checkpoint)
    like = weights_of(model, dir_type)
    mask = biasbn_mask(like) if ignore == "biasbn" else None
    if chosen is not None and not all(chosen):  # --only / --exclude: as for one run
        left_out = unchosen_mask(like, chosen)
        mask = left_out if mask is None else mask | left_out
    plane = joint_pca_plane(thetas, np.array(run_index), mask, fit)
    labels = run_labels(runs)
    trajectory = Trajectory(
        epochs=np.array(epochs), x=plane.x, y=plane.y, off_plane=plane.off_plane,
        loss=np.full(len(epochs), np.nan), explained_variance=plane.explained_variance,
        x_lstsq=plane.x_lstsq, y_lstsq=plane.y_lstsq, run=np.array(run_index), runs=labels,
        unit=runs[0].unit)
    info = {"method": "pca", "run": str(runs[0].path), "runs": [str(r.path) for r in runs],
            "labels": list(labels), "fit": fit, "ignore": ignore, "epochs": epochs,
            "explained_variance": list(plane.explained_variance),
            "singular_values": list(plane.singular_values), "pc_angle": plane.pc_angle}
    dirs = Directions(unflatten(plane.pc1, like), unflatten(plane.pc2, like), dir_type,
                      names_of(model, dir_type), info, trajectory, center, checkpoints=ckpts)
    return dirs.fill_info()


def run_labels(runs: list[RunInfo]) -> tuple[str, ...]:
    """Each run's optimizer, learning rate and batch size (its folder's name when run.json
    says none of them, or when two runs would read the same)."""
    labels = []
    for r in runs:
        t = r.train
        parts = [str(t["optimizer"]).upper() if t.get("optimizer") else "",
                 f"lr {t['lr']:g}" if isinstance(t.get("lr"), (int, float)) else "",
                 f"batch {t['batch_size']}" if t.get("batch_size") else ""]
        labels.append(", ".join(p for p in parts if p) or r.path.name)
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({r.path.name})" for label, r in zip(labels, runs, strict=True)]
    return tuple(labels)


def build(ctx: DirectionContext) -> Directions:
    s = ctx.spec
    run = s.param("run")
    if not run:
        raise InputError("the pca method needs a run folder or checkpoints: --pca RUN_DIR or "
                         "--pca 'CKPTS/step_*.safetensors'")
    selection = Selection.of(s)
    others = [s.param(name) for name in OTHER_RUNS if s.param(name)]
    chosen = selection.chosen(ctx.model, s.dir_type)
    if others:
        if s.xignore not in ("biasbn", "none"):
            raise InputError(f"unknown ignore {s.xignore!r}; choose one of biasbn, none")
        dirs = joint_pca_directions(ctx.model, [run, *others], s.dir_type, s.xignore,
                                    s.param("fit") or "joint", chosen)
    else:
        dirs = pca_directions(ctx.model, run, s.dir_type, s.xignore, chosen)
    dirs.info.update(selection.info())
    return dirs if ctx.two_d else dirs.line()


_WITH_HELP = ("another training run drawn on the same PCA plane (the same model; from the same "
              "initialization to compare optimizers or batch sizes)")

METHOD = DirectionMethod(
    name="pca", build=build, label="PCA plane (run folder)", lines=False, run_param="run",
    title="PCA directions", uses=("ignore",),
    params=(Param("run", "folder", flag="pca", label="Run folder", selects=True,
                  title="PCA of {}", metavar="RUN_DIR|GLOB", must_exist=False,
                  help="PCA plane through a training run's trajectory (its final "
                  "checkpoint is the centre): a run folder, a folder of checkpoints or a "
                  "quoted glob of checkpoint files; without run.json name --model and "
                  "--dataset"),
            Param("with_run", "folder", flag="pca-with", label="With run", title="with {}",
                  metavar="RUN_DIR", help=_WITH_HELP),
            Param("with_run2", "folder", flag="pca-with2", label="With run (2)",
                  title="with {}", metavar="RUN_DIR", help=_WITH_HELP),
            Param("with_run3", "folder", flag="pca-with3", label="With run (3)",
                  title="with {}", metavar="RUN_DIR", help=_WITH_HELP),
            Param("fit", "str", default="joint", choices=FITS, flag="pca-fit",
                  label="Plane fitted to",
                  help="joint: every run's checkpoints (the plane holds each run's end); "
                  "first: the first run's, the others projected onto it"),
            *SELECTION_PARAMS),
)
