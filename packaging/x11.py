"""The few Xlib calls packaging/check_bundle.py needs, through ctypes (no xdotool, no wmctrl).

Find windows by title, read their properties and pixels, and close them the way a window
manager's close button does (WM_DELETE_WINDOW), on any X server, Xvfb included.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import numpy as np

Window = ctypes.c_ulong
Atom = ctypes.c_ulong


class XWindowAttributes(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("border_width", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("visual", ctypes.c_void_p),
        ("root", Window),
        ("class_", ctypes.c_int),
        ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int),
        ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong),
        ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int),
        ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int),
        ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long),
        ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long),
        ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


class XImage(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("xoffset", ctypes.c_int),
        ("format", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("byte_order", ctypes.c_int),
        ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int),
        ("bitmap_pad", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int),
        ("bits_per_pixel", ctypes.c_int),
    ]


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", Window),
        ("message_type", Atom),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
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
        x.XQueryTree.argtypes = [
            ctypes.c_void_p,
            Window,
            ctypes.POINTER(Window),
            ctypes.POINTER(Window),
            ctypes.POINTER(ctypes.POINTER(Window)),
            ctypes.POINTER(ctypes.c_uint),
        ]
        x.XGetWindowAttributes.argtypes = [
            ctypes.c_void_p,
            Window,
            ctypes.POINTER(XWindowAttributes),
        ]
        x.XGetWindowProperty.argtypes = [
            ctypes.c_void_p,
            Window,
            Atom,
            ctypes.c_long,
            ctypes.c_long,
            ctypes.c_int,
            Atom,
            ctypes.POINTER(Atom),
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_void_p),
        ]
        x.XTranslateCoordinates.argtypes = [
            ctypes.c_void_p,
            Window,
            Window,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(Window),
        ]
        x.XGetImage.restype = ctypes.POINTER(XImage)
        x.XGetImage.argtypes = [
            ctypes.c_void_p,
            Window,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_ulong,
            ctypes.c_int,
        ]
        x.XSendEvent.argtypes = [
            ctypes.c_void_p,
            Window,
            ctypes.c_int,
            ctypes.c_long,
            ctypes.POINTER(XEvent),
        ]
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
        if not self.lib.XQueryTree(
            self.display,
            window,
            ctypes.byref(root),
            ctypes.byref(parent),
            ctypes.byref(kids),
            ctypes.byref(n),
        ):
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
            self.display,
            window,
            self.atom(name),
            0,
            1 << 24,
            False,
            ANY_PROPERTY_TYPE,
            ctypes.byref(kind),
            ctypes.byref(fmt),
            ctypes.byref(n),
            ctypes.byref(after),
            ctypes.byref(data),
        )
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
        self.lib.XTranslateCoordinates(
            self.display,
            window,
            self.root,
            0,
            0,
            ctypes.byref(x),
            ctypes.byref(y),
            ctypes.byref(child),
        )
        image = self.lib.XGetImage(
            self.display,
            self.root,
            x.value,
            y.value,
            attrs.width,
            attrs.height,
            ~0 & 0xFFFFFFFF,
            Z_PIXMAP,
        )
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
