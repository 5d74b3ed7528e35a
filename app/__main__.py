"""Entry point: ``lossviz`` with no arguments opens the window, otherwise the command line.

Handled here, before the dispatch (they need neither the window nor the engine):
``--version``, ``--install-desktop-entry [--prefix DIR]``, ``--uninstall-desktop-entry [--prefix DIR]``.
"""

from __future__ import annotations

import argparse
import os
import sys

PACKAGING_FLAGS = ("--version", "--install-desktop-entry", "--uninstall-desktop-entry")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in PACKAGING_FLAGS:
            return packaging_main(argv)
        if argv and argv[0] not in ("--gui",) and not _is_result_file(argv[0]):
            from lossviz_core.cli import main as cli_main

            return cli_main(argv)
        return main_gui(argv[1:] if argv and argv[0] == "--gui" else argv)
    except KeyboardInterrupt:  # Ctrl-C while torch is still importing: no traceback
        print("\nlossviz: interrupted", file=sys.stderr)
        return 130


def _is_result_file(arg: str) -> bool:
    """``lossviz FILE.h5`` opens the window on the file."""
    return arg.lower().endswith((".h5", ".hdf5")) and os.path.isfile(arg)


def no_display_reason() -> str | None:
    """Why the window cannot open here (Linux without X11/Wayland), or None."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("lossviz: error: no display to open the window on (DISPLAY and WAYLAND_DISPLAY "
            "are unset); run it in a desktop session, under xvfb-run, or use the command "
            "line: lossviz surface --demo --out demo.h5")


def main_gui(argv: list[str] | None = None) -> int:
    reason = no_display_reason()
    if reason:  # Qt would abort the process with a less helpful message
        print(reason, file=sys.stderr)
        return 2
    from lossviz.main_window import run_app

    return run_app(sys.argv[1:] if argv is None else argv)


def packaging_main(argv: list[str]) -> int:
    """``--version`` and the desktop-entry (un)installer; the exit code."""
    from lossviz import __version__

    parser = argparse.ArgumentParser(
        prog="lossviz", description="LossViz: version and desktop menu entry."
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--version", action="store_true", help="print 'LossViz <version>' and exit")
    action.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="add LossViz to the desktop menu (a .desktop launcher and icons)",
    )
    action.add_argument(
        "--uninstall-desktop-entry",
        action="store_true",
        help="remove what --install-desktop-entry wrote",
    )
    parser.add_argument(
        "--prefix",
        metavar="DIR",
        help="data folder to (un)install into (default: $XDG_DATA_HOME or ~/.local/share)",
    )
    args = parser.parse_args(argv)
    if args.version:
        print(f"LossViz {__version__}")
        return 0

    from lossviz.desktop import install_desktop_entry, uninstall_desktop_entry

    from lossviz_core.errors import LossVizError

    try:
        if args.install_desktop_entry:
            paths = install_desktop_entry(args.prefix)
            verb = "installed"
        else:
            paths = uninstall_desktop_entry(args.prefix)
            verb = "removed"
    except LossVizError as err:
        print(f"lossviz: error: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"{verb} {path}")
    if not paths:
        print("nothing to remove: no LossViz desktop entry there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
