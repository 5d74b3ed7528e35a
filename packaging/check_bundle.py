"""Start a built LossViz bundle on the current X display and check its window (check_bundle.sh).

Checks, in order (each failure exits 1 with one line saying what failed):
1. a viewable top-level window titled "LossViz…" at least 400×300 appears within --timeout s;
2. the window carries an application icon (_NET_WM_ICON holds the 16 px and a ≥ 64 px icon);
3. the demo surface gets drawn: polled screenshots of the window until ≥ 3 % of its pixels are
   strongly coloured (colormapped landscape; the UI chrome is grey) over ≥ 12 distinct hues,
   within the same timeout; the last screenshot is saved to --shot;
4. closing the window the way a window manager does (WM_DELETE_WINDOW) ends the process
   within 60 s with exit code 0 and no Python traceback on stderr.

Only libX11 (through ctypes) and numpy are needed, no xdotool/wmctrl/imagemagick.
"""

from __future__ import annotations

import argparse
import os
import shlex
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from x11 import IS_VIEWABLE, X11  # packaging/x11.py, beside this script


def icon_sizes(x: X11, window: int) -> list[tuple[int, int]]:
    """(w, h) of every image in _NET_WM_ICON: a flat list of width, height, w*h pixels, …"""
    fmt, data = x.property(window, "_NET_WM_ICON")
    sizes, i = [], 0
    while fmt == 32 and i + 2 <= len(data):
        w, h = data[i], data[i + 1]
        sizes.append((w, h))
        i += 2 + w * h
    return sizes


def colourful(rgb: np.ndarray) -> tuple[float, int]:
    """(fraction of strongly coloured pixels, number of distinct 10° hue bins among them)."""
    f = rgb.astype(np.float32) / 255.0
    mx, mn = f.max(axis=2), f.min(axis=2)
    chroma = mx - mn
    strong = (chroma > 0.25) & (mx > 0.15)
    if not strong.any():
        return 0.0, 0
    r, g, b = (f[..., k][strong] for k in range(3))
    hue = np.degrees(np.arctan2(np.sqrt(3.0) * (g - b), 2 * r - g - b)) % 360  # hexagon hue
    return float(strong.mean()), int(np.unique((hue // 10).astype(int)).size)


def save_png(rgb: np.ndarray, path: Path) -> None:
    """A minimal PNG writer (RGB, no filter), so no imaging library is needed."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    path.write_bytes(png + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def find_main_window(x: X11) -> int | None:
    """The largest viewable window titled LossViz… (Qt also maps no 1×1 leader window)."""
    best, area = None, 0
    for w in x.all_windows():
        if not x.title(w).startswith("LossViz"):
            continue
        a = x.attributes(w)
        if a.map_state == IS_VIEWABLE and a.width * a.height > area:
            best, area = w, a.width * a.height
    return best


def fail(message: str, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    print(f"check: FAIL: {message}")
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
    if log is not None and log.exists():
        tail = log.read_text(errors="replace").splitlines()[-25:]
        if tail:
            print("check: the app's last output lines:\n  " + "\n  ".join(tail))
    sys.exit(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--exe",
        required=True,
        help="the bundle's LossViz executable (or a command, e.g. 'python3 -m lossviz')",
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the demo")
    parser.add_argument("--shot", default="/tmp/lossviz-bundle-check.png", help="screenshot path")
    args = parser.parse_args()

    x = X11()
    home = Path(tempfile.mkdtemp(prefix="lossviz-check-home-"))  # no user settings leak in
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QT_", "XDG_"))}
    env.update(HOME=str(home), LC_ALL=env.get("LC_ALL", "C.UTF-8"))
    log = home / "app.log"
    start = time.monotonic()
    with log.open("wb") as out:
        command = [args.exe] if os.path.isfile(args.exe) else shlex.split(args.exe)
        proc = subprocess.Popen(command, env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT)
    deadline = start + args.timeout

    window = None
    while window is None:
        if proc.poll() is not None:
            fail(f"the app exited with code {proc.returncode} before showing a window", None, log)
        if time.monotonic() > deadline:
            fail(f"no LossViz window within {args.timeout:.0f} s", proc, log)
        time.sleep(0.5)
        window = find_main_window(x)
    attrs = x.attributes(window)
    print(
        f"check: window {x.title(window)!r} {attrs.width}×{attrs.height} after "
        f"{time.monotonic() - start:.1f} s"
    )
    if attrs.width < 400 or attrs.height < 300:
        fail(f"the window is only {attrs.width}×{attrs.height}", proc, log)

    sizes = icon_sizes(x, window)
    if (16, 16) not in sizes or not any(w >= 64 for w, _ in sizes):
        fail(f"the window has no LossViz icon (_NET_WM_ICON sizes: {sizes})", proc, log)
    print(f"check: window icon sizes {sorted({w for w, _ in sizes})}")

    fraction, hues = 0.0, 0
    while True:
        if proc.poll() is not None:
            fail(f"the app exited with code {proc.returncode} while drawing", None, log)
        rgb = x.capture(window)
        fraction, hues = colourful(rgb)
        if fraction >= 0.03 and hues >= 12:
            break
        if time.monotonic() > deadline:
            save_png(rgb, Path(args.shot))
            fail(
                f"no demo surface drawn within {args.timeout:.0f} s (coloured {fraction:.1%}, "
                f"{hues} hues; screenshot {args.shot})",
                proc,
                log,
            )
        time.sleep(2.0)
    save_png(rgb, Path(args.shot))
    print(
        f"check: demo surface drawn after {time.monotonic() - start:.1f} s "
        f"({fraction:.1%} of the window coloured, {hues} hues); screenshot {args.shot}"
    )

    x.close(window)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        fail("the app did not exit within 60 s of closing its window", proc, log)
    text = log.read_text(errors="replace")
    if code != 0:
        fail(f"the app exited with code {code} after its window was closed", None, log)
    if "Traceback (most recent call last)" in text:
        fail("the app printed a Python traceback", None, log)
    print(f"check: closed cleanly (exit code 0) after {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
