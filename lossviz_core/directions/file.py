"""``file``: directions imported from an HDF5 direction file (ours or the reference's)."""

from __future__ import annotations

from lossviz_core.directions.base import DirectionContext, DirectionMethod, Directions
from lossviz_core.directions.hdf5 import load_directions
from lossviz_core.errors import InputError
from lossviz_core.params import Param


def build(ctx: DirectionContext) -> Directions:
    s = ctx.spec
    file = s.param("file")
    if not file:
        raise InputError("the file method needs a direction file (.h5): --directions FILE")
    dirs = load_directions(file, ctx.model, s.dir_type)
    if ctx.two_d and dirs.y is None:
        raise InputError(
            f"direction file {file} holds only an x direction; a 2-D surface needs a "
            "ydirection too"
        )
    return dirs if ctx.two_d else dirs.line()


METHOD = DirectionMethod(
    name="file", build=build, label="Direction file (.h5)", line_label="1-D from a direction file",
    title="imported directions", uses=(),
    params=(Param("file", "file", flag="directions", label="Direction file", selects=True,
                  title="directions from {}", metavar="FILE",
                  help="import directions from an HDF5 direction file (ours or the "
                  "reference's layout)"),),
)
