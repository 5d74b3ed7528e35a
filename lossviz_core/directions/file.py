"""``file``: directions imported from an HDF5 direction file (ours or the reference's)."""

from __future__ import annotations

from lossviz_core.directions.base import (
    DirectionContext,
    DirectionMethod,
    Directions,
    register_method,
)
from lossviz_core.directions.files import load_directions
from lossviz_core.errors import InputError


def build(ctx: DirectionContext) -> Directions:
    s = ctx.spec
    if not s.file:
        raise InputError("the file method needs a direction file (.h5)")
    dirs = load_directions(s.file, ctx.model, s.dir_type)
    if ctx.two_d and dirs.y is None:
        raise InputError(
            f"direction file {s.file} holds only an x direction; a 2-D surface needs a "
            "ydirection too"
        )
    return dirs if ctx.two_d else dirs.line()


register_method(DirectionMethod("file", build, "Direction file (.h5)"))
