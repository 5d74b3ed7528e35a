"""Exported files read back by independent readers: meshes at the grid's true points,
figures of the requested size that render (librsvg, poppler) to what was drawn."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET

import matplotlib
import numpy as np
import pytest
from PIL import Image

from lossviz_core.errors import InputError
from lossviz_core.export import (
    FigureOptions,
    build_figure,
    build_grid,
    common_title,
    difference_values,
    distinguishing_titles,
    export_figure,
    export_grid,
    export_mesh,
)
from lossviz_core.export.figure import save_exact
from lossviz_core.figures import read_png_specs
from lossviz_core.recipe.spec import DatasetSpec, DirectionSpec, GridSpec, ModelSpec, Range, Recipe
from lossviz_core.results.result import SurfaceResult

X7 = np.linspace(-1.0, 0.5, 7)  # non-square, asymmetric ranges: a flip or transpose shows
Y5 = np.linspace(-0.25, 1.0, 5)
RSVG, PDFTOPPM = shutil.which("rsvg-convert"), shutil.which("pdftoppm")
needs_rsvg = pytest.mark.skipif(RSVG is None, reason="rsvg-convert (librsvg2-bin) missing; "
                                "scripts/setup.sh installs it")
needs_poppler = pytest.mark.skipif(PDFTOPPM is None, reason="pdftoppm (poppler-utils) "
                                   "missing; scripts/setup.sh installs it")


def f(x, y):
    return 1.0 + x**2 + 3.0 * y**2 + 0.5 * x * y + 0.2 * x


def surface(name="resnet56", fn=f, x=X7, y=Y5, done=1.0, seed=0, checkpoint=None):
    recipe = Recipe(model=ModelSpec(name, checkpoint or f"/x/{name}.pt"),
                    dataset=DatasetSpec("cifar10"), directions=DirectionSpec(seed=seed),
                    grid=GridSpec(Range(x[0], x[-1], len(x)), Range(y[0], y[-1], len(y))))
    r = SurfaceResult.empty(x, y, ("train_loss", "train_acc"), specs={"recipe": recipe.to_dict()})
    xx, yy = np.meshgrid(x, y)  # z[j, i] = fn(x[i], y[j])
    z = fn(xx, yy).reshape(-1)
    idx = np.arange(int(round(done * z.size)))
    r.apply_chunk(idx, {"train_loss": z[idx], "train_acc": 100 - 10 * z[idx]})
    return r


def line(name, fn):
    x = np.linspace(-0.5, 1.5, 21)
    recipe = Recipe(model=ModelSpec(name, f"/x/{name}.pt"), grid=GridSpec(Range(-0.5, 1.5, 21), None))
    r = SurfaceResult.empty(x, None, ("train_loss",), specs={"recipe": recipe.to_dict()})
    r.apply_chunk(np.arange(21), {"train_loss": fn(x)})
    return r


# --- meshes ----------------------------------------------------------------------------


def read_vtp(path):
    """An independent reader: the XML's points, quads, point data and recipe."""
    root = ET.parse(path).getroot()
    piece = root.find("PolyData/Piece")

    def values(el):
        return np.array((el.text or "").split(), dtype=float)

    polys = {da.get("Name"): values(da).astype(int) for da in piece.find("Polys")}
    codes = values(root.find("PolyData/FieldData/Array[@Name='lossviz_recipe']")).astype(int)
    assert codes[-1] == 0  # VTK's string arrays end every string with a 0
    return {
        "n": int(piece.get("NumberOfPoints")), "m": int(piece.get("NumberOfPolys")),
        "points": values(piece.find("Points/DataArray")).reshape(-1, 3),
        "quads": polys["connectivity"].reshape(-1, 4), "offsets": polys["offsets"],
        "scalars": piece.find("PointData").get("Scalars"),
        "data": {da.get("Name"): values(da) for da in piece.find("PointData")},
        "info": json.loads(bytes(codes[:-1].tolist()).decode()),
    }


def test_vtp_of_a_non_square_grid_has_every_point_where_the_grid_has_it(tmp_path):
    r = surface()
    got = read_vtp(export_mesh(r, tmp_path / "s.vtp"))
    assert got["n"] == 35 == len(got["points"])
    for j, yj in enumerate(Y5):
        for i, xi in enumerate(X7):
            assert tuple(got["points"][j * 7 + i]) == (xi, yj, f(xi, yj))  # exact: 17 digits
    assert got["m"] == 24 and list(got["offsets"]) == list(range(4, 97, 4))
    cells = set()
    for quad in got["quads"]:
        ij = [(p % 7, p // 7) for p in quad]
        i0, j0 = min(ij)
        assert ij == [(i0, j0), (i0 + 1, j0), (i0 + 1, j0 + 1), (i0, j0 + 1)]  # neighbours, CCW
        cells.add((i0, j0))
    assert cells == {(i, j) for i in range(6) for j in range(4)}
    assert got["scalars"] == "train_loss"
    np.testing.assert_array_equal(got["data"]["train_loss"], got["points"][:, 2])
    assert got["info"]["recipe"] == r.recipe.to_dict()


def test_vtp_leaves_out_cells_of_missing_and_diverged_points(tmp_path):
    r = surface(done=30 / 35)  # points 30-34 (most of the top row) not computed
    r.values["train_loss"][1, 2] = np.nan  # computed, diverged
    got = read_vtp(export_mesh(r, tmp_path / "nan.vtp"))
    assert got["n"] == 35
    bad = {1 * 7 + 2} | set(range(30, 35))
    good_cells = [(i, j) for i in range(6) for j in range(4)
                  if not {j * 7 + i, j * 7 + i + 1, (j + 1) * 7 + i, (j + 1) * 7 + i + 1} & bad]
    assert got["m"] == len(good_cells) == 24 - 4 - 5
    assert not set(got["quads"].ravel()) & bad
    assert np.isnan(got["data"]["train_loss"][[9, 30, 34]]).all()
    assert np.isfinite(got["points"]).all()  # no NaN coordinate to spoil ParaView's bounds


def test_vtp_opens_with_vtk(tmp_path):
    vtk = pytest.importorskip("vtk")  # optional: large; the XML test above always runs
    from vtk.util.numpy_support import vtk_to_numpy

    reader = vtk.vtkXMLPolyDataReader()
    reader.SetFileName(str(export_mesh(surface(), tmp_path / "s.vtp")))
    reader.Update()
    poly = reader.GetOutput()
    assert poly.GetNumberOfPoints() == 35 and poly.GetNumberOfPolys() == 24
    xx, yy = np.meshgrid(X7, Y5)
    expect = np.stack([xx, yy, f(xx, yy)], -1).reshape(-1, 3)
    np.testing.assert_array_equal(vtk_to_numpy(poly.GetPoints().GetData()), expect)
    text = poly.GetFieldData().GetAbstractArray("lossviz_recipe").GetValue(0)
    assert json.loads(text)["recipe"]["model"]["name"] == "resnet56"


def grid_points():
    xx, yy = np.meshgrid(X7, Y5)
    return np.stack([xx, yy, f(xx, yy)], -1).reshape(-1, 3)


def read_glb(path):
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<III", data)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    jlen, jtype = struct.unpack_from("<II", data, 12)
    doc = json.loads(data[20:20 + jlen])
    blen, btype = struct.unpack_from("<II", data, 20 + jlen)
    assert (jtype, btype) == (0x4E4F534A, 0x004E4942)
    binary = data[28 + jlen:28 + jlen + blen]

    def accessor(k):
        a = doc["accessors"][k]
        view = doc["bufferViews"][a["bufferView"]]
        width = {"VEC3": 3, "SCALAR": 1}[a["type"]]
        dtype = {5126: "<f4", 5125: "<u4"}[a["componentType"]]
        return np.frombuffer(binary, dtype, a["count"] * width, view["byteOffset"]).reshape(
            a["count"], width)

    prim = doc["meshes"][0]["primitives"][0]
    return doc, accessor(prim["attributes"]["POSITION"]), accessor(prim["indices"]).reshape(-1, 3)


def test_obj_stl_glb_parsed_by_hand(tmp_path):
    r = surface()
    recipe = r.recipe.to_dict()
    obj = export_mesh(r, tmp_path / "s.obj").read_text().splitlines()
    v = np.array([ln.split()[1:] for ln in obj if ln.startswith("v ")], float)
    faces = np.array([ln.split()[1:] for ln in obj if ln.startswith("f ")], int) - 1
    np.testing.assert_array_equal(v, grid_points())
    assert faces.shape == (48, 3) and faces.min() == 0 and faces.max() == 34
    comment = next(ln for ln in obj if ln.startswith("# lossviz-recipe: "))
    assert json.loads(comment.split(": ", 1)[1])["recipe"] == recipe

    stl = export_mesh(r, tmp_path / "s.stl").read_bytes()
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True, separators=(",", ":"))
                            .encode()).hexdigest()
    assert stl[:80].startswith(f"lossviz sha256:{digest[:32]}".encode())
    (count,) = struct.unpack_from("<I", stl, 80)
    assert count == 48 and len(stl) == 84 + 50 * count
    tris = np.array([struct.unpack_from("<12f", stl, 84 + 50 * k) for k in range(count)])
    corners = np.unique(tris[:, 3:].reshape(-1, 3), axis=0)  # sorted rows, as below
    np.testing.assert_array_equal(corners, np.unique(grid_points().astype(np.float32), axis=0))
    assert (tris[:, 2] > 0).all()  # normals point up: every triangle wound CCW from above

    doc, pos, idx = read_glb(export_mesh(r, tmp_path / "s.glb"))
    np.testing.assert_allclose(pos, grid_points(), rtol=1e-6)
    assert idx.shape == (48, 3) and doc["asset"]["version"] == "2.0"
    assert doc["asset"]["extras"]["recipe"] == recipe
    assert doc["accessors"][0]["min"] == pytest.approx(pos.min(axis=0).tolist())


def test_mesh_files_open_with_trimesh(tmp_path):
    trimesh = pytest.importorskip("trimesh")
    r = surface(done=30 / 35)
    for suffix in (".obj", ".stl", ".glb"):
        loaded = trimesh.load(export_mesh(r, tmp_path / f"s{suffix}"), process=False)
        mesh = loaded if isinstance(loaded, trimesh.Trimesh) else next(
            iter(loaded.geometry.values()))
        assert len(mesh.faces) == 2 * 19, suffix  # the cells without a missing corner
        got = np.unique(np.round(mesh.vertices, 5), axis=0)
        np.testing.assert_allclose(got, np.unique(np.round(grid_points()[:30], 5), axis=0),
                                   atol=1e-5, err_msg=suffix)
    scene = trimesh.load(tmp_path / "s.glb")
    upright = scene.to_geometry().vertices  # the node turns z-up into glTF's y-up
    np.testing.assert_allclose(np.sort(upright[:, 1]), np.sort(grid_points()[:30, 2]), rtol=1e-5)


def test_mesh_refuses_a_line_and_unknown_formats(tmp_path):
    with pytest.raises(InputError, match="2-D"):
        export_mesh(line("a", lambda x: x**2), tmp_path / "l.vtp")
    with pytest.raises(InputError, match=r"\.vtp"):
        export_mesh(surface(), tmp_path / "s.ply")


# --- figures ---------------------------------------------------------------------------


def rgb(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=float)


def assert_rendered_figure(png, fig, cmap="viridis"):
    """Not a solid block, and the colour bar (where the figure puts it) runs through the
    whole colour map, high at the top."""
    img = rgb(png)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 200
    fig.canvas.draw()  # lay the figure out: the colour bar's place in figure fractions
    box = fig.axes[-1].get_position()
    h, w = img.shape[:2]
    column = img[int((1 - box.y1) * h) + 3:int((1 - box.y0) * h) - 3, int(box.x0 * w + box.x1 * w) // 2]
    lut = matplotlib.colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255
    d = np.linalg.norm(column[:, None, :] - lut[None], axis=2)
    assert (d.min(axis=1) < 10).all()  # every pixel down the bar is a colour of the map
    idx = d.argmin(axis=1)
    assert idx[0] > 240 and idx[-1] < 15 and (np.diff(idx) <= 2).all()


@needs_rsvg
@pytest.mark.parametrize("kind", ["filled", "heatmap"])
def test_svg_of_one_result_renders_with_librsvg(tmp_path, kind):
    o = FigureOptions(kind=kind, width=5, height=3.75)
    r = surface(x=np.linspace(-1, 0.5, 29), y=np.linspace(-0.25, 1, 21))
    svg = export_figure(r, tmp_path / "f.svg", o)
    root = ET.parse(svg).getroot()
    assert (root.get("width"), root.get("height")) == ("360pt", "270pt")
    subprocess.run([RSVG, "-o", str(tmp_path / "f.png"), str(svg)], check=True, timeout=60)
    assert_rendered_figure(tmp_path / "f.png", build_figure(r, o))
    assert "resnet56" in svg.read_text()  # the recipe in the metadata


@needs_rsvg
def test_svg_of_a_compare_grid_renders_with_librsvg(tmp_path):
    results = [surface(n, lambda x, y, k=k: f(x, y) * (1 + k)) for k, n in
               enumerate(["resnet20", "resnet20_noshort", "resnet56", "resnet56_noshort"])]
    o = FigureOptions(width=8, height=6)
    svg = export_grid(results, tmp_path / "g.svg", o, rows=2)
    subprocess.run([RSVG, "-o", str(tmp_path / "g.png"), str(svg)], check=True, timeout=60)
    assert_rendered_figure(tmp_path / "g.png", build_grid(results, o, rows=2))


@needs_poppler
def test_pdf_has_the_requested_page_size_and_renders(tmp_path):
    pdf = export_figure(surface(), tmp_path / "f.pdf", FigureOptions(width=5, height=3.5))
    grid = export_grid([surface("a"), surface("b", lambda x, y: 2 * f(x, y))],
                       tmp_path / "g.pdf", FigureOptions(width=7.5, height=3))
    for path, points in ((pdf, (360, 252)), (grid, (540, 216))):
        try:
            import pypdf
        except ImportError:
            pypdf = None
        if pypdf is not None:
            box = pypdf.PdfReader(path).pages[0].mediabox
            assert (float(box.width), float(box.height)) == points
        out = tmp_path / path.stem
        subprocess.run([PDFTOPPM, "-png", "-r", "72", "-singlefile", str(path), str(out)],
                       check=True, timeout=60)
        img = rgb(out.with_suffix(".png"))
        assert img.shape[:2] == (points[1], points[0])  # at 72 dpi a point is a pixel
        assert len(np.unique(img.reshape(-1, 3), axis=0)) > 100


@pytest.mark.parametrize("options, size", [
    (FigureOptions.from_pixels(1001, 667, dpi=137), (1001, 667)),
    (FigureOptions(width=4.02, height=3.05, dpi=100), (402, 305)),  # 4.02*100 = 401.99999
    (FigureOptions(width=3.05, height=3.13, dpi=150), (458, 470)),
])
def test_png_has_exactly_the_requested_pixels(tmp_path, options, size):
    png = export_figure(surface(), tmp_path / "f.png", options)
    assert Image.open(png).size == size
    specs = read_png_specs(png)
    assert specs["recipe"]["model"]["name"] == "resnet56"
    assert specs["figure"]["dpi"] == options.dpi


def test_difference_is_a_minus_b_and_drawn_centred_at_zero(tmp_path):
    a, b = surface("resnet56"), surface("resnet56_noshort", lambda x, y: 2 + np.sin(3 * x) * y)
    xx, yy = np.meshgrid(X7, Y5)
    expect = f(xx, yy) - (2 + np.sin(3 * xx) * yy)
    np.testing.assert_allclose(difference_values(a, b), expect, rtol=0, atol=1e-12)
    o = FigureOptions(kind="heatmap", width=5, height=4, dpi=100, title="")
    fig = build_grid([a, b], o, mode="difference")
    image = fig.axes[0].images[0]
    block = image.get_array().shape[1] // 7
    np.testing.assert_allclose(image.get_array()[::block, ::block], expect, atol=1e-12)
    assert image.norm.vmin == -image.norm.vmax == pytest.approx(-np.abs(expect).max())
    assert fig.axes[0].get_title() == "resnet56 − resnet56_noshort"
    png = save_exact(fig, tmp_path / "d.png", o, {})
    img = rgb(png)
    for j, i in (np.unravel_index(expect.argmax(), expect.shape),
                 np.unravel_index(expect.argmin(), expect.shape)):
        px, py = fig.axes[0].transData.transform((X7[i], Y5[j]))
        r_, _, b_ = img[int(img.shape[0] - py), int(px)]
        assert (r_ > b_ + 60) == (expect[j, i] > 0)  # red above 0, blue below (RdBu_r)


def test_difference_refuses_other_grids_in_one_line(tmp_path):
    a, b = surface(), surface(x=np.linspace(-1, 0.5, 8))
    with pytest.raises(InputError, match="same grid") as err:
        export_grid([a, b], tmp_path / "d.png", mode="difference")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="exactly two"):
        export_grid([a, a, a], tmp_path / "d.png", mode="difference")
    assert not (tmp_path / "d.png").exists()


def test_grid_has_one_colour_scale_and_every_recipe(tmp_path):
    a, b = surface("resnet56"), surface("resnet56_noshort", lambda x, y: 5 + f(x, y))
    fig = build_grid([a, b], FigureOptions(kind="heatmap"))
    maps = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(maps) == 2 and len(fig.axes) == 3  # two panels and one colour bar
    lo, hi = float(np.nanmin(a.values["train_loss"])), float(np.nanmax(b.values["train_loss"]))
    for m in maps:
        assert (m.norm.vmin, m.norm.vmax) == pytest.approx((lo, hi))
    specs = read_png_specs(export_grid([a, b], tmp_path / "g.png", FigureOptions(dpi=50)))
    assert [s["recipe"] for s in specs] == [a.recipe.to_dict(), b.recipe.to_dict()]
    assert [s["panel"] for s in specs] == ["resnet56", "resnet56_noshort"]


def test_lines_overlay_one_axes():
    a, b = line("sgd", lambda x: (x - 0.5) ** 2), line("adam", lambda x: np.abs(x - 0.5))
    fig = build_grid([a, b], FigureOptions(), mode="lines")
    (ax,) = fig.axes
    assert [ln.get_label() for ln in ax.get_lines()] == ["sgd", "adam"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), b.values["train_loss"])


def test_distinguishing_titles_name_only_what_differs():
    pair = [surface("resnet56"), surface("resnet56_noshort")]  # own checkpoints too
    assert distinguishing_titles(pair) == ["resnet56", "resnet56_noshort"]
    assert "resnet56" not in common_title(pair) and "cifar10" in common_title(pair)
    assert distinguishing_titles([surface(seed=1), surface(seed=2)]) == ["seed 1", "seed 2"]
    runs = [surface(checkpoint="/runs/sgd/final.pt"), surface(checkpoint="/runs/adam/final.pt")]
    assert distinguishing_titles(runs) == ["sgd/final", "adam/final"]
    assert distinguishing_titles([surface(), surface()]) == ["resnet56 #1", "resnet56 #2"]
    wide = surface(x=np.linspace(-2, 2, 7))
    assert distinguishing_titles([surface(), wide]) == ["α\u00a0-1:0.5:7", "α\u00a0-2:2:7"]


def test_titles_count_token_data_in_sequences():
    import lossviz_core.builtins  # noqa: F401 - the data sources, as the app and CLI load them
    from lossviz_core.export import recipe_title

    def on(dataset, n):
        recipe = Recipe(model=ModelSpec("tiny_gpt"), dataset=DatasetSpec(dataset, subsample=n),
                        grid=GridSpec(Range(-1, 1, 3), None))
        return SurfaceResult.empty(np.linspace(-1, 1, 3), None, ("train_loss",),
                                   specs={"recipe": recipe.to_dict()})

    assert "shakespeare (64 sequences)" in recipe_title(on("shakespeare", 64))
    assert "text:/d/corpus.txt (8 sequences)" in recipe_title(on("text:/d/corpus.txt", 8))
    assert "digits (500 examples)" in recipe_title(on("digits", 500))
    assert distinguishing_titles([on("tokens:/d/ids.npy", 16), on("tokens:/d/ids.npy", 32)]) \
        == ["16 sequences", "32 sequences"]


def test_partial_result_shows_missing_cells_greyed(tmp_path):
    x, y = np.linspace(-1, 1, 21), np.linspace(-0.5, 1, 15)
    r = surface(x=x, y=y, done=0.5)
    r.values["train_loss"][3, 5] = np.nan  # diverged
    o = FigureOptions(kind="filled", width=6, height=4.5, dpi=100, title="")
    fig = build_figure(r, o)
    img = rgb(save_exact(fig, tmp_path / "p.png", o, {}))
    ax = fig.axes[0]

    def pixel(i, j):
        px, py = ax.transData.transform((x[i], y[j]))
        return img[int(img.shape[0] - py), int(px)]

    missing = [(i, j) for j in range(9, 14) for i in range(1, 20, 3)]  # inside the axes
    computed = [(i, j) for j in range(1, 6) for i in range(10, 20, 3)]
    for i, j in missing:
        p = pixel(i, j)
        assert np.ptp(p) < 12 and 90 < p.mean() < 235, (i, j, p)  # grey or its hatch
    for i, j in computed:
        assert np.ptp(pixel(i, j)) > 40  # a colour of the map
    assert np.allclose(pixel(5, 3), (255, 0, 255), atol=30)  # diverged: magenta
    assert any("not computed" in t.get_text() for t in fig.legends[0].get_texts())


def test_bad_options_are_one_line_input_errors():
    for bad in ({"kind": "pie"}, {"colormap": "nope"}, {"levels": 1}, {"vmin": 2, "vmax": 1},
                {"dpi": 1}, {"width": 0}, {"levels": (1.0, 0.5)}):
        with pytest.raises(InputError) as err:
            FigureOptions(**bad)
        assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="1-D"):
        build_figure(surface(), FigureOptions(kind="line"))


def test_no_pyplot_and_no_backend_change(tmp_path):
    code = (
        "import sys, matplotlib\n"
        "matplotlib.rcParams['backend'] = 'svg'\n"
        "import numpy as np\n"
        "from lossviz_core.export import export_figure, export_grid\n"
        "from lossviz_core.results.result import SurfaceResult\n"
        "r = SurfaceResult.empty(np.linspace(0, 1, 3), np.linspace(0, 1, 2), ('train_loss',))\n"
        "r.apply_chunk(np.arange(6), {'train_loss': np.arange(6.0)})\n"
        f"export_figure(r, {str(tmp_path / 'a.png')!r})\n"
        f"export_grid([r, r], {str(tmp_path / 'b.pdf')!r}, mode='3d')\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["svg", "False"]


def test_titles_name_the_computed_grid_not_the_requested_ranges():
    """A PCA plane fitted to its trajectory is titled by the grid it computed; two such
    results on other grids never share a title."""
    from lossviz_core.export import recipe_title

    asked = Recipe(model=ModelSpec("digits_cnn", "/runs/r/model_30.pt"),
                   directions=DirectionSpec(method="pca", params={"run": "/runs/r"}),
                   grid=GridSpec(Range(-1, 2, 31), Range(-1, 1, 21), fit=True))
    assert "fitted, 31 pts" in recipe_title(asked) and "-1:2:31" not in recipe_title(asked)
    a = surface(x=np.linspace(-9.02, 1.21, 31), y=np.linspace(-0.6, 1.96, 21))
    b = surface(x=np.linspace(-7.8, 0.9, 31), y=np.linspace(-0.6, 1.96, 21))
    for r in (a, b):
        r.specs = {"recipe": asked.to_dict()}  # the ranges asked for, not those computed
    assert recipe_title(a).endswith("α\u00a0-9.02:1.21:31 × β\u00a0-0.6:1.96:21")
    assert recipe_title(a) != recipe_title(b)
    assert distinguishing_titles([a, b]) == ["α\u00a0-9.02:1.21:31", "α\u00a0-7.8:0.9:31"]
    assert FigureOptions().title is None and build_figure(a).texts[0].get_text().endswith(
        "-0.6:1.96:21")


def test_a_heatmap_colours_linearly_and_a_fixed_scale_is_kept():
    """A loss over decades: filled bands log-spaced (LogNorm), a heatmap linear as the
    window's, its isolines at the window's levels; the convexity map keeps its 0-1 scale."""
    from matplotlib.colors import LogNorm

    from lossviz_core.results.result import contour_levels

    r = surface(fn=lambda x, y: 0.003 + 4 * x**2 + 5 * y**2)
    lo, hi = float(np.nanmin(r.values["train_loss"])), float(np.nanmax(r.values["train_loss"]))
    filled = build_figure(r, FigureOptions(kind="filled"))
    assert isinstance(filled.axes[0].collections[0].norm, LogNorm)
    heat = build_figure(r, FigureOptions(kind="heatmap", levels=12, isolines=True))
    image = heat.axes[0].images[0]
    assert type(image.norm).__name__ == "Normalize"
    assert (image.norm.vmin, image.norm.vmax) == pytest.approx((lo, hi))
    lines = heat.axes[0].collections[0]
    np.testing.assert_allclose(lines.levels, contour_levels(lo, hi, 12, True)[1:-1])
    conv = surface()
    conv.values["eig_ratio"] = np.clip(conv.values["train_loss"] / 10, 0, 0.4)
    scale = build_figure(conv, FigureOptions(kind="heatmap", quantity="eig_ratio"))
    assert (scale.axes[0].images[0].norm.vmin, scale.axes[0].images[0].norm.vmax) == (0, 1)
