"""Figures: every kind in every format, read back; orientation of non-square grids; metadata."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.image import imread

from lossviz_core.errors import InputError
from lossviz_core.figures import make_figure, plot_result, read_png_specs
from lossviz_core.results.result import SurfaceResult, Trajectory

X = np.linspace(-2.0, 2.0, 9)
Y = np.linspace(-1.0, 1.0, 5)  # non-square: (ny, nx) = (5, 9)
SPECS = {"model": {"name": "digits_cnn", "checkpoint": "a.pt"}, "directions": {"method": "pca"}}


def bowl(with_trajectory=True) -> SurfaceResult:
    """f(x, y) = x^2 + 3 y^2 on a (5, 9) grid, one point missing."""
    r = SurfaceResult.empty(X, Y, ("train_loss", "train_acc"), specs=SPECS)
    xx, yy = np.meshgrid(X, Y)
    r.values["train_loss"][:] = xx**2 + 3 * yy**2
    r.values["train_acc"][:] = 1 - 0.1 * xx**2
    r.values["train_loss"][0, 0] = np.nan
    if with_trajectory:
        r.trajectory = Trajectory(
            epochs=np.arange(6), x=np.linspace(1.5, 0, 6), y=np.linspace(0.6, 0, 6),
            off_plane=np.zeros(6), loss=np.linspace(3, 0, 6), explained_variance=(0.8, 0.15),
        )
    return r


def interpolation() -> SurfaceResult:
    specs = {
        "model": {"name": "digits_cnn", "checkpoint": "small_batch.pt"},
        "directions": {"method": "target", "target_checkpoint": "large_batch.pt"},
    }
    x = np.linspace(-0.5, 1.5, 11)
    r = SurfaceResult.empty(x, None, ("train_loss", "train_acc", "test_loss", "test_acc"), specs)
    for q, v in (("train_loss", (x - 0.5) ** 2 + 0.1), ("test_loss", (x - 0.5) ** 2 + 0.2),
                 ("train_acc", 100 * (1 - 0.2 * x**2)), ("test_acc", 100 * (0.9 - 0.2 * x**2))):
        r.values[q][:] = v
    r.values["test_acc"][3] = np.nan
    return r


def check_file(path, fmt, size_px):
    data = path.read_bytes()
    if fmt == "png":
        img = imread(path)
        assert img.shape[:2] == (size_px[1], size_px[0])
        rgb = img[..., :3].reshape(-1, 3)
        assert rgb.std(axis=0).max() > 0.05  # not a blank page
        assert len(np.unique(rgb, axis=0)) > 20
    elif fmt == "svg":
        root = ET.fromstring(data)
        assert root.tag.endswith("svg")
        assert len(list(root.iter())) > 50
    else:
        assert data.startswith(b"%PDF")
        assert len(data) > 1000


@pytest.mark.parametrize("kind", ["contour", "filled", "surface", "line"])
@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_every_kind_and_format_reads_back(tmp_path, kind, fmt):
    r = interpolation() if kind == "line" else bowl()
    out = plot_result(r, tmp_path / f"fig.{fmt}", kind=kind, dpi=40, size=(5, 4), log=True)
    assert out == tmp_path / f"fig.{fmt}"
    check_file(out, fmt, (200, 160))


def test_png_carries_specs(tmp_path):
    out = plot_result(bowl(), tmp_path / "f.png", dpi=30)
    assert read_png_specs(out) == SPECS
    import json

    from PIL import Image  # pillow comes with matplotlib: an independent PNG reader

    assert json.loads(Image.open(out).text["lossviz-specs"]) == SPECS


def test_svg_and_pdf_carry_specs(tmp_path):
    svg = plot_result(bowl(), tmp_path / "f.svg")
    assert '"digits_cnn"' in svg.read_text().replace("&quot;", '"')
    pdf = plot_result(bowl(), tmp_path / "f.pdf")
    assert b"digits_cnn" in pdf.read_bytes()


def test_contour_orientation_non_square():
    """f depends on x only: every isoline must be vertical (constant x), |x| = level."""
    r = SurfaceResult.empty(X, Y, ("train_loss",))
    xx, _ = np.meshgrid(X, Y)
    r.values["train_loss"][:] = np.abs(xx)
    fig = make_figure(r, kind="contour", levels=5)
    cs = fig.axes[0].collections[0]
    checked = 0
    for level, path in zip(cs.levels, cs.get_paths(), strict=True):
        v = path.vertices
        if len(v) == 0:
            continue
        np.testing.assert_allclose(np.abs(v[:, 0]), level, atol=1e-9)
        assert np.ptp(v[:, 1]) == pytest.approx(2.0)  # spans the whole y range
        checked += 1
    assert checked >= 3
    assert fig.axes[0].get_xlabel() == "α" and fig.axes[0].get_ylabel() == "β"


def test_pca_axis_labels_and_trajectory_overlay():
    fig = make_figure(bowl(), kind="contour")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "PC1: 80.0 %"
    red = [ln for ln in ax.get_lines() if ln.get_color() == "r"]
    assert len(red) == 1
    np.testing.assert_allclose(red[0].get_xdata(), np.linspace(1.5, 0, 6))
    labels = {t.get_text() for t in ax.texts}
    assert {"0", "5"} <= labels
    assert not make_figure(bowl(), kind="contour", trajectory=False).axes[0].get_lines()


def test_line_interpolation_axes():
    fig = make_figure(interpolation())
    ax, ax2 = fig.axes
    styles = {ln.get_label(): ln.get_linestyle() for ln in ax.get_lines() + ax2.get_lines()}
    assert styles["train loss"] == "-" and styles["test loss"] == ":"
    assert styles["train accuracy"] == "-" and styles["test accuracy"] == ":"
    assert {ln.get_label() for ln in ax2.get_lines()} == {"train accuracy", "test accuracy"}
    assert {"A: small_batch", "B: large_batch"} <= {t.get_text() for t in ax.texts}
    assert make_figure(interpolation(), log=True).axes[0].get_yscale() == "log"


def test_vmin_vmax_set_levels():
    fig = make_figure(bowl(), kind="filled", levels=11, vmin=0.0, vmax=5.0)
    np.testing.assert_allclose(fig.axes[0].collections[0].levels, np.linspace(0, 5, 11))


def test_all_missing_grid_still_draws(tmp_path):
    r = SurfaceResult.empty(X, Y, ("train_loss",))
    check_file(plot_result(r, tmp_path / "empty.png", dpi=30, size=(4, 3)), "png", (120, 90))


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("f.jpg", {}),
        ("f", {}),
        ("f.png", {"kind": "bogus"}),
        ("f.png", {"kind": "line"}),
        ("f.png", {"quantity": "test_loss"}),
        ("f.png", {"levels": 1}),
    ],
)
def test_bad_requests_raise_input_error(tmp_path, name, kwargs):
    with pytest.raises(InputError):
        plot_result(bowl(), tmp_path / name, **kwargs)
    assert not (tmp_path / name).exists()


def test_surface_kind_on_a_line_raises():
    with pytest.raises(InputError):
        make_figure(interpolation(), kind="surface")


def test_no_global_backend_or_pyplot(tmp_path):
    """Figures must not select a backend or import pyplot: a Qt app keeps its own."""
    import subprocess
    import sys

    code = (
        "import sys, matplotlib, numpy as np\n"
        "matplotlib.rcParams['backend'] = 'svg'\n"
        "from lossviz_core.figures import plot_result\n"
        "from lossviz_core.results.result import SurfaceResult\n"
        "r = SurfaceResult.empty(np.linspace(0, 1, 3), None, ('train_loss',))\n"
        "r.values['train_loss'][:] = [1, 2, 3]\n"
        f"plot_result(r, {str(tmp_path / 'l.png')!r})\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["svg", "False"]
    assert (tmp_path / "l.png").stat().st_size > 1000


def test_a_surface_leaves_a_diverged_point_a_hole_not_a_spike():
    """An inf loss (diverged) draws exactly as a point without a value: no spike to the top
    of the box, and the height scale stays that of the finite values."""

    def pixels(value):
        r = bowl(with_trajectory=False)
        r.done[:] = True
        r.values["train_loss"][0, 0] = 1.0
        r.values["train_loss"][2, 3] = value
        fig = make_figure(r, kind="surface", size=(4, 3))
        fig.canvas.draw()
        return fig, np.asarray(fig.canvas.buffer_rgba())

    fig, spiky = pixels(np.inf)
    _, hole = pixels(np.nan)
    np.testing.assert_array_equal(spiky, hole)
    assert fig.axes[0].get_zlim()[1] == pytest.approx(7.0)  # max of x² + 3y² on the grid
