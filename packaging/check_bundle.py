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
import ctypes
import ctypes.util
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

Window = ctypes.c_ulong
Atom = ctypes.c_ulong


class XWindowAttributes(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
        ("border_width", ctypes.c_int), ("depth", ctypes.c_int), ("visual", ctypes.c_void_p),
        ("root", Window), ("class_", ctypes.c_int), ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int), ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong), ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int), ("colormap", ctypes.c_ulong), ("map_installed", ctypes.c_int),
        ("map_state", ctypes.c_int), ("all_event_masks", ctypes.c_long),
        ("your_event_mask", ctypes.c_long), ("do_not_propagate_mask", ctypes.c_long),
        ("override_redirect", ctypes.c_int), ("screen", ctypes.c_void_p),
    ]


class XImage(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
        ("format", ctypes.c_int), ("data", ctypes.c_void_p), ("byte_order", ctypes.c_int),
        ("bitmap_unit", ctypes.c_int), ("bitmap_bit_order", ctypes.c_int),
        ("bitmap_pad", ctypes.c_int), ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int),
        ("bits_per_pixel", ctypes.c_int),
    ]


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p), ("window", Window), ("message_type", Atom),
        ("format", ctypes.c_int), ("data", ctypes.c_long * 5),
    ]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", XClientMessageEvent), ("pad", ctypes.c_long * 24)]


IS_VIEWABLE, Z_PIXMAP, CLIENT_MESSAGE, ANY_PROPERTY_TYPE = 2, 2, 33, 0


class X11:
    """The few Xlib calls the check needs."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("X11") or "libX11.so.6"
        x = self.lib = ctypes.CDLL(name)
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultRootWindow.restype = Window
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XInternAtom.restype = Atom
        x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x.XQueryTree.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(Window),
                                 ctypes.POINTER(Window), ctypes.POINTER(ctypes.POINTER(Window)),
                                 ctypes.POINTER(ctypes.c_uint)]
        x.XGetWindowAttributes.argtypes = [ctypes.c_void_p, Window,
                                           ctypes.POINTER(XWindowAttributes)]
        x.XGetWindowProperty.argtypes = [
            ctypes.c_void_p, Window, Atom, ctypes.c_long, ctypes.c_long, ctypes.c_int, Atom,
            ctypes.POINTER(Atom), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_void_p)]
        x.XTranslateCoordinates.argtypes = [
            ctypes.c_void_p, Window, Window, ctypes.c_int, ctypes.c_int,
            ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(Window)]
        x.XGetImage.restype = ctypes.POINTER(XImage)
        x.XGetImage.argtypes = [ctypes.c_void_p, Window, ctypes.c_int, ctypes.c_int,
                                ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
        x.XSendEvent.argtypes = [ctypes.c_void_p, Window, ctypes.c_int, ctypes.c_long,
                                 ctypes.POINTER(XEvent)]
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XFlush.argtypes = [ctypes.c_void_p]
        x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.display = x.XOpenDisplay(None)
        if not self.display:
            raise SystemExit(f"check: cannot open X display {os.environ.get('DISPLAY')!r}")
        self.root = x.XDefaultRootWindow(self.display)

    def atom(self, name: str) -> int:
        return self.lib.XInternAtom(self.display, name.encode(), False)

    def children(self, window: int) -> list[int]:
        root, parent, kids, n = Window(), Window(), ctypes.POINTER(Window)(), ctypes.c_uint()
        if not self.lib.XQueryTree(self.display, window, ctypes.byref(root), ctypes.byref(parent),
                                   ctypes.byref(kids), ctypes.byref(n)):
            return []
        out = [kids[i] for i in range(n.value)]
        if kids:
            self.lib.XFree(kids)
        return out

    def all_windows(self) -> list[int]:
        stack, out = [self.root], []
        while stack:
            w = stack.pop()
            out.append(w)
            stack.extend(self.children(w))
        return out

    def property(self, window: int, name: str) -> tuple[int, bytes | list[int]]:
        """(format, value): bytes for 8-bit properties, a list of ints for 32-bit ones."""
        kind, fmt, n, after = Atom(), ctypes.c_int(), ctypes.c_ulong(), ctypes.c_ulong()
        data = ctypes.c_void_p()
        status = self.lib.XGetWindowProperty(
            self.display, window, self.atom(name), 0, 1 << 24, False, ANY_PROPERTY_TYPE,
            ctypes.byref(kind), ctypes.byref(fmt), ctypes.byref(n), ctypes.byref(after),
            ctypes.byref(data))
        if status != 0 or not data.value:
            return 0, b""
        try:
            if fmt.value == 8:
                return 8, ctypes.string_at(data.value, n.value)
            if fmt.value == 32:  # Xlib returns 32-bit items as C longs
                return 32, list((ctypes.c_ulong * n.value).from_address(data.value))
            return fmt.value, b""
        finally:
            self.lib.XFree(data)

    def title(self, window: int) -> str:
        for name in ("_NET_WM_NAME", "WM_NAME"):
            fmt, value = self.property(window, name)
            if fmt == 8 and value:
                return value.decode("utf-8", "replace")
        return ""

    def attributes(self, window: int) -> XWindowAttributes:
        attrs = XWindowAttributes()
        self.lib.XGetWindowAttributes(self.display, window, ctypes.byref(attrs))
        return attrs

    def capture(self, window: int) -> np.ndarray:
        """The window's pixels as seen on screen (GL content included), RGB uint8 (h, w, 3)."""
        attrs = self.attributes(window)
        x, y, child = ctypes.c_int(), ctypes.c_int(), Window()
        self.lib.XTranslateCoordinates(self.display, window, self.root, 0, 0, ctypes.byref(x),
                                       ctypes.byref(y), ctypes.byref(child))
        image = self.lib.XGetImage(self.display, self.root, x.value, y.value, attrs.width,
                                   attrs.height, ~0 & 0xFFFFFFFF, Z_PIXMAP)
        if not image:
            raise RuntimeError("XGetImage failed")
        img = image.contents
        if img.bits_per_pixel != 32:
            raise SystemExit(f"check: expected a 24/32-bit screen, got {img.bits_per_pixel} bpp")
        raw = ctypes.string_at(img.data, img.bytes_per_line * img.height)
        rows = np.frombuffer(raw, np.uint8).reshape(img.height, img.bytes_per_line)
        bgrx = rows[:, : img.width * 4].reshape(img.height, img.width, 4)
        return bgrx[:, :, 2::-1].copy()  # little-endian TrueColor: B, G, R, X

    def close(self, window: int) -> None:
        """Send WM_DELETE_WINDOW, as a window manager's close button does."""
        event = XEvent()
        event.xclient.type = CLIENT_MESSAGE
        event.xclient.window = window
        event.xclient.message_type = self.atom("WM_PROTOCOLS")
        event.xclient.format = 32
        event.xclient.data[0] = self.atom("WM_DELETE_WINDOW")
        event.xclient.data[1] = 0  # CurrentTime
        self.lib.XSendEvent(self.display, window, False, 0, ctypes.byref(event))
        self.lib.XSync(self.display, False)


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
    c = chroma[strong]
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
        print("check: the app's last output lines:\n  " + "\n  ".join(tail))
    sys.exit(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exe", required=True,
                        help="the bundle's LossViz executable (or a command, e.g. 'python3 -m lossviz')")
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
    print(f"check: window {x.title(window)!r} {attrs.width}×{attrs.height} after "
          f"{time.monotonic() - start:.1f} s")
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
            fail(f"no demo surface drawn within {args.timeout:.0f} s (coloured {fraction:.1%}, "
                 f"{hues} hues; screenshot {args.shot})", proc, log)
        time.sleep(2.0)
    save_png(rgb, Path(args.shot))
    print(f"check: demo surface drawn after {time.monotonic() - start:.1f} s "
          f"({fraction:.1%} of the window coloured, {hues} hues); screenshot {args.shot}")

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
