"""scripts/screenshots.py: the window at 1024×700, each tab drawn (not one flat colour), the
pictures the size of the window."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtGui import QImage

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"


def _script():
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_screenshots_of_every_tab_at_1024x700(qtbot, settings_dir, tmp_path):
    shots = _script()
    paths = shots.take(tmp_path, 1024, 700)
    assert [p.name for p in paths] == [f"1024x700-{t}.png" for t in shots.TABS]
    for path in paths:
        image = QImage(str(path))
        assert 1000 <= image.width() <= 1100 and 680 <= image.height() <= 760, path
        assert not shots.blank(path), path
    # the surface tab: the 3-D and 2-D views drew colours of the colour map, not just grey UI
    image = QImage(str(paths[0]))
    colourful = sum(
        1 for x in range(450, image.width(), 16) for y in range(60, image.height() - 60, 16)
        if (lambda c: max(c.red(), c.green(), c.blue()) - min(c.red(), c.green(), c.blue())
            > 60)(image.pixelColor(x, y)))
    assert colourful > 100
