"""A 1024×700 laptop: the window, its docks, the views' colour bars and the status bar fit."""

from __future__ import annotations

from conftest import COMPUTE_MS  # the app's conftest: imported at collection, as it is found
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication, QComboBox, QWidget

SMALL = (1024, 700)


def _inside(widget: QWidget, window: QWidget) -> bool:
    top_left = widget.mapTo(window, QPoint(0, 0))
    return window.rect().contains(QRect(top_left, widget.size()))


def _settle() -> None:
    for _ in range(5):
        QApplication.processEvents()


def _plot_fits(view) -> bool:
    """The plot (axes, colour bar, banner) is drawn inside its widget, none of it cut off."""
    return view.plot.geometry().width() <= view.plot_widget.width() + 1


def test_the_window_fits_a_1024x700_screen(qtbot, make_window, make_surface, line_result):
    w = make_window(autostart=False)
    hint = w.minimumSizeHint()
    assert hint.width() <= SMALL[0] and hint.height() <= SMALL[1]
    w.resize(*SMALL)
    w._fit_to_screen(*SMALL)  # what a small screen gets at start-up
    partial = make_surface(done_fraction=0.4)  # a banner over the 2-D view
    w.set_result(partial)
    w._repaint(every=True)
    _settle()
    assert w.size().width() == SMALL[0] and w.size().height() == SMALL[1]
    for widget in (w.view3d, w.view2d, w.progress, w.progress_label, w.counts_label,
                   w.compute_panel.compute, w.compute_panel.cancel):
        assert widget.isVisible() and _inside(widget, w), widget
    assert w.view2d.width() > 250 and w.view3d.width() > 250
    assert w.view2d.plot.titleLabel.isVisible()  # "… interpolated (pale)"
    assert _plot_fits(w.view2d)
    # the settings need no sideways scrolling and keep every combo box whole
    scroll = w.settings_scroll
    assert scroll.widget().width() <= scroll.viewport().width()
    for combo in scroll.widget().findChildren(QComboBox):
        assert _inside(combo, w) or not combo.isVisible() or combo.mapTo(
            scroll.widget(), QPoint(0, 0)).y() > scroll.viewport().height(), combo
        assert combo.view().minimumWidth() >= combo.view().sizeHintForColumn(0)
    # the banner goes and the colour bar stays in view
    w.set_result(make_surface())
    w._repaint(every=True)
    _settle()
    assert not w.view2d.plot.titleLabel.isVisible() and _plot_fits(w.view2d)
    w.set_result(line_result)
    w._repaint(every=True)
    _settle()
    assert _inside(w.view1d, w) and _plot_fits(w.view1d)
    # Compare: a 2 x 2 grid, every pane and its title in the window
    w.compare.set_results([make_surface() for _ in range(4)], list("abcd"), cols=2)
    w.tabs.setCurrentWidget(w.compare)
    _settle()
    assert len(w.compare.panes) == 4
    for widget in (*w.compare.panes, *w.compare.labels, w.compare.mode_box):
        assert widget.isVisible() and _inside(widget, w), widget
        assert widget.width() > 40 and widget.height() > 10, widget
    # Curvature: its controls, numbers and plots in the window
    tab = w.curvature_tab
    w.tabs.setCurrentWidget(tab)
    _settle()
    for widget in (tab.top_k, tab.alpha, tab.beta, tab.numbers, tab.density_plot,
                   tab.compute_button, tab.save_button):
        assert widget.isVisible() and _inside(widget, w), widget
    # the Study dock's list and buttons
    w.study_dock.raise_()
    _settle()
    panel = w.study_panel
    for widget in (panel.run_button, panel.stop_button, panel.tree, panel.figure):
        assert widget.isVisible() and _inside(widget, w), widget


def test_a_long_banner_does_not_push_the_colour_bar_out(qtbot, make_surface):
    from lossviz.views import DisplaySettings
    from lossviz.views.contour2d import ContourView2D

    view = ContourView2D(DisplaySettings())
    qtbot.addWidget(view)
    view.resize(260, 300)
    view.show()
    qtbot.waitExposed(view)
    view.set_result(make_surface(done_fraction=0.3))
    view.refresh()
    _settle()
    assert view.plot.titleLabel.isVisible()
    assert _plot_fits(view)
    view.resize(220, 300)
    _settle()
    assert _plot_fits(view)


def test_the_1d_view_keeps_its_accuracy_axis_after_a_compute_at_1024x700(qtbot, make_window,
                                                                         errors):
    """Computing the demo's interpolation in the window: while points arrive the banner and
    the legend (non-finite stretches) change, and the plot must end as wide as its widget,
    its right (accuracy) axis in view."""
    w = make_window(autostart=False)
    w.resize(*SMALL)
    w._fit_to_screen(*SMALL)
    w.state.update(source="demo", method="target")
    w.compute()
    qtbot.waitUntil(lambda: not w.computing and w.result is not None
                    and w.result.y is None, timeout=COMPUTE_MS)
    w.tabs.setCurrentWidget(w.view1d)
    _settle()
    assert errors == []
    right = w.view1d.plot.getAxis("right")
    assert right.isVisible() and _plot_fits(w.view1d)
    assert right.geometry().right() <= w.view1d.plot_widget.width() + 1
