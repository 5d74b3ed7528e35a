"""Exports draw what the screen shows, read back from the files: the 2-D map's colour scale
(the SVG's colour-bar tick labels, the SVG/PDF metadata), the 1-D view's whole α range
with its non-finite stretch and checkpoint markers inside the axes; the export dialogs
remember their choices; the views, the status and exports say why points are not finite."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from lossviz import export_dialogs as dialogs
from lossviz.export import export_image, screen_options
from lossviz.views import DisplaySettings
from lossviz.views.contour2d import ContourView2D
from lossviz.views.line1d import LineView1D
from PIL import Image

from lossviz_core.export import build_figure
from lossviz_core.recipe.spec import DirectionSpec, GridSpec, ModelSpec, Range, Recipe
from lossviz_core.results.nonfinite import bn_record
from lossviz_core.results.result import SurfaceResult
from lossviz_core.studies.figures import read_figure_specs

RSVG = shutil.which("rsvg-convert")
X = np.linspace(-1.0, 1.0, 21)
Y = np.linspace(-0.5, 1.0, 16)


def trained_like() -> SurfaceResult:
    """A loss over three decades (0.003 at the minimum, ~10 at the corners), as a trained
    network's: the screen draws it in linear colours, with log-spaced isolines."""
    r = SurfaceResult.empty(X, Y, ("train_loss",), specs={"directions": {"method": "random"}})
    xx, yy = np.meshgrid(X, Y)
    r.apply_chunk(np.arange(xx.size), {"train_loss": (0.003 + 4 * xx**2 + 5 * yy**2).ravel()})
    return r


def interpolation_with_bn(n: int = 41) -> SurfaceResult:
    """-0.5:1.5 between a.pt and b.pt; bn1's variance 0.35 − 0.25·α is negative beyond 1.4."""
    x = np.linspace(-0.5, 1.5, n)
    recipe = Recipe(model=ModelSpec("digits_cnn", "/runs/small/a.pt"),
                    directions=DirectionSpec(method="target", dir_type="states",
                                             params={"checkpoint": "/runs/large/b.pt"}),
                    grid=GridSpec(Range(-0.5, 1.5, n), None))
    record = bn_record([("bn1", np.array([0.35, 1.0]), np.array([-0.25, 0.1]), np.zeros(2))])
    r = SurfaceResult.empty(x, None, ("train_loss", "train_acc", "test_loss", "test_acc"),
                            specs={"recipe": recipe.to_dict(),
                                   "evaluator": {"non_finite": record}})
    loss = (x - 0.5) ** 2 + 0.05
    acc = 100 - 10 * loss
    bad = x > 1.42
    loss, acc = np.where(bad, np.nan, loss), np.where(bad, np.nan, acc)
    r.apply_chunk(np.arange(n), {"train_loss": loss, "test_loss": loss + 0.1,
                                 "train_acc": acc, "test_acc": acc - 5})
    return r


def show(qtbot, cls, result, settings=None):
    view = cls(settings or DisplaySettings())
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show()
    qtbot.waitExposed(view)
    view.set_result(result)
    return view


def svg_texts(path, group_id: str) -> list[str]:
    """The texts matplotlib wrote (as comments) inside the SVG group ``group_id``."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.parse(path, parser=parser).getroot()
    group = next(e for e in root.iter() if e.get("id") == group_id)
    return [html.unescape(e.text.strip()) for e in group.iter() if e.tag is ET.Comment]


def number(text: str) -> float:
    return float(text.replace("−", "-"))


def test_the_2d_export_uses_the_screens_linear_scale_colour_map_and_isolines(qtbot, tmp_path):
    view = show(qtbot, ContourView2D, trained_like())
    lo, hi = view.colorbar.levels()
    svg = export_image(view, tmp_path / "map.svg", 900, 600)
    pdf = export_image(view, tmp_path / "map.pdf", 900, 600)
    ticks = [number(t) for t in svg_texts(svg, "lossviz-colorbar")[:-1]]  # last: the label
    assert svg_texts(svg, "lossviz-colorbar")[-1] == "train loss"
    assert len(ticks) >= 4 and lo <= min(ticks) and max(ticks) <= hi
    np.testing.assert_allclose(np.diff(ticks), ticks[1] - ticks[0])  # linear, not 10⁻²…10¹
    for path in (svg, pdf):
        scale = read_figure_specs(path)["colour_scale"]
        assert (scale["vmin"], scale["vmax"]) == pytest.approx((lo, hi))
        assert scale["norm"] == "linear" and scale["colormap"] == "viridis"
        np.testing.assert_allclose(scale["isolines"], view.levels_shown, rtol=1e-9)
    import pypdf  # an independent reader of the PDF's subject

    subject = json.loads(pypdf.PdfReader(str(pdf)).metadata["/Subject"])
    assert subject["colour_scale"]["vmax"] == pytest.approx(hi)


def test_the_2d_export_follows_log_clip_and_a_pyqtgraph_colour_map(qtbot, tmp_path):
    settings = DisplaySettings()
    view = show(qtbot, ContourView2D, trained_like(), settings)
    settings.update(log_scale=True, colormap="CET-L4")
    lo, hi = view.colorbar.levels()  # log10 units on screen
    scale = read_figure_specs(export_image(view, tmp_path / "log.svg", 800, 600))[
        "colour_scale"]
    assert scale["log"] and (scale["vmin"], scale["vmax"]) == pytest.approx((lo, hi))
    assert scale["label"].startswith("log10") and scale["colormap"] == "CET-L4"
    settings.update(log_scale=False, clip_max=5.0)
    assert view.colorbar.levels()[1] == 5.0
    scale = read_figure_specs(export_image(view, tmp_path / "clip.pdf", 800, 600))[
        "colour_scale"]
    assert scale["vmax"] == pytest.approx(5.0) and scale["norm"] == "linear"


def test_a_1d_export_keeps_the_whole_range_and_its_marks_inside_the_axes(qtbot, tmp_path):
    r = interpolation_with_bn()
    view = show(qtbot, LineView1D, r)
    svg = export_image(view, tmp_path / "line.svg", 900, 600)
    alphas = [number(t) for t in svg_texts(svg, "matplotlib.axis_1")[:-1]]  # the α ticks
    assert min(alphas) <= -0.5 and max(alphas) >= 1.5  # not cut where the loss stops
    texts = svg_texts(svg, "figure_1")
    assert "A: a" in texts and "B: b" in texts  # the checkpoints at α = 0 and 1
    assert "2 non-finite: BatchNorm running variance < 0 (bn1 at α ≥ 1.45)" in texts
    # the figure as exported: its marks inside the axes, the legend below them
    fig = build_figure(r, screen_options(view, 900, 600))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    box = ax.get_window_extent(renderer)
    assert ax.get_xlim()[0] < -0.5 and ax.get_xlim()[1] > 1.5
    shaded = [p for p in ax.patches if p.get_alpha()]
    assert len(shaded) == 1
    span = shaded[0].get_window_extent(renderer)
    assert box.x0 - 1 <= span.x0 and span.x1 <= box.x1 + 1 and span.x0 > box.x0 + 0.8 * box.width
    for note in ax.texts:
        extent = note.get_window_extent(renderer)
        assert box.x0 <= extent.x0 and extent.x1 <= box.x1 and box.y0 <= extent.y0
    legend = fig.legends[0].get_window_extent(renderer)
    assert legend.y1 <= min(a.get_window_extent(renderer).y0 for a in fig.axes) + 1
    if RSVG:  # rendered by librsvg: the shaded stretch is the views' grey, at the right end
        png = tmp_path / "line.png"
        subprocess.run([RSVG, "-o", str(png), str(svg)], check=True, timeout=60)
        img = np.asarray(Image.open(png).convert("RGB"), dtype=int)
        h = img.shape[0]
        row = img[int(h - (box.y0 + box.y1) / 2)]  # across the middle of the axes
        grey = (np.ptp(row, axis=1) < 4) & (row[:, 0] > 200) & (row[:, 0] < 245)
        cols = np.nonzero(grey)[0]
        runs = np.split(cols, np.nonzero(np.diff(cols) > 1)[0] + 1)  # stretches of grey
        shade = max(runs, key=len)  # not a glyph's or a label box's few grey pixels
        assert len(shade) > 10 and shade.min() > box.x0 + 0.8 * box.width
        assert shade.max() < box.x1 + 1


def test_views_and_status_say_why_points_are_not_finite(qtbot, make_window):
    w = make_window(autostart=False)
    r = interpolation_with_bn()
    w.set_result(r)
    why = "2 non-finite: BatchNorm running variance < 0 (bn1 at α ≥ 1.45)"
    qtbot.waitUntil(lambda: why in w.counts_label.text())
    assert "diverged" not in w.counts_label.text()
    assert w.view1d.plot.titleLabel.toolTip() == why
    assert "— (BatchNorm running variance < 0 in bn1)" in w.view1d.describe_point(1.5)
    labels = [label.text for _, label in w.view1d.legend.items]
    assert "non-finite: BatchNorm running variance &lt; 0" in labels  # shown as '< 0'


def test_the_export_dialogs_remember_their_choices(qtbot, settings_dir):
    dlg = dialogs.ExportDialog(None, ["2-D contour", "1-D line"], "2-D contour", (800, 600))
    qtbot.addWidget(dlg)
    dlg.width_px.setValue(1234)
    dlg.transparent.setChecked(True)
    dlg.accept()
    again = dialogs.ExportDialog(None, ["2-D contour"], "2-D contour", (800, 600))
    qtbot.addWidget(again)
    assert again.width_px.value() == 1234 and again.height_px.value() == 600
    assert again.transparent.isChecked()

    from lossviz_core.export import FigureOptions

    screen = FigureOptions(kind="heatmap", vmin=0.1, vmax=9.0, colormap="magma", levels=12,
                           isolines=True, aspect="auto")
    fig = dialogs.FigureDialog(None, ("train_loss", "test_loss"), screen=screen)
    qtbot.addWidget(fig)
    o = fig.options()  # untouched: what the screen shows, at the dialog's size
    assert (o.kind, o.vmin, o.vmax, o.colormap, o.levels, o.isolines, o.aspect) == (
        "heatmap", 0.1, 9.0, "magma", 12, True, "auto")
    fig.levels.setValue(20)  # 20 isolines over the heatmap, as the window draws 20
    assert fig.options().levels == 22
    fig.levels.setValue(1)
    fig.dpi.setValue(600)
    fig.width_in.setValue(3.5)
    fig.kind.setCurrentIndex(fig.kind.findData("filled"))
    fig.quantity.setCurrentIndex(fig.quantity.findData("test_loss"))
    fig.accept()
    kept = dialogs.FigureDialog(None, ("train_loss", "test_loss"), screen=screen)
    qtbot.addWidget(kept)
    o = kept.options()
    assert (o.dpi, o.width, o.kind, o.quantity) == (600, 3.5, "filled", "test_loss")
    assert (o.vmin, o.vmax) == (None, None)  # the screen's range was of another quantity
    assert o.colormap == "magma" and not o.isolines


@pytest.mark.parametrize("text", ["abc", "1e"])
def test_a_bad_limit_in_the_figure_dialog_is_one_line(qtbot, settings_dir, text):
    from lossviz_core.errors import InputError

    fig = dialogs.FigureDialog(None, ("train_loss",))
    qtbot.addWidget(fig)
    fig.vmax.setText(text)
    with pytest.raises(InputError, match=re.escape(repr(text))):
        fig.options()
