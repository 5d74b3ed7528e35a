"""The bytes of each mesh format, written by hand (no VTK, trimesh or glTF library needed).

- .vtp: VTK XML PolyData, ASCII (17 significant digits: coordinates read back exactly;
  ``nan`` for values not computed, which VTK's reader accepts), quads as ``Polys``.
- .obj: ``v``/``f`` lines (triangles, 1-based), the recipe in ``#`` comments.
- .stl: binary, little-endian triangles; the 80-byte header names the recipe's digest.
- .glb: glTF 2.0 binary: positions, smooth normals, vertex colours from the quantity's
  colour map (linear RGB, as glTF wants), uint32 indices; a node turns the z-up grid into
  glTF's y-up, so the surface stands upright in any viewer.
"""

from __future__ import annotations

import json
import struct
from xml.sax.saxutils import quoteattr

import numpy as np

from lossviz_core.export.mesh import SurfaceMesh, recipe_digest
from lossviz_core.results import quantities as qreg

_GLB_MAGIC, _GLB_JSON, _GLB_BIN = 0x46546C67, 0x4E4F534A, 0x004E4942
_Z_UP_TO_Y_UP = [-0.7071067811865476, 0.0, 0.0, 0.7071067811865476]  # -90° about x


def vtp_bytes(mesh: SurfaceMesh) -> bytes:
    """VTK XML PolyData: every grid point, the quads, each quantity as point data (the
    shown one active), ``computed`` per point, the recipe as field data and a comment."""
    info = json.dumps(mesh.extras(), sort_keys=True)
    n, m = len(mesh.points), len(mesh.quads)
    lines = [
        '<?xml version="1.0"?>',
        f"<!-- LossViz surface mesh; point j*nx+i = (x_i, y_j, height); {_comment(info)} -->",
        '<VTKFile type="PolyData" version="0.1" byte_order="LittleEndian" header_type="UInt32">',
        "  <PolyData>",
        "    <FieldData>",
        '      <Array type="String" Name="lossviz_recipe" NumberOfTuples="1" format="ascii">',
        "        " + " ".join(str(b) for b in info.encode("utf-8")) + " 0",
        "      </Array>",
        "    </FieldData>",
        f'    <Piece NumberOfPoints="{n}" NumberOfVerts="0" NumberOfLines="0" '
        f'NumberOfStrips="0" NumberOfPolys="{m}">',
        f"      <PointData Scalars={quoteattr(mesh.quantity)}>",
    ]
    for name in qreg.ordered(mesh.arrays):
        lines += _data_array("Float64", name, mesh.arrays[name])
    lines += _data_array("UInt8", "computed", mesh.done.astype(np.uint8))
    lines += ["      </PointData>", "      <Points>"]
    lines += _data_array("Float64", "Points", mesh.points, components=3)
    lines += ["      </Points>", "      <Polys>"]
    lines += _data_array("Int64", "connectivity", mesh.quads)
    lines += _data_array("Int64", "offsets", 4 * np.arange(1, m + 1))
    lines += ["      </Polys>", "    </Piece>", "  </PolyData>", "</VTKFile>", ""]
    return "\n".join(lines).encode("ascii")


def obj_bytes(mesh: SurfaceMesh) -> bytes:
    """Wavefront OBJ: the used vertices and the triangles; the recipe in a comment."""
    verts, tris = mesh.compact()
    out = [
        f"# LossViz surface mesh of {mesh.quantity}: x = alpha, y = beta, "
        f"z = {mesh.z_scale:g} x {'log10 ' if mesh.log else ''}{mesh.quantity}",
        "# lossviz-recipe: " + json.dumps(mesh.extras(), sort_keys=True),
        "o lossviz_surface",
    ]
    out += [f"v {_num(a)} {_num(b)} {_num(c)}" for a, b, c in verts]
    out += [f"f {a} {b} {c}" for a, b, c in tris + 1]
    return ("\n".join(out) + "\n").encode("ascii")


def stl_bytes(mesh: SurfaceMesh) -> bytes:
    """Binary STL; the header is ``lossviz sha256:`` + 32 hex digits of the recipe digest."""
    verts, tris = mesh.compact()
    header = f"lossviz sha256:{recipe_digest(mesh.recipe)[:32]} {mesh.quantity}"
    header_bytes = header.encode("ascii", "replace")[:80].ljust(80, b" ")
    tri = verts[tris].astype(np.float32)  # (t, 3 corners, xyz)
    record = np.zeros(len(tris), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    record["n"] = _unit(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]))
    record["v"] = tri
    return header_bytes + struct.pack("<I", len(tris)) + record.tobytes()


def glb_bytes(mesh: SurfaceMesh) -> bytes:
    """glTF 2.0 binary with the recipe in ``asset.extras``."""
    verts, tris = mesh.compact()
    pos = verts.astype("<f4")
    normals = _vertex_normals(verts, tris).astype("<f4")
    colours = _vertex_colours(mesh, verts).astype("<f4")
    index = tris.astype("<u4").reshape(-1)
    blobs = [pos.tobytes(), normals.tobytes(), colours.tobytes(), index.tobytes()]
    views, offset = [], 0
    for k, blob in enumerate(blobs):
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob),
                      "target": 34963 if k == 3 else 34962})
        offset += len(blob)  # every blob is a multiple of 4 bytes: no padding between
    accessors = [
        {"bufferView": 0, "componentType": 5126, "count": len(pos), "type": "VEC3",
         "min": pos.min(axis=0).tolist() if len(pos) else [0, 0, 0],
         "max": pos.max(axis=0).tolist() if len(pos) else [0, 0, 0]},
        {"bufferView": 1, "componentType": 5126, "count": len(pos), "type": "VEC3"},
        {"bufferView": 2, "componentType": 5126, "count": len(pos), "type": "VEC3"},
        {"bufferView": 3, "componentType": 5125, "count": len(index), "type": "SCALAR"},
    ]
    doc = {
        "asset": {"version": "2.0", "generator": "LossViz", "extras": mesh.extras()},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "lossviz_surface", "rotation": _Z_UP_TO_Y_UP}],
        "meshes": [{"name": mesh.quantity, "primitives": [{
            "attributes": {"POSITION": 0, "NORMAL": 1, "COLOR_0": 2}, "indices": 3,
            "material": 0, "mode": 4}]}],
        "materials": [{"name": "landscape", "doubleSided": True, "pbrMetallicRoughness": {
            "baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0, "roughnessFactor": 0.9}}],
        "buffers": [{"byteLength": offset}],
        "bufferViews": views,
        "accessors": accessors,
    }
    if not len(index):  # glTF forbids empty buffers and accessors: a file with no cells
        doc.pop("buffers"), doc.pop("bufferViews"), doc.pop("accessors")
        doc["meshes"], doc["nodes"] = [], [{"name": "lossviz_surface (no finite cells)"}]
    text = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary = b"".join(blobs) if len(index) else b""
    chunks = struct.pack("<II", len(text), _GLB_JSON) + text
    if binary:
        chunks += struct.pack("<II", len(binary), _GLB_BIN) + binary
    return struct.pack("<III", _GLB_MAGIC, 2, 12 + len(chunks)) + chunks


# --- internals -------------------------------------------------------------------------


def _num(v: float) -> str:
    return repr(float(v))


def _comment(text: str) -> str:
    """``text`` safe inside an XML comment: JSON's ``\\u002d`` escape breaks up any "--"."""
    return text.replace("--", "-\\u002d")


def _data_array(kind: str, name: str, values: np.ndarray, components: int = 1) -> list[str]:
    flat = np.asarray(values).reshape(-1)
    attrs = f' NumberOfComponents="{components}"' if components > 1 else ""
    per_line = 3 * components if components > 1 else 12
    rows = [" ".join(_num(v) if kind == "Float64" else str(int(v)) for v in flat[k:k + per_line])
            for k in range(0, len(flat), per_line)]
    return ([f'        <DataArray type="{kind}" Name={quoteattr(name)}{attrs} format="ascii">']
            + ["          " + r for r in rows] + ["        </DataArray>"])


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, n, out=np.zeros_like(v), where=n > 0)


def _vertex_normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted mean of the adjacent triangles' normals (a smooth surface)."""
    tri = verts[tris]
    face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 × area
    acc = np.zeros_like(verts)
    for k in range(3):
        np.add.at(acc, tris[:, k], face)
    return _unit(acc)


def _vertex_colours(mesh: SurfaceMesh, verts: np.ndarray) -> np.ndarray:
    """The quantity's colour map over the heights' range, converted to linear RGB."""
    from lossviz_core.export.panels import colormap

    z = verts[:, 2]
    lo, hi = (float(z.min()), float(z.max())) if len(z) else (0.0, 1.0)
    t = (z - lo) / (hi - lo) if hi > lo else np.full(len(z), 0.5)
    if mesh.z_scale < 0:  # a flipped height: colours still follow the value
        t = 1 - t
    srgb = colormap(qreg.quantity(mesh.quantity).colormap)(t)[:, :3]
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
