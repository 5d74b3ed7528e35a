"""Export a surface as a mesh for rendering elsewhere: .vtp (ParaView), .obj, .stl, .glb.

The mesh is the grid itself, in its true orientation (design: Conventions): point
``j * nx + i`` sits at ``(x[i], y[j], z_scale · f(x[i], y[j]))`` (log10 f with ``log``),
so a non-square grid stays non-square (the reference's ``h52vtp.py`` gets that wrong).
Cells are the grid's quads whose four corners are computed and finite; missing and
diverged points make holes, never a fake height.

Every file carries the recipe: a ``FieldData`` string array ``lossviz_recipe`` and an XML
comment in a .vtp, ``#`` comments in an .obj, ``asset.extras`` in a .glb. A binary STL
has no room for it: its 80-byte header holds ``lossviz sha256:`` and the first 32 hex
digits of :func:`recipe_digest` (the SHA-256 of the recipe's canonical JSON), which
names the recipe of the figure or result file it came from.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lossviz_core.atomic import atomic_path
from lossviz_core.errors import InputError, StoreError
from lossviz_core.export.panels import shown_values
from lossviz_core.recipe.spec import jsonable
from lossviz_core.results.result import SurfaceResult

MESH_FORMATS = (".vtp", ".obj", ".stl", ".glb")


@dataclass(frozen=True)
class SurfaceMesh:
    """The grid as a mesh. ``points`` (nx·ny, 3) in grid order (id ``j * nx + i``);
    ``quads`` (m, 4) point ids, counter-clockwise seen from above; ``arrays`` every
    quantity's raw values per point (NaN kept); ``done`` per point."""

    points: np.ndarray
    quads: np.ndarray
    arrays: dict[str, np.ndarray]
    done: np.ndarray
    quantity: str
    recipe: Any
    z_scale: float
    log: bool

    def triangles(self) -> np.ndarray:
        """Each quad as two triangles (a, b, c), (a, c, d): (2m, 3) point ids."""
        q = self.quads
        return np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]], axis=1).reshape(-1, 3)

    def compact(self) -> tuple[np.ndarray, np.ndarray]:
        """Only the points a triangle uses (in grid order) and the triangles renumbered:
        what .obj, .stl and .glb hold (holes leave no loose vertices)."""
        tris = self.triangles()
        used = np.unique(tris)
        new_id = np.full(len(self.points), -1, dtype=np.int64)
        new_id[used] = np.arange(len(used))
        return self.points[used], new_id[tris]

    def extras(self) -> dict[str, Any]:
        """What the files say about themselves besides the geometry."""
        return {"recipe": self.recipe, "quantity": self.quantity, "z_scale": self.z_scale,
                "log": self.log, "generator": "LossViz"}


def export_mesh(result: SurfaceResult, path: str | os.PathLike, quantity: str | None = None,
                z_scale: float = 1.0, log: bool = False) -> Path:
    """Write the surface of ``quantity`` (default: the main loss) as a mesh; the format
    follows the extension (.vtp, .obj, .stl, .glb). Heights are ``z_scale`` × the value
    (× its log10 with ``log``). Written atomically; returns the path."""
    from lossviz_core.export import mesh_formats

    path = Path(path)
    fmt = path.suffix.lower()
    if fmt not in MESH_FORMATS:
        raise InputError(f"cannot export a mesh as {path.name!r}: use a "
                         f"{', '.join(MESH_FORMATS[:-1])} or {MESH_FORMATS[-1]} file name")
    mesh = surface_mesh(result, quantity, z_scale, log)
    data = {".vtp": mesh_formats.vtp_bytes, ".obj": mesh_formats.obj_bytes,
            ".stl": mesh_formats.stl_bytes, ".glb": mesh_formats.glb_bytes}[fmt](mesh)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot write mesh {path}: {exc.strerror or exc}") from None
    with atomic_path(path, "mesh") as tmp:
        Path(tmp).write_bytes(data)
    return path


def surface_mesh(result: SurfaceResult, quantity: str | None = None, z_scale: float = 1.0,
                 log: bool = False) -> SurfaceMesh:
    """The mesh :func:`export_mesh` writes (points, quads, per-point values)."""
    from lossviz_core.export.figure import panel_quantity

    if result.is_line:
        raise InputError("a mesh needs a 2-D result; this one is a line")
    if not (np.isfinite(z_scale) and z_scale != 0):
        raise InputError(f"the height scale must be a finite number other than 0, got {z_scale}")
    q = panel_quantity(result, quantity)
    x, y = np.asarray(result.x, float), np.asarray(result.y, float)
    if len(x) < 2 or len(y) < 2:
        raise InputError(f"a mesh needs at least 2 points along each axis, got {len(x)} x {len(y)}")
    z = shown_values(result.values[q], q, log) * float(z_scale)
    good = np.isfinite(z) & np.asarray(result.done, bool)
    # Points without a height sit at the lowest one: no cell uses them, and a NaN
    # coordinate would spoil the bounds (camera, axes) in ParaView.
    floor = float(z[good].min()) if good.any() else 0.0
    xx, yy = np.meshgrid(x, y)  # (ny, nx): point id j * nx + i
    points = np.stack([xx, yy, np.where(good, z, floor)], axis=-1).reshape(-1, 3)
    nx = len(x)
    cells = good[:-1, :-1] & good[:-1, 1:] & good[1:, 1:] & good[1:, :-1]
    jj, ii = np.nonzero(cells)
    p00 = jj * nx + ii
    quads = np.stack([p00, p00 + 1, p00 + nx + 1, p00 + nx], axis=1).astype(np.int64)
    arrays = {name: np.asarray(v, float).reshape(-1) for name, v in result.values.items()}
    return SurfaceMesh(points, quads.reshape(-1, 4), arrays,
                       np.asarray(result.done, bool).reshape(-1), q, recipe_of(result),
                       float(z_scale), bool(log))


def recipe_of(result: SurfaceResult) -> Any:
    """The result's recipe as plain JSON types (its specs when it has no recipe: a file
    from the reference implementation)."""
    recipe = result.recipe
    return recipe.to_dict() if recipe is not None else jsonable(result.specs)


def recipe_digest(recipe: Any) -> str:
    """SHA-256 (hex) of the recipe's canonical JSON (sorted keys, no spaces): what an STL
    header names. ``recipe``: a result, a :class:`~lossviz_core.recipe.spec.Recipe` or
    its dict."""
    if isinstance(recipe, SurfaceResult):
        recipe = recipe_of(recipe)
    elif hasattr(recipe, "to_dict"):
        recipe = recipe.to_dict()
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
