"""``python -m lossviz_core.cli``: the command line without the desktop application."""

import sys

from lossviz_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
