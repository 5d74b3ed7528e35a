"""Export that survives outside Qt: figures, compare grids and meshes drawn from the data.

- :func:`export_figure` (:class:`FigureOptions`): one result as PNG/SVG/PDF at exactly the
  requested size, drawn by matplotlib (Agg, never pyplot) from the arrays;
- :func:`export_grid`: N results on one colour scale (2-D maps, 3-D surfaces), a
  difference map of two, or 1-D overlays, as one figure; :func:`distinguishing_titles`
  names what tells the results apart;
- :func:`export_mesh`: the surface as .vtp (ParaView), .obj, .stl or .glb.

Every file carries the recipe that made it (see each function).
"""

from lossviz_core.export.figure import KINDS, FigureOptions, build_figure, export_figure
from lossviz_core.export.grid import (
    MODES,
    build_grid,
    check_same_grid,
    common_title,
    difference_values,
    export_grid,
    grid_shape,
)
from lossviz_core.export.mesh import (
    MESH_FORMATS,
    SurfaceMesh,
    export_mesh,
    recipe_digest,
    surface_mesh,
)
from lossviz_core.export.titles import distinguishing_titles, recipe_fields, recipe_title

__all__ = [
    "KINDS", "MODES", "MESH_FORMATS", "FigureOptions", "SurfaceMesh",
    "build_figure", "build_grid", "check_same_grid", "common_title", "difference_values",
    "distinguishing_titles", "export_figure", "export_grid", "export_mesh", "grid_shape",
    "recipe_digest", "recipe_fields", "recipe_title", "surface_mesh",
]
