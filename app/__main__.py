"""Entry point: ``lossviz`` with no arguments opens the window, otherwise the command line."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] not in ("--gui",):
        from lossviz_core.cli import main as cli_main

        return cli_main(argv)
    return main_gui(argv[1:] if argv else [])


def main_gui(argv: list[str] | None = None) -> int:
    from lossviz.main_window import run_app

    return run_app(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
