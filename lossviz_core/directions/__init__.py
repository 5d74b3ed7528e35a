"""Directions d1 (, d2) in weight space: random (normalized), target, PCA, or from a file.

Definitions follow Li et al. (NeurIPS 2018) and the reference implementation
(tomgoldstein/loss-landscape, ``net_plotter.py``): a direction is a list of tensors
aligned with :func:`weights_of` (``parameters()`` or ``state_dict()`` order), so the
surface point (α, β) is ``θ + α·d1 + β·d2`` tensor by tensor. Integer buffers
(``num_batches_tracked``) get zero tensors of their own dtype and are never perturbed.

Direction files use the reference's HDF5 layout (``h5_util.write_list``): groups
``xdirection`` / ``ydirection`` holding datasets ``"0".."n-1"``. Our extras (names,
dir_type, info, a PCA trajectory) live in a ``lossviz`` group the reference ignores.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor, nn

from lossviz_core.atomic import atomic_path
from lossviz_core.errors import CheckpointError, InputError, StoreError
from lossviz_core.recipe.spec import DIR_TYPES, NORMS, DirectionSpec, json_default
from lossviz_core.results.result import Trajectory
from lossviz_core.sources.checkpoints import load_state_dict

# --------------------------------------------------------------------------- weights


def check_dir_type(dir_type: str) -> None:
    """Raise :class:`InputError` unless ``dir_type`` is ``weights`` or ``states``."""
    if dir_type not in DIR_TYPES:
        raise InputError(f"unknown dir_type {dir_type!r}; choose one of {', '.join(DIR_TYPES)}")


def weights_of(model: nn.Module, dir_type: str = "weights") -> list[Tensor]:
    """The tensors a direction perturbs, sharing storage with the model (not copies).

    ``weights``: ``[p.data for p in model.parameters()]`` (BN running statistics kept);
    ``states``: ``list(model.state_dict().values())`` (buffers included).
    """
    check_dir_type(dir_type)
    if dir_type == "weights":
        return [p.data for p in model.parameters()]
    return list(model.state_dict().values())


def names_of(model: nn.Module, dir_type: str = "weights") -> list[str]:
    """The names of :func:`weights_of`'s tensors, in the same order."""
    check_dir_type(dir_type)
    if dir_type == "weights":
        return [n for n, _ in model.named_parameters()]
    return list(model.state_dict().keys())


def is_perturbable(t: Tensor) -> bool:
    """Float tensors move along directions; integer buffers never do."""
    return t.is_floating_point() or t.is_complex()


def tensors_from_state(model: nn.Module, state: Any, dir_type: str = "weights") -> list[Tensor]:
    """The entries of ``state`` (dict or checkpoint path) aligned with ``weights_of(model)``.

    A missing key or a wrong shape raises :class:`CheckpointError` naming them.
    """
    sd = state if isinstance(state, Mapping) else load_state_dict(state)
    names, ref = names_of(model, dir_type), weights_of(model, dir_type)
    # integer buffers are never perturbed: a checkpoint may lack them (PyTorch < 0.4)
    sd = {**{n: w for n, w in zip(names, ref, strict=True) if not is_perturbable(w)}, **sd}
    missing = [n for n in names if n not in sd]
    bad = [
        f"{n} {tuple(sd[n].shape)} vs model {tuple(w.shape)}"
        for n, w in zip(names, ref, strict=True)
        if n in sd and tuple(sd[n].shape) != tuple(w.shape)
    ]
    if missing or bad:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
        if bad:
            parts.append(f"wrongly shaped {'; '.join(bad[:3])}" + (" ..." if len(bad) > 3 else ""))
        source = "the given state" if isinstance(state, Mapping) else str(state)
        raise CheckpointError(
            f"checkpoint {source} does not fit model {type(model).__name__}: {'; '.join(parts)}"
        )
    return [
        sd[n].detach().to(device=w.device, dtype=w.dtype) for n, w in zip(names, ref, strict=True)
    ]


# --------------------------------------------------------------------------- math


def normalize_direction(direction: Tensor, weights: Tensor, norm: str = "filter") -> Tensor:
    """Rescale one direction tensor in place against its weights; returns it.

    ``filter``: each slice along dim 0 gets ‖d_i‖ = ‖θ_i‖; ``layer``: ‖d‖ = ‖θ‖;
    ``weight``: d ⊙ θ; ``dfilter`` / ``dlayer``: unit norm per filter / per tensor;
    ``none``: unchanged. The 1e-10 guards are the reference's.
    """
    if norm not in NORMS:
        raise InputError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    if norm in ("filter", "dfilter"):
        n = direction.shape[0] if direction.dim() else 1
        scale = 1.0 / (direction.reshape(n, -1).norm(dim=1) + 1e-10)
        if norm == "filter":
            scale = weights.reshape(n, -1).norm(dim=1) * scale
        # one scale per slice along dim 0 (a conv output filter, a Linear row)
        direction.mul_(
            scale.reshape((-1,) + (1,) * (direction.dim() - 1)) if direction.dim() else scale[0]
        )
    elif norm == "layer":
        direction.mul_(weights.norm() / (direction.norm() + 1e-10))
    elif norm == "weight":
        direction.mul_(weights)
    elif norm == "dlayer":
        direction.div_(direction.norm() + 1e-10)
    return direction


def random_direction(
    model: nn.Module,
    dir_type: str = "weights",
    norm: str = "filter",
    ignore: str = "biasbn",
    generator: torch.Generator | None = None,
) -> list[Tensor]:
    """A Gaussian direction with the shapes of ``weights_of(model, dir_type)``, normalized.

    Drawn on the CPU in float32 from ``generator`` (the global RNG if ``None``) and
    normalized there, then moved to each tensor's device and dtype: the same seed gives
    the same direction on any device. Tensors with dim <= 1 (biases, BN) are zero with
    ``ignore='biasbn'``, else a copy of θ (reference semantics); integer buffers are zero.
    """
    if ignore not in ("biasbn", "none"):
        raise InputError(f"unknown ignore {ignore!r}; choose one of biasbn, none")
    if norm not in NORMS:
        raise InputError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    out = []
    for w in weights_of(model, dir_type):
        if not is_perturbable(w):
            out.append(torch.zeros_like(w))
            continue
        # every float tensor draws, so d's conv entries do not depend on ``ignore``
        d = torch.randn(w.shape, generator=generator, dtype=torch.float32)
        if w.dim() <= 1:
            d = torch.zeros_like(d) if ignore == "biasbn" else w.detach().to("cpu", torch.float32)
        else:
            normalize_direction(d, w.detach().to("cpu", torch.float32), norm)
        out.append(d.to(device=w.device, dtype=w.dtype))
    return out


def target_direction(
    model: nn.Module, state_b: Any, dir_type: str = "weights", state_a: Any = None
) -> list[Tensor]:
    """d = θ_B − θ_A, unnormalized (θ_A: the model's current weights when ``state_a`` is None).

    ``state_a`` / ``state_b``: state dicts or checkpoint paths. Integer buffers get zeros.
    """
    theta_b = tensors_from_state(model, state_b, dir_type)
    if state_a is None:
        theta_a = [w.detach() for w in weights_of(model, dir_type)]
    else:
        theta_a = tensors_from_state(model, state_a, dir_type)
    return [
        b - a if is_perturbable(a) else torch.zeros_like(a)
        for a, b in zip(theta_a, theta_b, strict=True)
    ]


def _dot(d1: list[Tensor], d2: list[Tensor]) -> float:
    # float64 accumulation: a sum over millions of entries
    return sum(
        float((a.double() * b.to(a.device).double()).sum())
        for a, b in zip(d1, d2, strict=True)
        if is_perturbable(a)
    )


def direction_norm(d: list[Tensor]) -> float:
    """The global Euclidean norm of a direction (all tensors flattened together)."""
    return math.sqrt(_dot(d, d))


def cosine_similarity(d1: list[Tensor], d2: list[Tensor]) -> float:
    """cos(d1, d2) over the flattened lists; NaN when either is zero."""
    if len(d1) != len(d2):
        raise InputError(f"directions have {len(d1)} and {len(d2)} tensors")
    n1, n2 = direction_norm(d1), direction_norm(d2)
    if n1 == 0.0 or n2 == 0.0:
        return float("nan")
    return _dot(d1, d2) / (n1 * n2)


# --------------------------------------------------------------------------- Directions


@dataclass
class Directions:
    """d1 (``x``) and optionally d2 (``y``), aligned with ``weights_of(model, dir_type)``.

    ``info`` holds at least ``method``, ``x_norm``, ``y_norm`` and (2-D) ``cosine``;
    PCA adds ``explained_variance`` and ``pc_angle`` and sets ``trajectory``.
    """

    x: list[Tensor]
    y: list[Tensor] | None
    dir_type: str
    names: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    trajectory: Trajectory | None = None

    @property
    def two_d(self) -> bool:
        return self.y is not None

    def to(self, device: torch.device | str) -> Directions:
        """A copy with every tensor on ``device``."""
        move = lambda ts: [t.to(device) for t in ts]  # noqa: E731
        return replace(self, x=move(self.x), y=None if self.y is None else move(self.y))

    def fill_info(self, **extra: Any) -> Directions:
        """Record the norms (and the cosine between d1 and d2) in ``info``; returns self."""
        self.info.update(extra)
        self.info["x_norm"] = direction_norm(self.x)
        self.info["y_norm"] = None if self.y is None else direction_norm(self.y)
        if self.y is not None:
            self.info["cosine"] = cosine_similarity(self.x, self.y)
        else:
            self.info.pop("cosine", None)
        return self


def make_directions(model: nn.Module, spec: DirectionSpec, two_d: bool) -> Directions:
    """The one entry point for all methods; ``model`` already holds θ.

    ``random``: seeded with ``torch.Generator().manual_seed(spec.seed)``, d1 from the
    stream's start (xnorm/xignore), d2 from its continuation (ynorm/yignore).
    ``target``: d1 = θ_B − θ (``spec.target_checkpoint``); d2, if 2-D, is random (seeded).
    ``pca``: :func:`lossviz_core.directions.pca.pca_directions` on ``spec.pca_run`` (this loads
    the run's final checkpoint into ``model``). ``file``: :func:`load_directions`.
    """
    dt = spec.dir_type
    names = names_of(model, dt)
    gen = torch.Generator().manual_seed(int(spec.seed))
    if spec.method == "random":
        x = random_direction(model, dt, spec.xnorm, spec.xignore, gen)
        y = random_direction(model, dt, spec.ynorm, spec.yignore, gen) if two_d else None
        return Directions(x, y, dt, names, {"method": "random", "seed": spec.seed}).fill_info()
    if spec.method == "target":
        if not spec.target_checkpoint:
            raise InputError("the target method needs a target checkpoint (θ_B)")
        x = target_direction(model, spec.target_checkpoint, dt)
        y = random_direction(model, dt, spec.ynorm, spec.yignore, gen) if two_d else None
        info = {"method": "target", "target_checkpoint": str(spec.target_checkpoint)}
        return Directions(x, y, dt, names, info).fill_info(seed=spec.seed)
    if spec.method == "pca":
        if not spec.pca_run:
            raise InputError("the pca method needs a run folder (a training run's checkpoints)")
        from lossviz_core.directions.pca import (
            pca_directions,  # lazy: trajectory imports this module
        )

        dirs = pca_directions(model, spec.pca_run, dt, spec.xignore)
        return dirs if two_d else replace(dirs, y=None).fill_info()
    if spec.method == "file":
        if not spec.file:
            raise InputError("the file method needs a direction file (.h5)")
        dirs = load_directions(spec.file, model, dt)
        if two_d and dirs.y is None:
            raise InputError(
                f"direction file {spec.file} holds only an x direction; a 2-D "
                "surface needs a ydirection too"
            )
        return dirs if two_d else replace(dirs, y=None).fill_info()
    raise InputError(f"unknown direction method {spec.method!r}")


# --------------------------------------------------------------------------- files

_GROUPS = ("xdirection", "ydirection")


def _to_numpy(t: Tensor) -> np.ndarray:
    t = t.detach().cpu()
    # h5py has no bfloat16; float32/float64 are kept so a round trip is bit-identical
    if t.dtype not in (torch.float32, torch.float64, torch.float16):
        t = t.float()
    return t.numpy()


def save_directions(path: str | os.PathLike, dirs: Directions) -> None:
    """Write ``dirs`` in the reference's HDF5 layout, atomically (temp file + ``os.replace``)."""
    path = Path(path)
    with atomic_path(path, "direction file") as tmp:
        with h5py.File(tmp, "w") as f:
            for name, d in zip(_GROUPS, (dirs.x, dirs.y), strict=True):
                if d is None:
                    continue
                grp = f.create_group(name)
                for i, t in enumerate(d):
                    grp.create_dataset(str(i), data=_to_numpy(t))
            ev = dirs.info.get("explained_variance")
            if ev is not None:  # where the reference's PCA files keep it
                f["explained_variance_ratio_"] = np.asarray(ev, dtype=float)
            meta = f.create_group("lossviz")
            meta.attrs["format"] = "lossviz-directions-1"
            meta.attrs["dir_type"] = dirs.dir_type
            meta.attrs["names"] = json.dumps(list(dirs.names))
            meta.attrs["info"] = json.dumps(dirs.info, default=json_default)
            if dirs.trajectory is not None:
                tg = meta.create_group("trajectory")
                for k, v in dirs.trajectory.to_arrays().items():
                    tg.create_dataset(k, data=v)


def _read_group(f: h5py.File, name: str, path: Path) -> list[np.ndarray]:
    grp = f[name]
    if not isinstance(grp, h5py.Group):
        raise StoreError(f"direction file {path}: {name} is not a group")
    n = len(grp)
    missing = [str(i) for i in range(n) if str(i) not in grp]
    if missing:
        raise StoreError(
            f"direction file {path}: {name} lacks dataset(s) {', '.join(missing[:5])}"
            f" (expected '0'..'{n - 1}')"
        )
    return [np.asarray(grp[str(i)][()]) for i in range(n)]


def _check_fits(
    arrays: list[np.ndarray], model: nn.Module, dir_type: str, group: str, path: Path
) -> list[Tensor]:
    names, ref = names_of(model, dir_type), weights_of(model, dir_type)
    pairs = enumerate(zip(arrays, ref, strict=False))
    i = next((k for k, (a, w) in pairs if a.shape != w.shape), min(len(arrays), len(ref)))
    if i < max(len(arrays), len(ref)):  # a wrong shape, or one list runs out first
        mine = str(arrays[i].shape) if i < len(arrays) else "nothing"
        theirs = f"{names[i]} {tuple(ref[i].shape)}" if i < len(ref) else "nothing"
        count = ""
        if len(arrays) != len(ref):
            other = "states" if dir_type == "weights" else "weights"
            fits = len(arrays) == len(weights_of(model, other))
            count = f"{len(arrays)} tensors but the model has {len(ref)} {dir_type}" + (
                f" (it fits dir_type {other}); " if fits else "; "
            )
        raise InputError(
            f"direction file {path} does not fit the model: {count}first mismatch "
            f"{group}/{i}: file {mine}, model {theirs}"
        )
    out = []
    for i, (a, w) in enumerate(zip(arrays, ref, strict=True)):
        if not is_perturbable(w):
            out.append(torch.zeros_like(w))  # integer buffers are never perturbed
            continue
        if not np.all(np.isfinite(a)):
            raise StoreError(f"direction file {path}: {group}/{i} ({names[i]}) has NaN or inf")
        out.append(torch.from_numpy(np.ascontiguousarray(a)).to(device=w.device, dtype=w.dtype))
    return out


def load_directions(
    path: str | os.PathLike, model: nn.Module, dir_type: str = "weights"
) -> Directions:
    """Read a direction file (ours or the reference's) and check it fits ``model``.

    A corrupted or non-HDF5 file raises :class:`StoreError`; a file made for another
    model (count or shapes differ) raises :class:`InputError` naming the first mismatch.
    """
    path = Path(path)
    check_dir_type(dir_type)
    if not path.is_file():
        raise StoreError(f"direction file {path} does not exist")
    stored: dict[str, Any] = {}
    traj = None
    try:
        with h5py.File(path, "r") as f:
            if "xdirection" not in f:
                raise StoreError(f"{path} is not a direction file: it has no xdirection group")
            groups = [_read_group(f, g, path) if g in f else None for g in _GROUPS]
            meta = f.get("lossviz")
            if isinstance(meta, h5py.Group):
                stored_type = meta.attrs.get("dir_type")
                if stored_type is not None and str(stored_type) != dir_type:
                    raise InputError(
                        f"direction file {path} holds {stored_type} directions; "
                        f"choose dir_type {stored_type}"
                    )
                stored = json.loads(meta.attrs.get("info", "{}"))
                if "trajectory" in meta:
                    tg = meta["trajectory"]
                    traj = Trajectory.from_arrays({k: np.asarray(tg[k][()]) for k in tg})
            elif "explained_variance_ratio_" in f:  # a reference PCA file
                stored["explained_variance"] = [
                    float(v) for v in f["explained_variance_ratio_"][()]
                ]
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise StoreError(f"cannot read direction file {path}: {exc}") from None
    x = _check_fits(groups[0], model, dir_type, "xdirection", path)
    y = None if groups[1] is None else _check_fits(groups[1], model, dir_type, "ydirection", path)
    info = {**stored, "method": "file", "file": str(path), "source_method": stored.get("method")}
    return Directions(x, y, dir_type, names_of(model, dir_type), info, traj).fill_info()
