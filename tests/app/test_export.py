"""Exports write exactly what was asked: size, format, and the specs read back."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from lossviz.export import (
    SPECS_KEY,
    copy_image_to_clipboard,
    export_image,
    export_publication_figure,
    read_png_specs,
)
from lossviz.views import DisplaySettings
from lossviz.views.contour2d import ContourView2D
from lossviz.views.line1d import LineView1D
from lossviz.views.surface3d import SurfaceView3D
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QLabel, QTabWidget

from lossviz_core.errors import InputError, StoreError

SPECS = {
    "model": {"name": "digits_cnn", "checkpoint": "a.pt"},
    "surface": {"x": "-1:1:7", "y": "-0.5:1:5"},
}


def _view(qtbot, cls, result, w=400, h=300):
    view = cls(DisplaySettings())
    qtbot.addWidget(view)
    view.resize(w, h)
    view.show()
    qtbot.waitExposed(view)
    view.set_result(result)
    return view


@pytest.mark.parametrize("cls", [ContourView2D, SurfaceView3D])
def test_png_has_the_requested_size_and_the_specs(qtbot, tmp_path, closed_form_surface, cls):
    view = _view(qtbot, cls, closed_form_surface)
    path = export_image(view, tmp_path / "map.png", 1600, 1200, specs=SPECS)
    img = QImage(str(path))
    assert (img.width(), img.height()) == (1600, 1200)  # larger than the 400×300 window
    assert read_png_specs(path) == SPECS
    assert img.text(SPECS_KEY).startswith("{")


def test_3d_view_in_a_hidden_tab_exports(qtbot, tmp_path, closed_form_surface):
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    view = SurfaceView3D(DisplaySettings())
    tabs.addTab(QLabel("front"), "front")
    tabs.addTab(view, "3-D")
    tabs.show()
    qtbot.waitExposed(tabs)
    view.set_result(closed_form_surface)
    img = QImage(str(export_image(view, tmp_path / "hidden.png", 300, 200)))
    assert (img.width(), img.height()) == (300, 200)
    colours = {img.pixel(x, y) for x in range(0, 300, 7) for y in range(0, 200, 7)}
    assert len(colours) > 20  # a drawn surface, not a blank frame


def test_transparent_png_keeps_alpha(qtbot, tmp_path, closed_form_surface):
    view = _view(qtbot, ContourView2D, closed_form_surface)
    path = export_image(view, tmp_path / "t.png", 500, 400, transparent=True)
    img = QImage(str(path))
    assert img.hasAlphaChannel() and img.pixelColor(0, 0).alpha() == 0
    assert read_png_specs(path) is None


def test_svg_and_pdf_of_the_2d_and_1d_views(qtbot, tmp_path, closed_form_surface, line_result):
    for cls, result in ((ContourView2D, closed_form_surface), (LineView1D, line_result)):
        view = _view(qtbot, cls, result)
        svg = export_image(view, tmp_path / f"{cls.__name__}.svg", 0, 0)
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")
        paths = [e for e in root.iter() if e.tag.endswith(("path", "polyline"))]
        assert len(paths) > 10
        pdf = export_image(view, tmp_path / f"{cls.__name__}.pdf", 0, 0)
        head = pdf.read_bytes()
        assert head.startswith(b"%PDF") and len(head) > 2000


def test_export_refuses_what_it_cannot_write(qtbot, tmp_path, closed_form_surface):
    view3d = _view(qtbot, SurfaceView3D, closed_form_surface)
    with pytest.raises(InputError, match="PNG"):
        export_image(view3d, tmp_path / "s.svg", 800, 600)
    with pytest.raises(InputError, match=r"\.png, \.svg or \.pdf"):
        export_image(view3d, tmp_path / "s.bmpx", 800, 600)
    with pytest.raises(InputError, match="between 1 and 16384"):
        export_image(view3d, tmp_path / "s.png", 0, 600)
    with pytest.raises(StoreError, match="does not exist"):
        export_image(view3d, tmp_path / "missing" / "s.png", 800, 600)


def test_clipboard_gets_the_image(qtbot, closed_form_surface):
    view = _view(qtbot, ContourView2D, closed_form_surface)
    copy_image_to_clipboard(view, 640, 480)
    img = QGuiApplication.clipboard().image()
    assert (img.width(), img.height()) == (640, 480)


def test_publication_figure_goes_through_figures(tmp_path, closed_form_surface):
    pytest.importorskip("lossviz_core.figures")
    path = export_publication_figure(closed_form_surface, tmp_path / "fig.png", "contour")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
