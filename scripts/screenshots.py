"""Screenshots of the window as a user sees it, for looking at (and for the docs).

    xvfb-run -a -s "-screen 0 1600x1000x24 +extension GLX" \\
        python scripts/screenshots.py --out shots/ --size 1024x700 --size 1600x1000

For each size: a fresh window on a screen-sized canvas, the demo surface computed (a small
grid), then one PNG per tab (surface, 1-D, Compare with two results, Curvature) and one of
the Study dock. The screen is captured with ImageMagick's ``import`` (as a user sees it; Qt's own
grab where it is missing), so no window manager is needed. Exit status 1 when a picture is blank (one colour), which is how a broken GL context
looks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

TABS = ("surface", "line", "compare", "curvature", "study")


def _wait(app, until, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until():
            return True
        time.sleep(0.02)
    return False


def take(out: Path, width: int, height: int) -> list[Path]:
    """The PNGs of one window size (its results in ``out/library``, not the user's)."""
    import lossviz.views  # noqa: F401  (before the QApplication: shared GL contexts)
    from lossviz.main_window import MainWindow, preload_engine
    from PySide6.QtWidgets import QApplication

    preload_engine()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    w = MainWindow(autostart=False, restore=False, library_folder=str(out / "library"))
    w.resize(width, height)
    w.move(0, 0)
    w.show()
    w.state.update(source="demo", method="random", xmin=-1.0, xmax=1.0, xnum=21,
                   ymin=-1.0, ymax=1.0, ynum=21)
    w.compute()
    _wait(app, lambda: not w.computing, 120)
    surface = w.result
    out.mkdir(parents=True, exist_ok=True)
    shots = []

    def grab(name: str) -> None:
        _wait(app, lambda: False, 0.6)  # let the views draw
        path = out / f"{width}x{height}-{name}.png"
        g = w.frameGeometry()
        if shutil.which("import") and os.environ.get("DISPLAY"):  # the screen, as seen
            subprocess.run(["import", "-window", "root", "-crop",
                            f"{g.width()}x{g.height()}+{g.x()}+{g.y()}", str(path)],
                           check=True, timeout=60)
        else:  # Qt's own picture of the window (the 3-D labels may be missing from it)
            w.grab().save(str(path))
        shots.append(path)

    w.tabs.setCurrentWidget(w.surface_split)
    grab("surface")
    w.state.update(method="target", source="demo")
    w.compute()
    _wait(app, lambda: not w.computing, 120)
    grab("line")
    if surface is not None:
        w.compare.set_results([surface, surface], ["the demo", "the demo again"])
    w.tabs.setCurrentWidget(w.compare)
    grab("compare")
    w.tabs.setCurrentWidget(w.curvature_tab)
    grab("curvature")
    w.open_study("digits-depth", profile="quick", out=str(out / "study"))
    _wait(app, lambda: not w.study_panel.running, 60)
    grab("study")
    w.close()
    return shots


def blank(path: Path) -> bool:
    """One colour only: nothing was drawn."""
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    step = max(1, image.width() // 64)
    colours = {image.pixel(x, y) for x in range(0, image.width(), step)
               for y in range(0, image.height(), step)}
    return len(colours) <= 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("shots"))
    parser.add_argument("--size", action="append", default=None, metavar="WxH")
    a = parser.parse_args(argv)
    status = 0
    for size in a.size or ["1024x700", "1600x1000"]:
        try:
            width, height = (int(v) for v in size.lower().split("x"))
        except ValueError:
            print(f"screenshots: error: --size {size!r} is not WIDTHxHEIGHT", file=sys.stderr)
            return 2
        for path in take(a.out, width, height):
            bad = blank(path)
            status |= bad
            print(f"{path}{'  BLANK' if bad else ''}")
    return status


if __name__ == "__main__":
    sys.exit(main())
