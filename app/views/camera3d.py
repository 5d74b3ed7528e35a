"""The 3-D view's camera: fitted to the drawing, refitted for a new landscape, reset on Home.

The fit keeps matplotlib's default angles (azimuth −60°, elevation from the box's height)
and finds the distance at which the box, the trajectory and every label fill the picture;
it is computed for any picture size, so an export of another shape is fitted too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRectF
from PySide6.QtGui import QMatrix4x4, QVector3D

from lossviz_core.results.result import SurfaceResult

from .gl3d import LinkableGLView, Overlay3D

AZIMUTH, FOV = -60.0, 45.0  # matplotlib's default view direction; pyqtgraph's fov is horizontal
FIT_MARGIN = 8  # px kept free around the fitted drawing
REFERENCE_TOP = 1.1  # the box height seen at 30°


def landscape_key(result: SurfaceResult) -> str:
    """What makes two results the same landscape for the camera: grid and recipe (not how
    it was computed); results without a recipe compare by their specs."""
    recipe = result.recipe
    what = {k: v for k, v in recipe.to_dict().items() if k != "compute"} if recipe else result.specs
    grid = [np.asarray(result.x).tolist(), np.asarray(result.y).tolist()]
    return json.dumps([grid, what], sort_keys=True, default=str)


def fitted_elevation(top: float) -> float:
    """30° for the default box; flatter boxes are seen from higher up, taller from lower."""
    return float(np.clip(30.0 - 8.0 * math.log2(max(top, 1e-3) / REFERENCE_TOP), 15.0, 55.0))


def fit_camera(
    view: LinkableGLView,
    extent: Callable[[QMatrix4x4], QRectF],
    width: int,
    height: int,
    margin: float,
    center: QVector3D,
    radius: float,
    top: float = 0.0,
) -> tuple[QVector3D, float]:
    """(centre, distance) at which ``extent(mvp)`` (the drawing's pixel rectangle) fills
    the width×height image less ``margin`` (and ``top`` more pixels kept free at the top),
    keeping the view's angles and field of view.

    The distance is the smallest that fits (bisection: the drawing shrinks as the camera
    backs away); the centre is then shifted so the drawing sits in the middle.
    """
    saved = view.opts["center"], view.opts["distance"]
    target = QRectF(margin, margin + top, width - 2 * margin, height - 2 * margin - top)
    lo_limit = 1.05 * radius  # outside the bounding sphere: every point is in front

    def rect_at(c: QVector3D, d: float) -> QRectF:
        view.opts["center"], view.opts["distance"] = c, d
        return extent(view.mvp_for(width, height))

    def smallest(c: QVector3D) -> float:
        lo, hi = lo_limit, 2 * lo_limit
        while not target.contains(rect_at(c, hi)):
            lo, hi = hi, 2 * hi
            if hi > 64 * lo_limit:  # a viewport too small for the labels: as far as sensible
                return hi
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if target.contains(rect_at(c, mid)):
                hi = mid
            else:
                lo = mid
            if hi - lo < 2e-3 * hi:  # a fifth of a percent: a pixel or two
                break
        return hi

    try:
        c = QVector3D(center)
        d = smallest(c)
        for _ in range(2):  # recentre on the drawing (labels stick out on one side), refit
            r = rect_at(c, d)
            m = view.viewMatrix()  # rows 0 and 1: the camera's right and up axes in world space
            right = QVector3D(m.row(0).x(), m.row(0).y(), m.row(0).z())
            up = QVector3D(m.row(1).x(), m.row(1).y(), m.row(1).z())
            world_per_px = 2 * d * np.tan(np.radians(view.opts["fov"]) / 2) / width
            dx = (r.center().x() - target.center().x()) * world_per_px
            dy = (r.center().y() - target.center().y()) * world_per_px
            c = c + right * float(dx) - up * float(dy)
            d = smallest(c)
        return c, d
    finally:
        view.opts["center"], view.opts["distance"] = saved


class FittedCamera(QObject):
    """Owns the camera of one GL view: fitted while the user has not moved it (a resize
    or a taller box refits), refitted for another landscape, kept for a refresh.

    ``box()`` gives (hx, hy, top) of the drawn box in box units.
    """

    def __init__(
        self, gl: LinkableGLView, overlay: Overlay3D, box: Callable[[], tuple[float, ...]]
    ) -> None:
        super().__init__(gl)
        self.gl, self.overlay, self.box = gl, overlay, box
        self.key: str | None = None
        self.fitted = False  # the camera is the fitted one (the user has not moved it)
        self.placed = False  # fitted at least once
        gl.userMoved.connect(self._on_user_moved)
        gl.installEventFilter(self)

    def follow(self, result: SurfaceResult) -> None:
        """A result is shown: refit if it is another landscape (grid or recipe)."""
        key = landscape_key(result)
        if key != self.key or not self.placed:
            self.key = key
            self.reset()

    def params(
        self, width: int | None = None, height: int | None = None, scale: float = 1.0
    ) -> dict:
        """The fitted camera for a width×height picture (default: the GL area)."""
        w = width or max(self.gl.width(), 1)
        h = height or max(self.gl.height(), 1)
        hx, hy, top = self.box()
        elev = fitted_elevation(top)
        saved = self.gl.copy_camera()
        self.gl.opts.update(elevation=elev, azimuth=AZIMUTH, fov=FOV)
        radius = float(np.sqrt(hx**2 + hy**2 + top**2)) + 0.5  # box plus its labels
        try:
            center, distance = fit_camera(
                self.gl,
                lambda mvp: self.overlay.extent(w, h, mvp, scale),
                w,
                h,
                FIT_MARGIN * scale,
                QVector3D(0, 0, 0.45 * top),
                radius,
                top=self.overlay.banner_height(scale),  # room for 'Partial: …' while computing
            )
        finally:
            self.gl.opts.update(saved)
        return dict(center=center, distance=distance, fov=FOV, elevation=elev, azimuth=AZIMUTH)

    def reset(self) -> None:
        """Back to the fitted camera."""
        if self.overlay.axes is None:
            params = dict(
                center=QVector3D(0, 0, 0.5), distance=6.0, fov=FOV, elevation=30, azimuth=AZIMUTH
            )
        else:
            params = self.params()
        self.gl.setCameraParams(**params)
        self.placed = True
        self.fitted = True

    def refit(self) -> None:
        """The box changed shape (z-scale): fit again unless the user moved the camera."""
        if self.fitted:
            self.reset()

    def frame_export(self, w: int, h: int, scale: float) -> None:
        """Set the camera (opts only, no signals) for a w×h export: the fit for that shape,
        or, after the user moved the camera, as on screen widened to the export's aspect
        (everything visible on screen stays in the picture)."""
        if self.overlay.axes is None:
            return
        if self.fitted:
            self.gl.opts.update(self.params(w, h, scale))
            return
        screen = max(self.gl.width(), 1) / max(self.gl.height(), 1)
        k = max(1.0, (w / h) / screen)
        half = math.atan(k * math.tan(math.radians(self.gl.opts["fov"]) / 2))
        self.gl.opts["fov"] = math.degrees(2 * half)

    def _on_user_moved(self) -> None:
        self.fitted = False

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt naming)
        if obj is self.gl and event.type() == QEvent.Type.Resize and self.fitted:
            self.reset()  # still the fitted camera: fit the new shape
        return super().eventFilter(obj, event)
